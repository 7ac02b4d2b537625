"""Atomic writes and provenance records shared by every writer.

Every output is written to a temporary name in the same folder and renamed into
place, so an interrupted run never leaves a partial file behind.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = suffix if suffix is not None else "".join(path.suffixes[-1:])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give outputs the usual permissions instead.
        umask = os.umask(0)
        os.umask(umask)
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, obj: Any) -> None:
    """Strict JSON (browsers' JSON.parse and most parsers reject NaN/Infinity): a
    non-finite number, e.g. an AUC with only one class present, is written as null."""
    write_text(path, json.dumps(finite(obj), indent=2, sort_keys=False, default=_jsonable, allow_nan=False) + "\n")


def finite(obj: Any) -> Any:
    """``obj`` with every non-finite float (also inside numpy arrays and dataclasses) as None."""
    import math

    import numpy as np

    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return finite(obj.tolist())
    if hasattr(obj, "__dataclass_fields__") and not isinstance(obj, type):
        import dataclasses

        return finite(dataclasses.asdict(obj))
    return obj


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def read_yaml(path: str | Path) -> Any:
    """A YAML file as data, with one clear error for invalid YAML and for a key given twice in
    one mapping (PyYAML keeps the last silently: a config with two ``name:`` or ``model:``
    entries would train with whichever came last)."""
    import yaml

    from .errors import InputError

    class _Unique(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen: dict = {}
        for k, _ in node.value:
            key = loader.construct_object(k, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", k.start_mark)
            seen[key] = k.start_mark.line
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    _Unique.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    p = Path(path)
    try:
        return yaml.load(p.read_text(), Loader=_Unique)
    except yaml.YAMLError as e:
        raise InputError(p, f"not valid YAML ({' '.join(str(e).split())})") from None


def read_checkpoint(path: str | Path, what: str = "localizer checkpoint", keys: tuple[str, ...] = ("state_dict",),
                    missing: str | None = None) -> dict:
    """A torch checkpoint file as its payload dict, with one clear error for a missing file, an
    unreadable or foreign one, and one without ``keys`` (every model file a user names is read
    here, so a wrong path or a JPEG given as a model never ends in a traceback)."""
    import torch

    from .errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(p, missing or f"{what} not found")
    try:
        payload = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:  # corrupt, truncated or not a torch file
        raise InputError(p, f"not a {what} ({type(e).__name__}: {' '.join(str(e).split())[:160]})") from None
    if not isinstance(payload, dict) or any(k not in payload for k in keys):
        raise InputError(p, f"not a {what} (no {', '.join(k for k in keys if not isinstance(payload, dict) or k not in payload)})")
    return payload


def sha256_file(path: str | Path, limit: int | None = None) -> str:
    """Hex sha256 of a file (of its first ``limit`` bytes when given)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = limit
        while True:
            chunk = f.read(1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            h.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    break
    return h.hexdigest()


def fingerprint(path: str | Path, edge: int = 1 << 16) -> str:
    """Content fingerprint of a media file: its size and the sha256 of its first and last
    ``edge`` bytes (64 KiB: container header and index; a re-encode or truncation changes
    them and the size). Why not the mtime: a copied or re-provisioned dataset keeps its content
    but not its mtimes, and cache keys and manifest hashes must follow the content; why not
    the whole file: an FF++ copy is hundreds of GB, read at every training start."""
    st = os.stat(path)
    return _fingerprint(str(path), st.st_size, st.st_mtime_ns, edge)


@functools.lru_cache(maxsize=65536)
def _fingerprint(path: str, size: int, mtime_ns: int, edge: int) -> str:  # mtime only keys the memo
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(edge))
        if size > 2 * edge:
            f.seek(size - edge)
            h.update(f.read(edge))
        elif size > edge:
            h.update(f.read())
    return f"{size}:{h.hexdigest()[:32]}"


def versions() -> dict[str, str]:
    """Versions of the software that produced an output, for its manifest."""
    from importlib import metadata

    from . import __version__

    out = {"localize": __version__, "python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("numpy", "opencv-python-headless", "av", "torch", "segmentation-models-pytorch",
                 "onnxruntime", "dlib-bin", "scikit-image", "albumentations"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out
