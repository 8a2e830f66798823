"""Liveness and readiness probes."""

from __future__ import annotations

import msgspec

from omniroute import __version__
from omniroute.http.request import Request
from omniroute.runtime import Runtime


async def live(req: Request) -> None:
    req.respond(200, msgspec.json.encode({"status": "ok", "version": __version__}))


def make_ready(runtime: Runtime):  # type: ignore[no-untyped-def]
    async def ready(req: Request) -> None:
        ok = runtime.database_ok()
        body = {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable"}
        req.respond(200 if ok else 503, msgspec.json.encode(body))

    return ready
