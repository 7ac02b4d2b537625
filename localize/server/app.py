"""``localize serve``: the analysis over HTTP (FastAPI on uvicorn) and the viewer at ``/``.

Each uvicorn worker process loads the model once (one onnxruntime session) and runs
jobs in its own bounded pool; job state and results live in the shared results
folder (see :mod:`localize.server.jobs`), so any worker or host answers for any job.
"""
from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import re
import socket
import time
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from .. import __version__
from ..errors import InputError
from . import metrics as prom
from .auth import check_bearer
from .config import SETTINGS_ENV, TOKEN_ENV, ServerSettings
from .jobs import DONE, AnalyzeFn, Housekeeper, JobExpired, JobPool, JobStore, QueueFull, parse_job_id, worker_id
from .upload import UploadError, check_media, receive_upload

log = logging.getLogger("localize.server")

# Output files a job may have, by the name clients use (fixed names, never from a request).
ARTIFACTS = {"overlay.mp4": "video/mp4", "timeline.png": "image/png", "contact_sheet.png": "image/png",
             "report.json": "application/json"}
FRAME_NAME = re.compile(r"^(\d{1,9})\.png$")
MAX_FRAMES_OPTION = 10000
HEALTHCHECK_TIMEOUT_S = 120  # uvicorn supervisor's ping timeout for worker processes
# The viewer loads nothing from elsewhere; blob: for the local original and token-fetched media.
VIEWER_CSP = (b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
              b"media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
              b"frame-ancestors 'none'; form-action 'none'")


@dataclass
class ServerState:
    settings: ServerSettings
    store: JobStore
    pool: JobPool
    metrics: prom.Metrics
    housekeeper: Housekeeper
    model_info: dict[str, Any]
    ready: bool = False


def find_viewer(override: str | None = None) -> Path | None:
    """The viewer folder: an explicit one, else ``localize/viewer`` (package data, so a
    pip-installed server has it too; a top-level ``viewer/`` of a checkout is a fallback)."""
    here = Path(__file__).resolve()
    for cand in ([Path(override)] if override else []) + [here.parents[1] / "viewer", here.parents[2] / "viewer"]:
        if (cand / "index.html").is_file():
            return cand
    return None


def default_analyze(settings: ServerSettings) -> tuple[AnalyzeFn, dict[str, Any]]:
    """Load the model once for this process (one onnxruntime session; a .pt checkpoint is
    exported once to the ONNX cache) and wrap ``localize.analyze.analyze_path``."""
    import threading

    from ..analyze import analyze_path, open_localizer

    threads = settings.threads or max(1, (os.cpu_count() or 1))
    localizer = open_localizer(settings.model, backend="onnx", threads=threads)
    info = dict(model_id=localizer.model_id, sha256=localizer.sha256, backend=localizer.backend,
                file=Path(localizer.path).name, calibrated=bool(localizer.calibration),
                target=localizer.target)  # what the heatmaps mean (localize.targets)
    local = threading.local()  # one face detector per runner thread (dlib objects are not shared)

    def run(input_path: Path, out_dir: Path, status: dict[str, Any], progress) -> dict[str, Any] | None:
        from ..faces import FaceAnalyzer

        options = analyze_options(status.get("options") or {})
        if getattr(local, "analyzer", None) is None:
            local.analyzer = FaceAnalyzer(detect_side=options.detect_side)
        identity = None
        person = (status.get("options") or {}).get("person")
        if person:  # loaded per job (milliseconds), so a re-enrolled profile is used at once
            from ..identity.check import IdentityCheck

            if getattr(local, "identity_analyzer", None) is None:  # the identity features' own detector
                local.identity_analyzer = FaceAnalyzer()
            identity = IdentityCheck(person, settings.profiles_dir, settings.feature_cache, local.identity_analyzer)
        analyze_path(input_path, out_dir, localizer=localizer, options=options,
                     progress=stage_progress(progress), analyzer=local.analyzer, identity=identity)
        return finish_report(out_dir, status, localizer)

    return run, info


def analyze_options(opts: dict[str, Any]):
    """The request's frame selection as AnalyzeOptions: ``frames`` N evenly spaced, or
    ``every`` n-th frame; the analysis default (32 evenly spaced) otherwise."""
    from ..analyze import AnalyzeOptions

    if opts.get("every"):
        return AnalyzeOptions(frames="every", every=int(opts["every"]))
    if opts.get("frames"):
        return AnalyzeOptions(frames="count", count=int(opts["frames"]))
    return AnalyzeOptions()


