"""Jobs: state on disk in the shared results folder, work in a bounded per-process pool.

Layout of the results folder (the only state shared by workers and hosts; put it on
a shared filesystem when several hosts serve behind a load balancer)::

    <results>/<uuid>/status.json     job state, replaced atomically (write temp + rename)
    <results>/<uuid>/input.<ext>     the upload, deleted once the job ends
    <results>/<uuid>/out/            what ``analyze_path`` writes (report.json, overlay.mp4, ...)
    <results>/.uploads/              uploads still arriving (removed on error, swept if stale)
    <results>/.expired/<uuid>        tombstones, so an expired job answers 410 rather than 404
    <results>/.workers/<id>.json     one per worker process: heartbeat + its metric counters

Any worker answers for any job: a status read is a file read. A job runs in the
process that accepted it; if that process dies, its heartbeat stops and the job is
reported failed ("worker lost") instead of staying queued forever. Expired jobs are
deleted by whichever worker sweeps first (rename to a unique trash name, then delete,
so two sweepers never fight over one folder).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import shutil
import socket
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError
from ..fileio import write_json

log = logging.getLogger("localize.server")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
ACTIVE = (QUEUED, RUNNING)
STATUS = "status.json"
OUT = "out"


class QueueFull(Exception):
    def __init__(self, retry_after: int):
        super().__init__("queue full")
        self.retry_after = retry_after


class JobExpired(Exception):
    def __init__(self, expired_at: float | None):
        super().__init__("expired")
        self.expired_at = expired_at


def parse_job_id(text: str) -> str | None:
    """The canonical form of a UUID job id, or None. Only this canonical string (hex
    and dashes) is ever joined to a path."""
    try:
        u = uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return None
    canon = str(u)
    return canon if canon == text.lower() else None


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class JobStore:
    """Job folders under the results folder; every method is safe to call from any
    process (state changes are atomic file replacements, deletions go through rename)."""

    def __init__(self, root: str | Path, ttl_s: float, stale_worker_s: float = 60.0):
        self.root = Path(root)
        self.ttl_s = float(ttl_s)
        self.stale_worker_s = float(stale_worker_s)
        for sub in (".uploads", ".expired", ".workers"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # ----- paths (from canonical ids only) -------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        assert parse_job_id(job_id) == job_id, "job ids must be canonical UUIDs"
        return self.root / job_id

    def out_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / OUT

    def upload_path(self, job_id: str) -> Path:
        return self.root / ".uploads" / f"{job_id}.part"

    def new_id(self) -> str:
        return str(uuid.uuid4())

    # ----- state ---------------------------------------------------------------------
    def create(self, job_id: str, info: dict[str, Any]) -> dict[str, Any]:
        now = time.time()
        status = dict(id=job_id, state=QUEUED, progress=0.0, stage="queued", created=now, updated=now,
                      started=None, finished=None, expires_at=None, worker=worker_id(), error=None, **info)
        self.job_dir(job_id).mkdir(parents=True, exist_ok=True)
        write_json(self.job_dir(job_id) / STATUS, status)
        return status

    def read(self, job_id: str) -> dict[str, Any] | None:
        try:
            return json.loads((self.job_dir(job_id) / STATUS).read_text(encoding="utf-8"))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except json.JSONDecodeError:  # cannot happen with atomic replaces; be safe anyway
            return None

    def update(self, job_id: str, **changes: Any) -> dict[str, Any] | None:
        """Read-modify-replace. Only the process running a job updates it, so there is
        no lost update between processes; expiry never touches active jobs."""
        status = self.read(job_id)
        if status is None:
            return None
        status.update(changes, updated=time.time())
        if status["state"] in (DONE, FAILED) and status.get("expires_at") is None:
            status["expires_at"] = status["updated"] + self.ttl_s
        if not self.job_dir(job_id).exists():
            return None
        write_json(self.job_dir(job_id) / STATUS, status)
        return status

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job's status with liveness applied; raises JobExpired; None if unknown."""
        status = self.read(job_id)
        if status is None:
            tomb = self.root / ".expired" / job_id
            if tomb.exists():
                raise JobExpired(_mtime(tomb))
            return None
        if status["state"] in (DONE, FAILED) and status.get("expires_at") and status["expires_at"] <= time.time():
            self.delete(job_id, tombstone=True)
            raise JobExpired(status["expires_at"])
        if status["state"] in ACTIVE and not self.worker_alive(status.get("worker", "")):
            status = self.update(job_id, state=FAILED, stage="failed",
                                 error="the server process running this job stopped; please submit it again") or status
        return status

    def delete(self, job_id: str, tombstone: bool = False) -> None:
        src = self.job_dir(job_id)
        trash = self.root / f".trash-{job_id}-{uuid.uuid4().hex[:8]}"
        try:
            os.replace(src, trash)
        except FileNotFoundError:
            return
        if tombstone:
            (self.root / ".expired" / job_id).touch()
        shutil.rmtree(trash, ignore_errors=True)

    # ----- workers ---------------------------------------------------------------------
    def beat(self, wid: str, payload: dict[str, Any]) -> None:
        write_json(self.root / ".workers" / f"{wid}.json", dict(payload, worker=wid, heartbeat=time.time()))

    def worker_alive(self, wid: str) -> bool:
        if not wid or "/" in wid or wid.startswith("."):
            return False
        return time.time() - _mtime(self.root / ".workers" / f"{wid}.json") < self.stale_worker_s

    def workers(self) -> list[dict[str, Any]]:
        out = []
        for p in (self.root / ".workers").glob("*.json"):
            with contextlib.suppress(OSError, json.JSONDecodeError):
                d = json.loads(p.read_text(encoding="utf-8"))
                d["alive"] = time.time() - _mtime(p) < self.stale_worker_s
                out.append(d)
        return out

    # ----- housekeeping ------------------------------------------------------------------
    def states(self) -> dict[str, int]:
        counts = {QUEUED: 0, RUNNING: 0, DONE: 0, FAILED: 0}
        for d in self.root.iterdir():
            if d.name.startswith(".") or parse_job_id(d.name) != d.name:
                continue
            s = self.read(d.name)
            if s is not None and s.get("state") in counts:
                counts[s["state"]] += 1
        return counts

    def sweep(self) -> int:
        """Delete expired jobs, stale uploads, old tombstones, worker files and trash.
        Returns the number of jobs expired."""
        now = time.time()
        n = 0
        for d in list(self.root.iterdir()):
            name = d.name
            if name.startswith(".trash-") and now - _mtime(d) > 60:
                shutil.rmtree(d, ignore_errors=True)  # a sweeper died mid-delete
                continue
            if name.startswith(".") or parse_job_id(name) != name:
                continue
            s = self.read(name)
            if s is None:
                if now - _mtime(d) > max(self.ttl_s, 3600):  # a folder whose status never got written
                    self.delete(name)
                continue
            if s["state"] in (DONE, FAILED) and (s.get("expires_at") or now + 1) <= now:
                self.delete(name, tombstone=True)
                n += 1
            elif s["state"] in ACTIVE and not self.worker_alive(s.get("worker", "")):
                self.get(name)  # marks it failed
        keep_tombs = max(86400.0, 10 * self.ttl_s)
        for p in (self.root / ".expired").iterdir():
            if now - _mtime(p) > keep_tombs:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        for p in (self.root / ".uploads").iterdir():
            if now - _mtime(p) > 3600:  # an upload that has not grown for an hour
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        for p in (self.root / ".workers").glob("*.json"):
            if now - _mtime(p) > 86400:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        return n


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


