"""HTTP API of `localize serve`: every route and each error path.

Most tests hold the analysis in a stand-in (so queue-full and expiry can be staged
exactly); `test_real_analysis_*` runs the real pipeline with a small random model on
the real carphone clip and checks the job's report is the one `analyze_path` writes.
"""
from __future__ import annotations

import importlib.util
import io
import json
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from localize.server.app import create_app  # noqa: E402
from localize.server.config import ServerSettings  # noqa: E402
from localize.server.jobs import JobStore, parse_job_id  # noqa: E402
from localize.server.upload import display_name, sniff  # noqa: E402


class StandIn:
    """An analysis stand-in: reports progress, writes the artefacts a real job writes,
    and can be held on an event so jobs pile up in the queue."""

    def __init__(self, hold: bool = False, fail: Exception | None = None):
        self.gate = threading.Event()
        if not hold:
            self.gate.set()
        self.fail = fail
        self.started = threading.Event()
        self.calls: list[Path] = []

    def __call__(self, input_path: Path, out_dir: Path, status: dict, progress) -> dict:
        from localize.video import write_image, write_video

        assert input_path.exists()
        self.calls.append(input_path)
        progress(0.2, "faces")
        self.started.set()
        assert self.gate.wait(30)
        if self.fail:
            raise self.fail
        out_dir.mkdir(parents=True, exist_ok=True)
        frames = [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(4)]
        write_video(out_dir / "overlay.mp4", frames, 4.0)
        write_image(out_dir / "timeline.png", frames[1])
        write_image(out_dir / "frames" / "2.png", frames[2])
        report = {"video": {"status": "ok", "decision": "real", "probability": 0.02, "score": 0.0},
                  "frames": [{"index": i, "score": 0.0} for i in range(4)], "tracks": []}
        (out_dir / "report.json").write_text(json.dumps(report))
        return {"decision": "real"}


def make_client(tmp_path: Path, analyze=None, **kw) -> TestClient:
    settings = ServerSettings(results_dir=str(tmp_path / "results"), **kw)
    app = create_app(settings, analyze=analyze or StandIn(), model_info={"model_id": "stand-in"})
    return TestClient(app)


def post_file(client, path: Path | None = None, data: bytes | None = None, name="clip.mp4", headers=None,
              fields=None):
    body = data if data is not None else path.read_bytes()
    return client.post("/v1/analyze", files={"file": (name, io.BytesIO(body), "application/octet-stream")},
                       data=fields or {}, headers=headers or {})


def wait_state(client, job_id, states=("done", "failed"), timeout=30.0, headers=None):
    t0 = time.time()
    while time.time() - t0 < timeout:
        j = client.get(f"/v1/jobs/{job_id}", headers=headers or {}).json()
        if j.get("state") in states:
            return j
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not reach {states}: {j}")


def leftovers(root: Path) -> list[str]:
    """Anything a finished or refused upload may have left behind."""
    out = [p.name for p in (root / ".uploads").iterdir()]
    out += [p.name for p in root.iterdir() if p.name.startswith(".trash-")]
    return out