# Share of the job's progress bar each analysis stage fills (faces, then model+overlay, then the
# identity check when one was asked for, then files).
STAGES = {"faces": (0.0, 0.45), "model": (0.45, 0.9), "identity": (0.9, 0.95), "write": (0.95, 1.0)}


def stage_progress(progress):
    """Adapt analyze's ``progress(stage, done, total)`` to one monotone fraction."""
    def cb(stage: str, done: int, total: int) -> None:
        lo, hi = STAGES.get(stage, (0.0, 1.0))
        progress(lo + (hi - lo) * (done / total if total else 1.0), stage)
    return cb


def finish_report(out_dir: Path, status: dict[str, Any], localizer) -> dict[str, Any] | None:
    """Replace server-side paths in report.json by the client's file name and the model's
    file name (clients need not learn the server's layout); return headline fields."""
    from ..fileio import write_json

    path = out_dir / "report.json"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    name = (status.get("input") or {}).get("filename") or "upload"
    if isinstance(report.get("input"), dict):
        report["input"]["path"] = name
        report["input"]["name"] = name
    if isinstance(report.get("model"), dict) and report["model"].get("path"):
        report["model"]["path"] = Path(report["model"]["path"]).name
    ident = report.get("identity")
    if isinstance(ident, dict):
        if ident.get("video"):
            ident["video"] = name
        if isinstance(ident.get("profile"), dict) and ident["profile"].get("path"):
            ident["profile"]["path"] = Path(ident["profile"]["path"]).name
    write_json(path, report)
    return _summary(report)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """A few headline fields for the status (the full report is served once done)."""
    video = report.get("video") if isinstance(report.get("video"), dict) else report
    out = {k: video.get(k) for k in ("status", "decision", "probability", "score") if k in video}
    ident = report.get("identity")
    if isinstance(ident, dict):
        out["identity"] = {"person": ident.get("person"), "decision": ident.get("decision"),
                           "status": ident.get("status")}
    return out


