"""`GET /api/health` (admin only): uptime, version, memory, database size, breakers, cooldowns,
limiter state, cache and request counts of the answering worker (`observability/health.py`).
The unauthenticated probes stay at `/health/live` and `/health/ready`."""

from __future__ import annotations

from omniroute.admin.common import AdminError, check_admin, respond, respond_error
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.observability.health import health_report
from omniroute.runtime import Runtime


def make_health_api(rt: Runtime) -> Handler:
    async def health(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
        except AdminError as exc:
            respond_error(req, exc)
            return
        respond(req, 200, health_report(rt))

    return health
