"""Localize face manipulations in video.

Data flows one way: video -> faces -> crops -> masks -> scores -> reports.
Frames are RGB ``uint8`` arrays of shape (H, W, 3) everywhere in the library.
"""
import os as _os

__version__ = "0.1.0"

# Nothing in this product may call home: make the offline behaviour the default
# for the libraries that otherwise would (the user can still override them).
_os.environ.setdefault("HF_HUB_OFFLINE", "1")
_os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