def create_app(settings: ServerSettings, *, analyze: AnalyzeFn | None = None,
               model_info: dict[str, Any] | None = None) -> FastAPI:
    """The ASGI app. ``analyze`` replaces the model-backed analysis (tests use it to
    hold jobs in the queue); by default each process loads ``settings.model``."""
    settings.results_path.mkdir(parents=True, exist_ok=True)
    viewer = find_viewer(settings.viewer_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store = JobStore(settings.results_path, settings.ttl_s, settings.stale_worker_s)
        metrics = prom.Metrics()
        fn, info = (analyze, model_info or {}) if analyze is not None else default_analyze(settings)
        pool = JobPool(store, fn, queue_size=settings.queue_size, concurrency=settings.concurrency,
                       on_finish=metrics.job_finished)
        state_holder: dict[str, ServerState] = {}

        def snapshot() -> dict[str, Any]:
            st = state_holder.get("s")
            return dict(host=socket.gethostname(), pid=os.getpid(), metrics=metrics.snapshot(),
                        queue_depth=pool.depth, running=pool.running, ready=bool(st and st.ready))

        hk = Housekeeper(store, snapshot, sweep_s=min(60.0, max(0.5, settings.ttl_s / 4)))
        state = ServerState(settings, store, pool, metrics, hk, info)
        state_holder["s"] = state
        app.state.server = state
        pool.start()
        hk.start()
        state.ready = True
        log.info("localize server ready: model %s, results in %s", info.get("model_id"), store.root)
        try:
            yield
        finally:
            state.ready = False
            pool.shutdown()
            hk.stop()

    swagger = _swagger_assets()
    app = FastAPI(title="localize", version=__version__, lifespan=lifespan,
                  docs_url=None if swagger else "/docs", redoc_url=None,
                  description="Localize face manipulations in video: upload a video or image, poll the job, "
                              "then fetch the report, the heatmap overlay and the key frames.")
    app.add_middleware(_MetricsMiddleware)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)

    def srv(request: Request) -> ServerState:
        return request.app.state.server

    def auth(request: Request) -> None:
        check_bearer(request, settings.token)

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(auth)], tags=["analysis"])

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process answers")
    def healthz(request: Request):
        return {"status": "ok", "version": __version__, "worker": worker_id(), "auth": bool(settings.token)}

    @app.get("/readyz", tags=["ops"], summary="Readiness: model loaded, job runner alive, results folder writable")
    def readyz(request: Request):
        s = srv(request)
        problems = []
        if not s.ready:
            problems.append("starting or stopping")
        if not s.pool.alive():
            problems.append("job runner not running")
        if not os.access(s.store.root, os.W_OK):
            problems.append("results folder not writable")
        body = {"ready": not problems, "problems": problems, "model": s.model_info,
                "queue_depth": s.pool.depth, "queue_size": settings.queue_size, "running": s.pool.running}
        return JSONResponse(body, status_code=200 if not problems else 503)

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics (text exposition format)",
             response_class=PlainTextResponse)
    def metrics_route(request: Request):
        s = srv(request)
        text = prom.render(s.metrics.snapshot(), worker_id(), s.store.workers(), queue_depth=s.pool.depth,
                           running=s.pool.running, job_states=s.store.states(), ready=s.ready)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @v1.post("/analyze", status_code=202, summary="Upload a video or image for analysis; returns a job id",
             responses={202: {"description": "Job accepted"}, 401: {"description": "Missing or wrong token"},
                        413: {"description": "Upload, frame size or duration over the limit"},
                        415: {"description": "Not a decodable video or image"},
                        503: {"description": "Queue full (see Retry-After) or not ready"}},
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"], "properties": {
                     "file": {"type": "string", "format": "binary", "description": "the video or image"},
                     "frames": {"type": "integer", "description": "analyse N evenly spaced frames"},
                     "every": {"type": "integer", "description": "analyse every n-th frame (1 = all)"},
                     "person": {"type": "string", "description": "also score the file against this enrolled "
                                "person's identity profile (GET /v1/profiles lists them); the report gains "
                                "`identity`, beside the localizer's verdict, never fused"}}}}}}})
    async def analyze_route(request: Request):
        s = srv(request)
        if not s.ready:
            raise HTTPException(503, "the server is starting or stopping", headers={"Retry-After": "5"})
        if not s.pool.has_room():
            s.metrics.rejected_upload("queue_full")
            raise HTTPException(503, "the job queue is full; retry later",
                                headers={"Retry-After": str(s.pool.retry_after())})
        job_id = s.store.new_id()
        part = s.store.upload_path(job_id)
        job_dir = s.store.job_dir(job_id)
        try:
            upload = await receive_upload(request.headers, request.stream(), part, settings.max_upload_bytes)
            options = _parse_options(upload.fields, settings.profiles_dir)
            # probing demuxes the whole file: keep it off the event loop
            stored, media = await run_in_threadpool(check_media, upload, job_dir,
                                                    max_duration_s=settings.max_duration_s,
                                                    max_pixels=settings.max_pixels)
        except UploadError as e:
            _discard(part, job_dir)
            s.metrics.rejected_upload({413: "too_large", 415: "unsupported"}.get(e.status, "bad_request"))
            raise HTTPException(e.status, e.detail) from None
        except BaseException:
            _discard(part, job_dir)
            raise
        s.store.create(job_id, {"input": {"filename": upload.filename, "size": upload.size,
                                          "stored_as": stored.name, "media": asdict(media)},
                                "options": options})
        try:
            s.pool.submit(job_id)
        except QueueFull as e:
            s.store.delete(job_id)
            s.metrics.rejected_upload("queue_full")
            raise HTTPException(503, "the job queue is full; retry later",
                                headers={"Retry-After": str(e.retry_after)}) from None
        s.metrics.job_submitted()
        url = f"{_root(request)}/v1/jobs/{job_id}"
        return JSONResponse({"id": job_id, "state": "queued", "status_url": url}, status_code=202,
                            headers={"Location": url})

    @v1.get("/profiles", summary="The people enrolled for identity checks (`localize enroll`) on this server")
    def profiles_route(request: Request):
        from ..identity.profile import list_profiles

        if not settings.profiles_dir:
            return {"enabled": False, "people": []}
        return {"enabled": True, "people": list_profiles(settings.profiles_dir)}

    def _job(request: Request, job_id: str) -> tuple[ServerState, str, dict[str, Any]]:
        s = srv(request)
        jid = parse_job_id(job_id)
        if jid is None:
            raise HTTPException(422, "job id must be a UUID like 123e4567-e89b-42d3-a456-426614174000")
        try:
            status = s.store.get(jid)
        except JobExpired as e:
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e.expired_at)) if e.expired_at else "earlier"
            raise HTTPException(410, f"job {jid} expired at {when}; results are kept {settings.ttl_s:g} s") from None
        if status is None:
            raise HTTPException(404, f"no job {jid}")
        return s, jid, status

    @v1.get("/jobs/{job_id}", summary="Job status and progress; the full report once done",
            responses={404: {"description": "Unknown job"}, 410: {"description": "Job expired"},
                       422: {"description": "Not a UUID"}})
    def job_route(request: Request, job_id: str):
        s, jid, status = _job(request, job_id)
        body = _public_status(status)
        if status["state"] == DONE:
            out = s.store.out_dir(jid)
            body["links"] = _links(jid, out, _root(request))
            try:
                body["report"] = json.loads((out / "report.json").read_text(encoding="utf-8"))
            except FileNotFoundError:
                body["report"] = None
        return body

    @v1.delete("/jobs/{job_id}", summary="Delete a finished job's results now", status_code=204)
    def delete_route(request: Request, job_id: str):
        s, jid, status = _job(request, job_id)
        if status["state"] != DONE and status["state"] != "failed":
            raise HTTPException(409, "the job is still queued or running")
        s.store.delete(jid, tombstone=True)
        return Response(status_code=204)

    def _artifact(request: Request, job_id: str, name: str):
        s, jid, status = _job(request, job_id)
        if status["state"] != DONE:
            raise HTTPException(409 if status["state"] != "failed" else 404,
                                f"job {jid} is {status['state']}; results exist once it is done")
        path = s.store.out_dir(jid) / name
        if not path.is_file():
            raise HTTPException(404, f"job {jid} has no {name}")
        return FileResponse(path, media_type=ARTIFACTS[name])

    @v1.get("/jobs/{job_id}/overlay.mp4", summary="The heatmap overlay video (H.264)", response_class=FileResponse)
    def overlay_route(request: Request, job_id: str):
        return _artifact(request, job_id, "overlay.mp4")

    @v1.get("/jobs/{job_id}/timeline.png", summary="Per-frame score plot with the threshold", response_class=FileResponse)
    def timeline_route(request: Request, job_id: str):
        return _artifact(request, job_id, "timeline.png")

    @v1.get("/jobs/{job_id}/contact_sheet.png", summary="Contact sheet of the most suspicious frames",
            response_class=FileResponse)
    def contact_route(request: Request, job_id: str):
        return _artifact(request, job_id, "contact_sheet.png")

    @v1.get("/jobs/{job_id}/report.json", summary="The report as a file (same as `localize analyze`)",
            response_class=FileResponse)
    def report_route(request: Request, job_id: str):
        return _artifact(request, job_id, "report.json")

    @v1.get("/jobs/{job_id}/frames/{n}.png", summary="A key frame with its heatmap", response_class=FileResponse,
            responses={422: {"description": "n is not a frame number"}})
    def frame_route(request: Request, job_id: str, n: str):
        if not n.isdigit() or len(n) > 9:
            raise HTTPException(422, "frame number must be a non-negative integer")
        s, jid, status = _job(request, job_id)
        if status["state"] != DONE:
            raise HTTPException(409, f"job {jid} is {status['state']}; results exist once it is done")
        frames = _frame_files(s.store.out_dir(jid))
        if int(n) not in frames:
            raise HTTPException(404, f"frame {int(n)} has no key frame image; key frames: {sorted(frames)[:50]}")
        return FileResponse(frames[int(n)], media_type="image/png")

    app.include_router(v1)

    if swagger is not None:  # the API docs from local files: the browser fetches nothing elsewhere
        from fastapi.openapi.docs import get_swagger_ui_html

        app.mount("/docs-assets", StaticFiles(directory=swagger), name="docs-assets")

        @app.get("/docs", include_in_schema=False)
        def docs():
            return get_swagger_ui_html(openapi_url="/openapi.json", title="localize API",
                                       swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                       swagger_css_url="/docs-assets/swagger-ui.css",
                                       swagger_favicon_url="/docs-assets/favicon-32x32.png")

    if viewer is not None:
        app.mount("/static", StaticFiles(directory=viewer), name="viewer")

        @app.get("/", include_in_schema=False)
        def index():
            return FileResponse(viewer / "index.html", media_type="text/html")
    else:
        @app.get("/", include_in_schema=False)
        def index_missing():
            return PlainTextResponse("the viewer files are not installed; the API is at /docs", status_code=404)

    return app


