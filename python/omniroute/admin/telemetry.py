"""`GET /api/telemetry`: p50 / p95 / p99 of total latency, time to first token and gateway
overhead per provider over the answering worker's sliding window (`observability/telemetry.py`)."""

from __future__ import annotations

import os

from omniroute.admin.common import AdminError, check_admin, respond, respond_error
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.runtime import Runtime


def make_telemetry_api(rt: Runtime) -> Handler:
    async def telemetry(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
        except AdminError as exc:
            respond_error(req, exc)
            return
        respond(req, 200, {"pid": os.getpid(), "scope": "worker", **rt.telemetry.snapshot()})

    return telemetry