@pytest.fixture
def png_bytes():
    import cv2

    from localize.media import astronaut_image

    ok, buf = cv2.imencode(".png", cv2.cvtColor(astronaut_image(), cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


# ----- the happy path: every route -------------------------------------------------------

def test_video_job_lifecycle_and_every_route(tmp_path, carphone):
    stand_in = StandIn()
    with make_client(tmp_path, stand_in) as c:
        assert c.get("/healthz").json()["status"] == "ok"
        ready = c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        r = post_file(c, carphone, name="../../etc/passwd.mp4")
        assert r.status_code == 202, r.text
        jid = r.json()["id"]
        assert parse_job_id(jid) == jid and uuid.UUID(jid).version == 4
        assert r.headers["location"] == f"/v1/jobs/{jid}"
        j = wait_state(c, jid)
        assert j["state"] == "done" and j["progress"] == 1.0
        assert j["input"]["filename"] == "passwd.mp4"  # the client's name is a display string only
        assert "stored_as" not in j["input"] and "worker" not in j
        assert j["input"]["media"]["n_frames"] == 120 and j["input"]["media"]["kind"] == "video"
        assert j["report"]["video"]["decision"] == "real"
        # the server stored the upload under its own name, then deleted it after the job
        assert stand_in.calls[0].name == "input.mp4"
        assert not stand_in.calls[0].exists()
        links = j["links"]
        ov = c.get(links["overlay"])
        assert ov.status_code == 200 and ov.headers["content-type"] == "video/mp4" and ov.content[4:8] == b"ftyp"
        # range requests let the browser seek in the overlay
        part = c.get(links["overlay"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100
        tl = c.get(links["timeline"])
        assert tl.status_code == 200 and tl.content.startswith(b"\x89PNG")
        assert links["frames"] == {"2": f"/v1/jobs/{jid}/frames/2.png"}
        fr = c.get(f"/v1/jobs/{jid}/frames/2.png")
        assert fr.status_code == 200 and fr.content.startswith(b"\x89PNG")
        rep = c.get(links["report"])
        assert rep.status_code == 200 and rep.json() == j["report"]
        assert c.delete(f"/v1/jobs/{jid}").status_code == 204
        assert c.get(f"/v1/jobs/{jid}").status_code == 410
        assert not (tmp_path / "results" / jid).exists()
        assert leftovers(tmp_path / "results") == []


def test_image_upload_is_accepted(tmp_path, png_bytes):
    with make_client(tmp_path) as c:
        r = post_file(c, data=png_bytes, name="photo")
        assert r.status_code == 202, r.text
        j = wait_state(c, r.json()["id"])
        assert j["input"]["media"]["kind"] == "image" and j["input"]["media"]["width"] == 512


def test_frame_options_are_validated(tmp_path, carphone):
    with make_client(tmp_path) as c:
        r = post_file(c, carphone, fields={"frames": "16"})
        assert r.status_code == 202
        assert wait_state(c, r.json()["id"])["options"] == {"frames": 16}
        for bad in ({"frames": "-3"}, {"every": "x"}, {"frames": "8", "every": "2"}):
            r = post_file(c, carphone, fields=bad)
            assert r.status_code == 422, (bad, r.text)
        assert leftovers(tmp_path / "results") == []


def test_openapi_docs_and_viewer(tmp_path):
    with make_client(tmp_path) as c:
        spec = c.get("/openapi.json").json()
        for path in ("/v1/analyze", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/overlay.mp4",
                     "/v1/jobs/{job_id}/timeline.png", "/v1/jobs/{job_id}/frames/{n}.png", "/healthz", "/readyz",
                     "/metrics"):
            assert path in spec["paths"], path
        body = spec["paths"]["/v1/analyze"]["post"]["requestBody"]["content"]
        assert "file" in body["multipart/form-data"]["schema"]["properties"]
        docs = c.get("/docs").text
        assert "swagger" in docs.lower() and "/openapi.json" in docs
        if importlib.util.find_spec("swagger_ui_bundle"):  # served offline: no CDN
            assert "cdn." not in docs and "https://" not in docs
            assert c.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
        page = c.get("/")
        assert page.status_code == 200 and "static/app.js" in page.text
        # the viewer ships inside the package (package data), so pip installs serve it too
        import localize
        from localize.server.app import find_viewer

        assert find_viewer() == Path(localize.__file__).parent / "viewer"
        for asset in ("app.js", "style.css"):
            assert c.get(f"/static/{asset}").status_code == 200
        assert c.get("/static/../config.py").status_code == 404
        # no external CDN: every script and stylesheet is local
        assert "http://" not in page.text and "https://" not in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"


def test_metrics_prometheus_text(tmp_path, carphone):
    with make_client(tmp_path) as c:
        jid = post_file(c, carphone).json()["id"]
        wait_state(c, jid)
        c.get(f"/v1/jobs/{uuid.uuid4()}")
        text = c.get("/metrics").text
        assert '# TYPE localize_http_requests_total counter' in text
        assert 'localize_http_requests_total{method="POST",route="/v1/analyze",status="202"} 1' in text
        # route templates, not raw paths (no per-job label explosion)
        assert 'route="/v1/jobs/{job_id}",status="404"} 1' in text and jid not in text
        assert 'localize_http_request_duration_seconds_bucket{route="/v1/analyze",le="+Inf"} 1' in text
        assert 'localize_jobs_finished_total{state="done"} 1' in text
        assert "localize_queue_depth 0" in text
        assert 'localize_jobs{state="done"} 1' in text
        assert "localize_job_duration_seconds_count 1" in text


# ----- error paths -----------------------------------------------------------------------

def test_token_required_on_every_v1_route(tmp_path, carphone, monkeypatch):
    with make_client(tmp_path, token="s3cret") as c:
        jid = str(uuid.uuid4())
        routes = [("post", "/v1/analyze"), ("get", f"/v1/jobs/{jid}"), ("get", f"/v1/jobs/{jid}/overlay.mp4"),
                  ("get", f"/v1/jobs/{jid}/timeline.png"), ("get", f"/v1/jobs/{jid}/frames/1.png"),
                  ("get", f"/v1/jobs/{jid}/report.json"), ("delete", f"/v1/jobs/{jid}")]
        for method, url in routes:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
                r = getattr(c, method)(url, headers=headers)
                assert r.status_code == 401, (method, url, headers, r.status_code)
                assert r.headers["www-authenticate"].startswith("Bearer")
        ok = {"Authorization": "Bearer s3cret"}
        r = post_file(c, carphone, headers=ok)
        assert r.status_code == 202
        assert wait_state(c, r.json()["id"], headers=ok)["state"] == "done"
        # ops routes stay open for probes and scrapers
        assert c.get("/healthz").json()["auth"] is True
        assert c.get("/readyz").status_code == 200 and c.get("/metrics").status_code == 200


def test_token_from_environment(tmp_path, monkeypatch):
    import argparse

    from localize.server.app import add_arguments, settings_from_args

    monkeypatch.setenv("LOCALIZE_API_TOKEN", "from-env")
    p = argparse.ArgumentParser()
    add_arguments(p)
    s = settings_from_args(p.parse_args(["--results-dir", str(tmp_path)]))
    assert s.token == "from-env" and s.cors_origins == []
    s = settings_from_args(p.parse_args(["--results-dir", str(tmp_path), "--token", "flag"]))
    assert s.token == "flag"


def test_unknown_job_bad_uuid_and_bad_frame_number(tmp_path, carphone):
    with make_client(tmp_path) as c:
        r = c.get(f"/v1/jobs/{uuid.uuid4()}")
        assert r.status_code == 404
        for bad in ("not-a-uuid", "..", "%2e%2e%2fetc", "123e4567e89b42d3a456426614174000",
                    "{123e4567-e89b-42d3-a456-426614174000}"):
            r = c.get(f"/v1/jobs/{bad}")
            assert r.status_code in (404, 422), (bad, r.status_code)
            if r.status_code == 404:  # the router found no route at all, e.g. for '..'
                continue
            assert "UUID" in r.json()["detail"]
        assert c.get("/v1/jobs/not-a-uuid/overlay.mp4").status_code == 422
        jid = post_file(c, carphone).json()["id"]
        wait_state(c, jid)
        for bad in ("x", "-1", "1e3", "2.0", "99999999999"):
            r = c.get(f"/v1/jobs/{jid}/frames/{bad}.png")
            assert r.status_code == 422, (bad, r.status_code)
        r = c.get(f"/v1/jobs/{jid}/frames/7.png")  # a frame with no key-frame image
        assert r.status_code == 404 and "key frames: [2]" in r.json()["detail"]
        assert c.get(f"/v1/jobs/{jid}/contact_sheet.png").status_code == 404


def test_upload_too_large_413(tmp_path, carphone):
    with make_client(tmp_path, max_upload_mb=0.1) as c:
        r = post_file(c, carphone)  # 589 KB > 100 KB: refused by Content-Length before reading
        assert r.status_code == 413 and "MB limit" in r.json()["detail"]

        def chunks():  # no Content-Length: the streamed body is cut at the cap
            boundary = b"xyzzy"
            yield b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
            data = carphone.read_bytes()
            for i in range(0, len(data), 65536):
                yield data[i:i + 65536]
            yield b"\r\n--" + boundary + b"--\r\n"

        r = c.post("/v1/analyze", content=chunks(), headers={"content-type": "multipart/form-data; boundary=xyzzy"})
        assert r.status_code == 413
        root = tmp_path / "results"
        assert leftovers(root) == [] and [p for p in root.iterdir() if not p.name.startswith(".")] == []


def test_video_too_long_413(tmp_path, carphone):
    with make_client(tmp_path, max_duration_s=2.0) as c:
        r = post_file(c, carphone)  # 4.0 s
        assert r.status_code == 413 and "4.0 s" in r.json()["detail"]
        assert [p for p in (tmp_path / "results").iterdir() if not p.name.startswith(".")] == []


def test_unsupported_or_undecodable_415(tmp_path, carphone, png_bytes):
    cases = {
        "text": b"hello, this is not a video\n" * 10,
        "script": b"#!/bin/sh\nrm -rf /\n",
        "mp4 header, garbage body": carphone.read_bytes()[:32] + bytes(range(256)) * 8,
        "truncated png": png_bytes[:200],
        "html": b"<html><script>alert(1)</script></html>",
    }
    with make_client(tmp_path) as c:
        for what, data in cases.items():
            r = post_file(c, data=data, name="video.mp4")
            assert r.status_code == 415, (what, r.status_code, r.text)
            assert str(tmp_path) not in r.json()["detail"]  # no server paths in messages
        assert post_file(c, data=b"", name="empty.mp4").status_code == 415
        r = c.post("/v1/analyze", content=b"raw bytes", headers={"content-type": "video/mp4"})
        assert r.status_code == 415 and "multipart" in r.json()["detail"]
        r = c.post("/v1/analyze", data={"frames": "4"})
        assert r.status_code in (400, 415)
        root = tmp_path / "results"
        assert leftovers(root) == [] and [p for p in root.iterdir() if not p.name.startswith(".")] == []


def test_queue_full_503_with_retry_after(tmp_path, carphone):
    stand_in = StandIn(hold=True)
    with make_client(tmp_path, stand_in, queue_size=1) as c:
        first = post_file(c, carphone).json()["id"]
        assert stand_in.started.wait(10)
        second = post_file(c, carphone)
        assert second.status_code == 202  # waits in the queue
        q = c.get(f"/v1/jobs/{second.json()['id']}").json()
        assert q["state"] == "queued"
        assert c.get("/readyz").json()["queue_depth"] == 1
        third = post_file(c, carphone)
        assert third.status_code == 503
        assert int(third.headers["retry-after"]) >= 1
        assert "localize_queue_depth 1" in c.get("/metrics").text
        assert 'localize_uploads_rejected_total{reason="queue_full"} 1' in c.get("/metrics").text
        stand_in.gate.set()
        assert wait_state(c, first)["state"] == "done"
        assert wait_state(c, second.json()["id"])["state"] == "done"
        assert post_file(c, carphone).status_code == 202  # room again
        # the refused upload left nothing behind
        assert leftovers(tmp_path / "results") == []


def test_failed_analysis_reports_error_and_keeps_no_partial_output(tmp_path, carphone):
    from localize.errors import InputError

    with make_client(tmp_path, StandIn(fail=InputError("x", "no decodable frames"))) as c:
        jid = post_file(c, carphone).json()["id"]
        j = wait_state(c, jid)
        assert j["state"] == "failed" and j["error"] == "no decodable frames"
        assert c.get(f"/v1/jobs/{jid}/overlay.mp4").status_code == 404
        assert not (tmp_path / "results" / jid / "out").exists()
    with make_client(tmp_path, StandIn(fail=RuntimeError("boom /secret/path"))) as c:
        j = wait_state(c, post_file(c, carphone).json()["id"])
        assert j["state"] == "failed" and "RuntimeError" in j["error"] and "/secret" not in j["error"]


def test_running_job_artefacts_409(tmp_path, carphone):
    stand_in = StandIn(hold=True)
    with make_client(tmp_path, stand_in) as c:
        jid = post_file(c, carphone).json()["id"]
        assert stand_in.started.wait(10)
        j = c.get(f"/v1/jobs/{jid}").json()
        assert j["state"] == "running" and 0 < j["progress"] < 1 and j["stage"] == "faces"
        assert c.get(f"/v1/jobs/{jid}/overlay.mp4").status_code == 409
        assert c.delete(f"/v1/jobs/{jid}").status_code == 409
        stand_in.gate.set()
        wait_state(c, jid)


def test_results_expire_after_ttl(tmp_path, carphone):
    with make_client(tmp_path, ttl_s=0.6) as c:
        jid = post_file(c, carphone).json()["id"]
        j = wait_state(c, jid)
        assert j["expires_at"] - j["finished"] == pytest.approx(0.6, abs=0.05)
        assert c.get(f"/v1/jobs/{jid}/overlay.mp4").status_code == 200
        deadline = time.time() + 10
        while (tmp_path / "results" / jid).exists() and time.time() < deadline:
            time.sleep(0.1)  # the housekeeper deletes it without any request
        assert not (tmp_path / "results" / jid).exists()
        r = c.get(f"/v1/jobs/{jid}")
        assert r.status_code == 410 and "expired" in r.json()["detail"]
        assert c.get(f"/v1/jobs/{jid}/overlay.mp4").status_code == 410
        assert c.get(f"/v1/jobs/{jid}/frames/2.png").status_code == 410
        assert c.get(f"/v1/jobs/{uuid.uuid4()}").status_code == 404  # never existed != expired


def test_cors_off_by_default_and_on_when_asked(tmp_path):
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    with make_client(tmp_path) as c:
        r = c.options("/v1/analyze", headers=pre)
        assert "access-control-allow-origin" not in r.headers
        assert "access-control-allow-origin" not in c.get("/healthz", headers={"Origin": "https://evil.example"}).headers
    with make_client(tmp_path, cors_origins=["https://newsroom.example"]) as c:
        r = c.options("/v1/analyze", headers={**pre, "Origin": "https://newsroom.example"})
        assert r.headers["access-control-allow-origin"] == "https://newsroom.example"
        r = c.options("/v1/analyze", headers=pre)
        assert r.headers.get("access-control-allow-origin") != "https://evil.example"


# ----- several processes / hosts share the results folder ----------------------------------

def test_two_servers_share_one_results_folder(tmp_path, carphone):
    """Two app instances (as two uvicorn workers or hosts would be) on one folder: a job
    accepted by one is visible, downloadable and deletable through the other."""
    a = make_client(tmp_path)
    b = make_client(tmp_path)
    with a, b:
        jid = post_file(a, carphone).json()["id"]
        wait_state(a, jid)
        j = b.get(f"/v1/jobs/{jid}").json()
        assert j["state"] == "done" and j["report"]["video"]["decision"] == "real"
        assert b.get(f"/v1/jobs/{jid}/overlay.mp4").status_code == 200
        assert 'localize_jobs{state="done"} 1' in b.get("/metrics").text
        assert b.delete(f"/v1/jobs/{jid}").status_code == 204
        assert a.get(f"/v1/jobs/{jid}").status_code == 410


def test_job_of_a_dead_worker_is_reported_failed(tmp_path):
    store = JobStore(tmp_path, ttl_s=60, stale_worker_s=0.5)
    jid = store.new_id()
    store.create(jid, {"input": {"stored_as": "input.mp4"}})
    store.update(jid, worker="otherhost-4242")  # a process that never beat
    s = store.get(jid)
    assert s["state"] == "failed" and "stopped" in s["error"] and s["expires_at"] is not None


def test_shutdown_fails_waiting_and_running_jobs(tmp_path):
    """A stopping worker leaves no job 'queued' or 'running' forever."""
    from localize.server.jobs import JobPool

    store = JobStore(tmp_path, ttl_s=60)
    stand_in = StandIn(hold=True)
    pool = JobPool(store, stand_in, queue_size=1)
    pool.start()
    ids = []
    for _ in range(2):
        jid = store.new_id()
        store.create(jid, {"input": {"stored_as": "input.mp4"}})
        (store.job_dir(jid) / "input.mp4").write_bytes(b"x")
        pool.submit(jid)
        ids.append(jid)
    assert stand_in.started.wait(10)
    pool.shutdown(timeout=0.2)
    running, waiting = (store.read(j) for j in ids)
    assert running["state"] == "failed" and "during the analysis" in running["error"]
    assert waiting["state"] == "failed" and "before this job ran" in waiting["error"]
    stand_in.gate.set()


def test_sniff_and_display_name():
    assert sniff(b"\x00\x00\x00\x20ftypisom" + bytes(20)) == ("video", ".mp4")
    assert sniff(b"\x00\x00\x00\x18ftypheic" + bytes(20)) == ("image", ".heic")  # an iPhone photo is a still
    assert sniff(b"\x00\x00\x00\x18ftypmif1" + bytes(20)) == ("image", ".heic")
    assert sniff(b"\x00\x00\x00\x1cftypavif" + bytes(20)) == ("image", ".avif")
    assert sniff(b"\x1a\x45\xdf\xa3" + bytes(20)) == ("video", ".mkv")
    assert sniff(b"\x89PNG\r\n\x1a\n" + bytes(20)) == ("image", ".png")
    assert sniff(b"\xff\xd8\xff\xe0" + bytes(20)) == ("image", ".jpg")
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ("image", ".webp")
    assert sniff(b"RIFF\x00\x00\x00\x00AVI LIST") == ("video", ".avi")
    assert sniff(b"%PDF-1.7") is None and sniff(b"") is None
    assert display_name("C:\\Users\\x\\..\\clip.mp4") == "clip.mp4"
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("a\x00b<script>.mp4") == "a_b_script_.mp4"
    assert display_name(None) == "upload"


# ----- the real pipeline --------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A small random-weight model exported to ONNX (or the checkpoint, before export exists)."""
    from localize.model import ModelConfig, build_model, save_checkpoint

    d = tmp_path_factory.mktemp("model")
    cfg = ModelConfig(encoder="resnet18", input_size=128, decoder_channels=(64, 32, 16, 16, 8))
    import torch

    torch.manual_seed(0)
    ckpt = d / "small.pt"
    save_checkpoint(ckpt, build_model(cfg), cfg, model_id="test-random")
    try:
        from localize.export import export_onnx
    except ImportError:
        return ckpt
    out = d / "small.onnx"
    export_onnx(ckpt, out)
    return out


def test_real_analysis_gives_the_analyze_report(tmp_path, carphone, small_model):
    from localize.analyze import analyze_path
    from localize.model import load_localizer
    from localize.server.app import analyze_options

    settings = ServerSettings(results_dir=str(tmp_path / "results"), model=str(small_model), threads=2)
    with TestClient(create_app(settings)) as c:
        ready = c.get("/readyz").json()
        assert ready["ready"] and ready["model"]["model_id"] and ready["model"]["target"] == "mask"
        r = post_file(c, carphone, fields={"frames": "8"})
        assert r.status_code == 202, r.text
        j = wait_state(c, r.json()["id"], timeout=120)
        assert j["state"] == "done", j
        assert j["links"]["overlay"] and j["links"]["timeline"]
        ov = c.get(j["links"]["overlay"])
        assert ov.status_code == 200 and ov.content[4:8] == b"ftyp"
    direct = analyze_path(carphone, tmp_path / "direct", localizer=load_localizer(small_model, threads=2),
                          options=analyze_options({"frames": 8}))
    expected = json.loads((tmp_path / "direct" / "report.json").read_text())
    got = j["report"]
    assert got["input"]["name"] == got["input"]["path"] == "clip.mp4"
    assert str(tmp_path) not in json.dumps(got)  # no server paths reach the client
    assert set(got) == set(expected)
    assert _strip_volatile(got) == _strip_volatile(expected)
    assert direct is not None


def _strip_volatile(d):
    """The report minus what legitimately differs between two runs (timings, paths, dates)."""
    if isinstance(d, dict):
        return {k: _strip_volatile(v) for k, v in d.items()
                if not k.startswith("timing") and k not in ("created_utc", "input", "path", "versions")}
    if isinstance(d, list):
        return [_strip_volatile(v) for v in d]
    if isinstance(d, float):
        return round(d, 5)
    return d


def test_links_carry_the_proxy_prefix(tmp_path, carphone):
    """Behind a reverse proxy at /tools/localize (`serve --root-path`), the Location header and
    the job's links include the prefix, so a client following them reaches the server."""
    settings = ServerSettings(results_dir=str(tmp_path / "results"))
    app = create_app(settings, analyze=StandIn(), model_info={"model_id": "stand-in"})
    with TestClient(app, root_path="/tools/localize") as c:
        r = post_file(c, carphone)
        assert r.status_code == 202, r.text
        jid = r.json()["id"]
        assert r.headers["location"] == r.json()["status_url"] == f"/tools/localize/v1/jobs/{jid}"
        j = wait_state(c, jid)
        assert j["links"]["self"] == f"/tools/localize/v1/jobs/{jid}"
        assert j["links"]["frames"]["2"] == f"/tools/localize/v1/jobs/{jid}/frames/2.png"


def test_identity_profiles_route_and_the_person_field(tmp_path, carphone):
    """`--profiles DIR` lists its enrolled people; an upload may name one (passed to the analysis in the
    job's options); an unknown person, or any person on a server without profiles, is a 422 with nothing
    left behind."""
    prof = tmp_path / "profiles"
    (prof / "joe_biden").mkdir(parents=True)
    (prof / "joe_biden" / "profile.json").write_text("{}")  # what makes a folder a profile
    (prof / "half_written").mkdir()  # no profile.json: not a profile
    stand_in = StandIn()
    with make_client(tmp_path, analyze=stand_in, profiles_dir=str(prof)) as c:
        assert c.get("/v1/profiles").json() == {"enabled": True, "people": ["joe_biden"]}
        r = post_file(c, carphone, fields={"person": "katie_hill"})
        assert r.status_code == 422 and "no identity profile for 'katie_hill'" in r.json()["detail"]
        assert "joe_biden" in r.json()["detail"]
        assert post_file(c, carphone, fields={"person": "half_written"}).status_code == 422
        r = post_file(c, carphone, fields={"person": "joe_biden", "frames": "8"})
        assert r.status_code == 202, r.text
        j = wait_state(c, r.json()["id"])
        assert j["state"] == "done" and j["options"] == {"person": "joe_biden", "frames": 8}
        assert leftovers(tmp_path / "results") == []
    with make_client(tmp_path / "plain", analyze=StandIn()) as c:
        assert c.get("/v1/profiles").json() == {"enabled": False, "people": []}
        r = post_file(c, carphone, fields={"person": "joe_biden"})
        assert r.status_code == 422 and "--profiles" in r.json()["detail"]


def test_serve_refuses_a_missing_profiles_folder(tmp_path):
    import argparse

    from localize.errors import InputError
    from localize.server.app import add_arguments, settings_from_args

    p = argparse.ArgumentParser()
    add_arguments(p)
    with pytest.raises(InputError, match="no such profiles folder"):
        settings_from_args(p.parse_args(["--profiles", str(tmp_path / "none")]))
    s = settings_from_args(p.parse_args(["--profiles", str(tmp_path)]))
    assert s.profiles_dir == str(tmp_path.resolve()) and s.feature_cache is None