def _swagger_assets() -> Path | None:
    """Swagger UI's files from the swagger-ui-bundle package, when installed (else FastAPI's
    default /docs page, which makes the browser load them from a CDN)."""
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    p = Path(swagger_ui_bundle.swagger_ui_path)
    return p if (p / "swagger-ui-bundle.js").is_file() else None


def _parse_options(fields: dict[str, str], profiles_dir: str | None = None) -> dict[str, Any]:
    """Frame selection from the form: ``frames`` (N evenly spaced) or ``every`` (n-th); and
    ``person``, an enrolled identity profile to score the file against."""
    out: dict[str, Any] = {}
    person = fields.get("person", "").strip()
    if person:
        from ..identity.profile import list_profiles

        if not profiles_dir:
            raise UploadError(422, "this server has no identity profiles (start it with --profiles DIR)")
        known = list_profiles(profiles_dir)
        if person not in known:
            raise UploadError(422, f"no identity profile for {person!r} on this server"
                                   + (f" (enrolled: {', '.join(known)})" if known else " (none enrolled)"))
        out["person"] = person
    for name in ("frames", "every"):
        raw = fields.get(name, "").strip()
        if not raw:
            continue
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_FRAMES_OPTION:
            raise UploadError(422, f"'{name}' must be an integer from 1 to {MAX_FRAMES_OPTION}")
        out[name] = int(raw)
    if "frames" in out and "every" in out:
        raise UploadError(422, "give either 'frames' or 'every', not both")
    return out