# An analysis: (input path, output folder, job fields, progress(fraction, stage)) -> None.
# The app builds it around ``localize.analyze.analyze_path`` and the worker's model.
AnalyzeFn = Callable[[Path, Path, dict[str, Any], Callable[[float, str], None]], dict[str, Any] | None]


@dataclass
class PoolStats:
    submitted: int = 0
    rejected: int = 0
    done: int = 0
    failed: int = 0
    busy_s: float = 0.0


class JobPool:
    """A bounded queue and ``concurrency`` runner threads in this process.

    ``submit`` never blocks: with ``queue_size`` jobs already waiting it raises
    QueueFull carrying a Retry-After estimate from the recent job durations.
    """

    def __init__(self, store: JobStore, analyze: AnalyzeFn, *, queue_size: int, concurrency: int = 1,
                 on_finish: Callable[[str, float], None] | None = None):
        self.store = store
        self.analyze = analyze
        self.concurrency = max(1, int(concurrency))
        self.queue_size = max(0, int(queue_size))
        self.on_finish = on_finish
        self.stats = PoolStats()
        self._q: queue.Queue[str | None] = queue.Queue()
        self._pending = 0  # accepted and not finished (waiting + running)
        self._running = 0
        self._started: dict[str, float] = {}  # running job -> start time
        self._lock = threading.Lock()
        self._recent: list[float] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> None:
        for i in range(self.concurrency):
            t = threading.Thread(target=self._loop, name=f"localize-job-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    @property
    def depth(self) -> int:
        """Jobs accepted by this process and waiting for a runner."""
        return max(0, self._pending - self._running)

    @property
    def running(self) -> int:
        return self._running

    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads) and not self._stop.is_set()

    def has_room(self) -> bool:
        return self._pending < self.concurrency + self.queue_size

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: when the queue is full, a slot opens as soon
        as the oldest running job ends (recent mean job time minus its elapsed time)."""
        mean = sum(self._recent) / len(self._recent) if self._recent else 10.0
        now = time.time()
        with self._lock:
            elapsed = max((now - t for t in self._started.values()), default=0.0)
        return int(min(600, max(1, round(mean - elapsed))))

    def submit(self, job_id: str) -> None:
        with self._lock:
            full = self._stop.is_set() or not self.has_room()
            if full:
                self.stats.rejected += 1
            else:
                self._pending += 1
                self.stats.submitted += 1
        if full:
            raise QueueFull(self.retry_after())
        self._q.put_nowait(job_id)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop taking work; jobs still waiting are marked failed (nobody will run them)."""
        self._stop.set()
        while True:
            try:
                job_id = self._q.get_nowait()
            except queue.Empty:
                break
            if job_id:
                self.store.update(job_id, state=FAILED, stage="failed",
                                  error="the server stopped before this job ran; please submit it again")
                with self._lock:
                    self._pending -= 1
        for _ in self._threads:
            with contextlib.suppress(queue.Full):
                self._q.put_nowait(None)
        for t in self._threads:
            t.join(timeout)
        with self._lock:
            running = list(self._started)
        for job_id in running:  # the process is going away with these jobs unfinished
            self.store.update(job_id, state=FAILED, stage="failed",
                              error="the server stopped during the analysis; please submit it again")

    def _loop(self) -> None:
        while not self._stop.is_set():
            job_id = self._q.get()
            if job_id is None or self._stop.is_set():
                if job_id:
                    self.store.update(job_id, state=FAILED, stage="failed",
                                      error="the server stopped before this job ran; please submit it again")
                    with self._lock:
                        self._pending -= 1
                break
            with self._lock:
                self._running += 1
                self._started[job_id] = time.time()
            try:
                self._run(job_id)
            finally:
                with self._lock:
                    self._running -= 1
                    self._pending -= 1
                    self._started.pop(job_id, None)

    def _run(self, job_id: str) -> None:
        status = self.store.read(job_id)
        if status is None:
            return
        t0 = time.time()
        self.store.update(job_id, state=RUNNING, stage="starting", started=t0, progress=0.0)
        last = [0.0]

        def progress(fraction: float, stage: str = "") -> None:
            now = time.time()
            if now - last[0] < 0.3:  # a status write per step would be wasted I/O
                return
            last[0] = now
            self.store.update(job_id, progress=round(min(0.99, max(0.0, float(fraction))), 4), stage=stage or "running")

        input_path = self.store.job_dir(job_id) / status["input"]["stored_as"]
        state, error, summary = DONE, None, None
        try:
            summary = self.analyze(input_path, self.store.out_dir(job_id), status, progress)
        except InputError as e:
            state, error = FAILED, e.problem
        except Exception as e:  # keep the worker alive; the traceback goes to the log
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            state, error = FAILED, f"internal error during analysis ({type(e).__name__}); see the server log"
        finally:
            with contextlib.suppress(FileNotFoundError):
                input_path.unlink()  # uploaded media are kept no longer than needed
        took = time.time() - t0
        if state == FAILED:
            shutil.rmtree(self.store.out_dir(job_id), ignore_errors=True)  # no partial outputs
        self.store.update(job_id, state=state, stage=state, progress=1.0 if state == DONE else status.get("progress", 0),
                          finished=time.time(), error=error, summary=summary, took_s=round(took, 3))
        with self._lock:
            if state == DONE:
                self.stats.done += 1
            else:
                self.stats.failed += 1
            self.stats.busy_s += took
            self._recent = (self._recent + [took])[-20:]
        if self.on_finish:
            self.on_finish(state, took)


