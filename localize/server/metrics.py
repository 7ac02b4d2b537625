"""Prometheus metrics in the text exposition format, without a client library.

Each worker process counts its own requests and jobs; the housekeeper writes a
snapshot into ``<results>/.workers/<host>-<pid>.json`` every few seconds, and
``/metrics`` sums the snapshots of every worker process on this host (its own taken
live), so a scrape that lands on any one uvicorn worker reports the whole host.
Job-state gauges (``localize_jobs``) count the shared results folder, so they are
the same on every host. Route labels are route templates, never raw paths.
"""
from __future__ import annotations

import socket
import threading
from typing import Any

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)


class Metrics:
    """Thread-safe counters and histograms for one process; mergeable snapshots."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[str, float] = {}  # "method|route|status" -> count
        self.latency: dict[str, dict[str, Any]] = {}  # route -> {"buckets": [...], "sum", "count"}
        self.jobs_finished: dict[str, float] = {}  # state -> count
        self.job_time = _hist(JOB_BUCKETS)
        self.rejected: dict[str, float] = {}  # reason -> count
        self.submitted = 0.0

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = f"{method}|{route}|{status}"
            self.requests[key] = self.requests.get(key, 0) + 1
            h = self.latency.setdefault(route, _hist(LATENCY_BUCKETS))
            _observe(h, LATENCY_BUCKETS, seconds)

    def job_finished(self, state: str, seconds: float) -> None:
        with self._lock:
            self.jobs_finished[state] = self.jobs_finished.get(state, 0) + 1
            _observe(self.job_time, JOB_BUCKETS, seconds)

    def job_submitted(self) -> None:
        with self._lock:
            self.submitted += 1

    def rejected_upload(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        import copy

        with self._lock:
            return copy.deepcopy(dict(requests=self.requests, latency=self.latency, jobs_finished=self.jobs_finished,
                                      job_time=self.job_time, rejected=self.rejected, submitted=self.submitted))


def _hist(buckets) -> dict[str, Any]:
    return {"buckets": [0.0] * len(buckets), "sum": 0.0, "count": 0.0}


def _observe(h: dict[str, Any], buckets, v: float) -> None:
    for i, b in enumerate(buckets):
        if v <= b:
            h["buckets"][i] += 1
    h["sum"] += v
    h["count"] += 1


def _merge(snaps: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = dict(requests={}, latency={}, jobs_finished={}, job_time=_hist(JOB_BUCKETS),
                               rejected={}, submitted=0.0)
    for s in snaps:
        for name in ("requests", "jobs_finished", "rejected"):
            for k, v in (s.get(name) or {}).items():
                out[name][k] = out[name].get(k, 0) + v
        out["submitted"] += s.get("submitted", 0)
        for route, h in (s.get("latency") or {}).items():
            _add_hist(out["latency"].setdefault(route, _hist(LATENCY_BUCKETS)), h)
        if s.get("job_time"):
            _add_hist(out["job_time"], s["job_time"])
    return out


def _add_hist(dst: dict[str, Any], src: dict[str, Any]) -> None:
    if len(src.get("buckets", [])) != len(dst["buckets"]):
        return
    dst["buckets"] = [a + b for a, b in zip(dst["buckets"], src["buckets"])]
    dst["sum"] += src.get("sum", 0)
    dst["count"] += src.get("count", 0)


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v: float) -> str:
    return repr(float(v)) if v != int(v) else f"{int(v)}"


def render(own: dict[str, Any], own_worker: str, workers: list[dict[str, Any]], *, queue_depth: int,
           running: int, job_states: dict[str, int], ready: bool) -> str:
    """The exposition text: this host's merged counters plus the shared gauges."""
    host = socket.gethostname()
    snaps = [own] + [w.get("metrics", {}) for w in workers
                     if w.get("worker") != own_worker and w.get("host") == host]
    m = _merge(snaps)
    local = [w for w in workers if w.get("host") == host]
    alive = [w for w in local if w.get("alive") or w.get("worker") == own_worker]
    depth = queue_depth + sum(int(w.get("queue_depth", 0)) for w in alive if w.get("worker") != own_worker)
    run = running + sum(int(w.get("running", 0)) for w in alive if w.get("worker") != own_worker)
    lines: list[str] = []

    def family(name: str, kind: str, help_: str) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")

    family("localize_http_requests_total", "counter", "HTTP requests by method, route template and status.")
    for key, v in sorted(m["requests"].items()):
        method, route, status = key.split("|", 2)
        lines.append(f'localize_http_requests_total{{method="{_esc(method)}",route="{_esc(route)}",'
                     f'status="{_esc(status)}"}} {_num(v)}')
    family("localize_http_request_duration_seconds", "histogram", "HTTP request latency by route template.")
    for route, h in sorted(m["latency"].items()):
        _hist_lines(lines, "localize_http_request_duration_seconds", f'route="{_esc(route)}"', LATENCY_BUCKETS, h)
    family("localize_jobs_submitted_total", "counter", "Jobs accepted by this host.")
    lines.append(f"localize_jobs_submitted_total {_num(m['submitted'])}")
    family("localize_jobs_finished_total", "counter", "Jobs finished by this host, by final state.")
    for state in ("done", "failed"):
        lines.append(f'localize_jobs_finished_total{{state="{state}"}} {_num(m["jobs_finished"].get(state, 0))}')
    family("localize_uploads_rejected_total", "counter", "Uploads refused, by reason.")
    for reason, v in sorted(m["rejected"].items()):
        lines.append(f'localize_uploads_rejected_total{{reason="{_esc(reason)}"}} {_num(v)}')
    family("localize_job_duration_seconds", "histogram", "Wall time of finished jobs on this host.")
    _hist_lines(lines, "localize_job_duration_seconds", "", JOB_BUCKETS, m["job_time"])
    family("localize_queue_depth", "gauge", "Jobs waiting for a runner in this host's worker processes.")
    lines.append(f"localize_queue_depth {queue_depth if not local else depth}")
    family("localize_jobs_running", "gauge", "Jobs running in this host's worker processes.")
    lines.append(f"localize_jobs_running {run}")
    family("localize_jobs", "gauge", "Jobs in the shared results folder by state (all hosts).")
    for state, v in sorted(job_states.items()):
        lines.append(f'localize_jobs{{state="{state}"}} {v}')
    family("localize_workers_alive", "gauge", "Worker processes on this host with a recent heartbeat.")
    lines.append(f"localize_workers_alive {max(1, len(alive))}")
    family("localize_ready", "gauge", "1 when this worker has its model loaded and its runner alive.")
    lines.append(f"localize_ready {1 if ready else 0}")
    return "\n".join(lines) + "\n"


def _hist_lines(lines: list[str], name: str, labels: str, buckets, h: dict[str, Any]) -> None:
    sep = "," if labels else ""
    for b, c in zip(buckets, h["buckets"]):
        lines.append(f'{name}_bucket{{{labels}{sep}le="{b:g}"}} {_num(c)}')
    lines.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {_num(h["count"])}')
    lab = f"{{{labels}}}" if labels else ""
    lines.append(f"{name}_sum{lab} {_num(h['sum'])}")
    lines.append(f"{name}_count{lab} {_num(h['count'])}")