def _discard(part: Path, job_dir: Path) -> None:
    import shutil

    part.unlink(missing_ok=True)
    shutil.rmtree(job_dir, ignore_errors=True)


def _public_status(status: dict[str, Any]) -> dict[str, Any]:
    keep = ("id", "state", "progress", "stage", "created", "started", "finished", "expires_at", "error",
            "options", "summary", "took_s")
    body = {k: status.get(k) for k in keep}
    inp = dict(status.get("input") or {})
    inp.pop("stored_as", None)
    body["input"] = inp
    return body


def _frame_files(out: Path) -> dict[int, Path]:
    d = out / "frames"
    found: dict[int, Path] = {}
    if d.is_dir():
        for p in d.iterdir():
            m = FRAME_NAME.match(p.name)
            if m:
                found[int(m.group(1))] = p
    return found


def _root(request: Request) -> str:
    """The path the server is mounted under behind a proxy (``serve --root-path``), so the
    URLs it hands out work from the client's side too."""
    return str(request.scope.get("root_path") or "").rstrip("/")


def _links(jid: str, out: Path, root: str = "") -> dict[str, Any]:
    base = f"{root}/v1/jobs/{jid}"
    links: dict[str, Any] = {"self": base}
    for name in ARTIFACTS:
        if (out / name).is_file():
            links[name.split(".")[0]] = f"{base}/{name}"
    links["frames"] = {str(n): f"{base}/frames/{n}.png" for n in sorted(_frame_files(out))}
    return links