class Housekeeper:
    """A daemon thread per process: heartbeat (with the metric snapshot) and sweeps."""

    def __init__(self, store: JobStore, snapshot: Callable[[], dict[str, Any]], *, beat_s: float = 2.0,
                 sweep_s: float | None = None):
        self.store = store
        self.snapshot = snapshot
        self.beat_s = beat_s
        self.sweep_s = sweep_s if sweep_s is not None else min(60.0, max(0.5, store.ttl_s / 4))
        self.wid = worker_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="localize-housekeeper", daemon=True)

    def start(self) -> None:
        self.store.beat(self.wid, self.snapshot())
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove this worker's file: its jobs read as lost at once."""
        self._stop.set()
        self._thread.join(5)
        with contextlib.suppress(FileNotFoundError):
            (self.store.root / ".workers" / f"{self.wid}.json").unlink()

    def _loop(self) -> None:
        next_sweep = 0.0
        while not self._stop.wait(min(self.beat_s, self.sweep_s) if next_sweep else 0):
            try:
                self.store.beat(self.wid, self.snapshot())
                if time.time() >= next_sweep:
                    self.store.sweep()
                    next_sweep = time.time() + self.sweep_s
            except Exception:  # housekeeping must never take the server down
                log.exception("housekeeping failed")
