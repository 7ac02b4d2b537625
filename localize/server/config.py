"""Server settings: one dataclass built from the CLI, passed to every uvicorn worker
process through an environment variable (workers are separate processes)."""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

TOKEN_ENV = "LOCALIZE_API_TOKEN"
SETTINGS_ENV = "LOCALIZE_SERVER_SETTINGS"


@dataclass
class ServerSettings:
    model: str | None = None  # .onnx (or a .pt checkpoint); None = the shipped default
    results_dir: str = "localize-results"
    token: str | None = None  # bearer token for /v1 routes; None = open
    max_upload_mb: float = 200.0
    max_duration_s: float = 120.0
    max_pixels: int = 4096 * 4096  # per frame; refuses decompression bombs
    ttl_s: float = 3600.0  # results are deleted this long after a job ends
    queue_size: int = 8  # waiting jobs per worker process (one more runs)
    concurrency: int = 1  # jobs run at once per worker process
    threads: int | None = None  # inference threads per worker process
    cors_origins: list[str] = field(default_factory=list)
    viewer_dir: str | None = None  # override the viewer's location
    frames: int | None = None  # default frame count per job (None = the analysis default)
    stale_worker_s: float = 60.0  # a worker silent this long is considered gone
    profiles_dir: str | None = None  # identity profiles (`localize enroll`); None = no identity checks
    feature_cache: str | None = None  # identity feature cache (None = ~/.cache/localize/features)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def results_path(self) -> Path:
        return Path(self.results_dir)

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls) -> "ServerSettings":
        raw = os.environ.get(SETTINGS_ENV)
        if not raw:
            raise RuntimeError(f"{SETTINGS_ENV} is not set: start the server with `localize serve`")
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in json.loads(raw).items() if k in names})