class _MetricsMiddleware:
    """Counts requests and latencies by route template and adds the security headers
    (nosniff everywhere, a strict CSP on the viewer page). Pure ASGI, so uploads stay streamed."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = [500]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                if scope.get("path") == "/":
                    headers.append((b"content-security-policy", VIEWER_CSP))
                    headers.append((b"x-frame-options", b"DENY"))
                message = dict(message, headers=headers)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None)
            if path is None:
                path = "/static" if scope.get("path", "").startswith("/static/") else "unmatched"
            state = getattr(scope.get("app"), "state", None)
            server = getattr(state, "server", None) if state is not None else None
            if server is not None:
                server.metrics.observe_request(scope.get("method", "GET"), path, status[0], time.perf_counter() - t0)


# ----- CLI ------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None, help="exported model (.onnx; a .pt checkpoint also works); "
                                                       "default: the shipped model")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1,
                        help="uvicorn worker processes, each with its own model session and job pool")
    parser.add_argument("--token", default=None,
                        help=f"bearer token required on /v1 routes (default: ${TOKEN_ENV}; unset = no auth)")
    parser.add_argument("--results-dir", default="localize-results",
                        help="job state and results, shared by all workers (use a shared filesystem across hosts)")
    parser.add_argument("--max-upload-mb", type=float, default=200.0, help="upload size limit (default 200; 413 above)")
    parser.add_argument("--max-duration-s", type=float, default=120.0,
                        help="longest video accepted, in seconds (default 120; 413 above)")
    parser.add_argument("--ttl-s", type=float, default=3600.0, help="results are deleted this long after a job ends (default 3600)")
    parser.add_argument("--queue-size", type=int, default=8, help="jobs that may wait per worker process (default 8; 503 + Retry-After when full)")
    parser.add_argument("--threads", type=int, default=None, help="inference threads per worker (default: cores / workers)")
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help="allow cross-origin calls from ORIGIN (repeatable; default: none)")
    parser.add_argument("--root-path", default="",
                        help="the path prefix a reverse proxy serves this under (e.g. /localize), so job URLs "
                             "and the Location header include it")
    parser.add_argument("--profiles", default=None, metavar="DIR",
                        help="identity profiles folder (`localize enroll --profiles DIR`): uploads may then name a "
                             "person to score the file against (default: no identity checks)")
    parser.add_argument("--feature-cache", default=None, metavar="DIR",
                        help="identity feature cache (default ~/.cache/localize/features)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    if args.workers < 1:
        raise InputError(None, "--workers must be at least 1")
    if args.queue_size < 0 or args.max_upload_mb <= 0 or args.max_duration_s <= 0 or args.ttl_s <= 0:
        raise InputError(None, "--queue-size must be >= 0; --max-upload-mb, --max-duration-s, --ttl-s > 0")
    model = args.model
    if model is not None and not Path(model).is_file():
        raise InputError(model, "model file not found")
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    if args.profiles is not None and not Path(args.profiles).is_dir():
        raise InputError(args.profiles, "no such profiles folder (enrol people first: localize enroll --profiles DIR)")
    return ServerSettings(model=str(Path(model).resolve()) if model else None,
                          profiles_dir=str(Path(args.profiles).resolve()) if args.profiles else None,
                          feature_cache=str(Path(args.feature_cache).resolve()) if args.feature_cache else None,
                          results_dir=str(Path(args.results_dir).resolve()),
                          token=args.token or os.environ.get(TOKEN_ENV) or None,
                          max_upload_mb=args.max_upload_mb, max_duration_s=args.max_duration_s, ttl_s=args.ttl_s,
                          queue_size=args.queue_size, threads=threads, cors_origins=list(args.cors_origin))


def app_from_env() -> FastAPI:
    """uvicorn factory for worker processes: settings come through the environment."""
    return create_app(ServerSettings.from_env())


def run(args: argparse.Namespace) -> int:
    import uvicorn

    settings = settings_from_args(args)
    if settings.model is None:
        from ..model import DEFAULT_MODEL

        if not DEFAULT_MODEL.exists():
            raise InputError(DEFAULT_MODEL, "the shipped default model is missing; pass --model M.onnx")
    # Load the model once before any worker starts: a bad file is one clear error line here,
    # not a traceback per worker, and a .pt checkpoint is exported to the ONNX cache once.
    from ..analyze import open_localizer

    check = open_localizer(settings.model, backend="onnx", threads=1)
    log.info("model %s (%s) loads", check.model_id, check.sha256[:12])
    del check
    os.environ[SETTINGS_ENV] = settings.to_env()
    if args.host not in ("127.0.0.1", "localhost", "::1") and not settings.token:
        print(f"localize serve: warning: listening on {args.host} without a token (set --token or ${TOKEN_ENV})")
    print(f"localize serve: http://{args.host}:{args.port}/ (API docs at /docs), results in {settings.results_dir}")
    kwargs: dict[str, Any] = {}
    if args.workers > 1 and "timeout_worker_healthcheck" in inspect.signature(uvicorn.run).parameters:
        # uvicorn's supervisor kills a worker that misses a 5 s ping; a worker busy with an
        # analysis on a loaded machine can miss it, and killing it would lose its jobs
        kwargs["timeout_worker_healthcheck"] = HEALTHCHECK_TIMEOUT_S
    uvicorn.run("localize.server.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, proxy_headers=False, root_path=args.root_path,
                **kwargs)
    return 0
