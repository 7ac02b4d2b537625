"""Optional bearer token on every /v1 route (constant-time comparison)."""
from __future__ import annotations

import hmac

from fastapi import HTTPException, Request


def check_bearer(request: Request, token: str | None) -> None:
    """Raise 401 unless ``Authorization: Bearer <token>`` matches; no-op without a token."""
    if not token:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(status_code=401, detail="missing or wrong bearer token",
                            headers={"WWW-Authenticate": 'Bearer realm="localize"'})
