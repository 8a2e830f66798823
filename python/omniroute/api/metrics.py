"""`GET /metrics`: the Prometheus scrape endpoint (text format; OpenMetrics when asked for).

Access (`[metrics]`): with `token` set, scrapers send `Authorization: Bearer <token>` (from any
address the network guard lets in); without one only loopback callers are answered. Inference
API keys and admin sessions play no part. With `enabled = false` the route answers 404.
"""

from __future__ import annotations

import asyncio
import hmac

import msgspec

from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.runtime import Runtime
from omniroute.security.admin_auth import client_ip, is_loopback_ip

ROUTE = "/metrics"


def _error(
    req: Request, status: int, message: str, code: str, headers: tuple[tuple[str, str], ...] = ()
) -> None:
    body = msgspec.json.encode({"error": {"message": message, "type": "metrics_error", "code": code}})
    req.respond(status, body, headers=headers)


def _bearer(req: Request) -> str | None:
    auth = req.header("authorization")
    if auth is None:
        return None
    scheme, _, presented = auth.partition(" ")
    return presented.strip() if scheme.lower() == "bearer" else None


def make_metrics_endpoint(runtime: Runtime) -> Handler:
    async def metrics(req: Request) -> None:
        settings = runtime.settings.metrics
        if not settings.enabled:
            _error(req, 404, "Metrics are disabled ([metrics] enabled = false)", "not_found")
            return
        if settings.token:
            presented = _bearer(req)
            if presented is None or not hmac.compare_digest(presented.encode(), settings.token.encode()):
                _error(
                    req,
                    401,
                    "A valid metrics bearer token is required",
                    "metrics_unauthorized",
                    (("www-authenticate", 'Bearer realm="metrics"'),),
                )
                return
        elif not is_loopback_ip(client_ip(req, runtime.settings)):
            _error(
                req,
                403,
                "/metrics is loopback-only until [metrics] token is set",
                "metrics_forbidden",
            )
            return
        registry = runtime.metrics
        registry.refresh()
        body, content_type = await asyncio.to_thread(registry.exposition, req.header("accept"))
        req.respond(200, body, content_type=content_type, headers=(("cache-control", "no-store"),))

    return metrics
