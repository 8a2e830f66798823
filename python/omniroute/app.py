"""The RSGI application: owns the worker's services and dispatches requests to handlers.

Granian builds it in each worker through `create_app` (a factory), which reads the Settings
the CLI handed down; `__rsgi_init__` / `__rsgi_del__` open and close the services.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from typing import Any

from omniroute import _core
from omniroute.admin.aliases import make_alias_api
from omniroute.admin.auth import API_PREFIX, AdminGuard, make_admin_guard, make_auth_api
from omniroute.admin.combos import PREFIX as COMBO_PREFIX
from omniroute.admin.combos import make_combo_api
from omniroute.admin.health import make_health_api
from omniroute.admin.keys import PREFIX as KEYS_PREFIX
from omniroute.admin.keys import make_keys_api
from omniroute.admin.logs import PREFIX as LOGS_PREFIX
from omniroute.admin.logs import make_logs_api
from omniroute.admin.resilience import make_resilience_api
from omniroute.admin.security import PREFIX as SECURITY_PREFIX
from omniroute.admin.security import ROUTE as SECURITY_ROUTE
from omniroute.admin.security import make_security_api
from omniroute.admin.telemetry import make_telemetry_api
from omniroute.admin.usage import PRICING_PREFIX, make_pricing_api, make_usage_api
from omniroute.api.chat import PINNED_PREFIX, make_chat
from omniroute.api.gemini import MODELS_PREFIX, make_gemini
from omniroute.api.health import live, make_ready
from omniroute.api.messages import make_messages
from omniroute.api.metrics import ROUTE as METRICS_ROUTE
from omniroute.api.metrics import make_metrics_endpoint
from omniroute.api.models import ITEM_PREFIX as MODEL_ITEM_PREFIX
from omniroute.api.models import ModelsEndpoint, make_model_item
from omniroute.api.responses import ITEM_PREFIX, make_responses
from omniroute.gateway import Gateway
from omniroute.http.request import Request
from omniroute.http.routes import Router, normalise_path
from omniroute.observability.logging import configure_logging
from omniroute.providers.model_lists import ModelLister
from omniroute.runtime import Runtime
from omniroute.security.network import client_dialect
from omniroute.settings import Settings, settings_from_worker_env

log = logging.getLogger("omniroute.app")
#: Seconds a thread may hold the GIL while another waits for it (Python's default).
GIL_SWITCH_INTERVAL = 0.005
#: Cyclic collector thresholds of a worker (Python's default is (700, 10, 10)).
GC_THRESHOLDS = (10_000, 20, 50)


class App:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime: Runtime | None = None
        self.router = Router()
        #: Authorizes and audits every /api/* request (admin/auth.py).
        self.admin_guard: AdminGuard | None = None

    def startup(self) -> None:
        # The background writers (usage, request log, access lines) run at idle priority and let
        # go of the GIL between short chunks (omniroute/background.py), so no batch holds the
        # loop off the GIL; a shorter interval than the default only forces extra hand-offs
        # between the loop and Granian's thread (bench/RESULTS.md: 0.5 ms cost 30 µs of p50).
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        # A call allocates a few thousand container objects, nearly all freed by reference
        # counting; at Python's default (700) the cyclic collector ran twice per call and cost
        # about 5 % of a call's CPU (bench/RESULTS.md). Cycles are still collected, in bigger steps.
        gc.set_threshold(*GC_THRESHOLDS)
        configure_logging(self.settings.log_level)
        runtime = Runtime(self.settings)
        runtime.start()
        self.runtime = runtime
        gateway = Gateway(runtime)
        chat, pinned_chat = make_chat(gateway)
        router = Router()
        router.add("POST", "/v1/chat/completions", chat)
        router.add_prefix("POST", PINNED_PREFIX, pinned_chat)
        messages, count = make_messages(gateway)
        router.add("POST", "/v1/messages", messages)
        router.add("POST", "/v1/messages/count_tokens", count)
        create_response, get_response = make_responses(gateway, runtime.responses)
        router.add("POST", "/v1/responses", create_response)
        router.add_prefix("GET", ITEM_PREFIX, get_response)
        list_models, get_model, model_action = make_gemini(gateway)
        router.add("GET", "/v1beta/models", list_models)
        router.add_prefix("GET", MODELS_PREFIX, get_model)
        router.add_prefix("POST", MODELS_PREFIX, model_action)
        router.add("GET", "/v1/models", ModelsEndpoint(runtime, ModelLister()))
        router.add_prefix("GET", MODEL_ITEM_PREFIX, make_model_item(runtime))
        combos, combo_item, _ = make_combo_api(runtime)
        router.add("GET", "/api/combos", combos)
        router.add("POST", "/api/combos", combos)
        for method in ("GET", "PUT", "DELETE"):
            router.add_prefix(method, COMBO_PREFIX, combo_item)
        aliases = make_alias_api(runtime)
        router.add("GET", "/api/aliases", aliases)
        router.add("PUT", "/api/aliases", aliases)
        resilience_state, resilience_reset = make_resilience_api(runtime)
        router.add("GET", "/api/health/resilience", resilience_state)
        router.add("POST", "/api/health/resilience/reset", resilience_reset)
        router.add("GET", "/health/live", live)
        router.add("GET", "/health/ready", make_ready(runtime))
        router.add("GET", METRICS_ROUTE, make_metrics_endpoint(runtime))
        keys, key_item = make_keys_api(runtime)
        router.add("GET", "/api/keys", keys)
        router.add("POST", "/api/keys", keys)
        for method in ("GET", "PATCH", "DELETE", "POST"):
            router.add_prefix(method, KEYS_PREFIX, key_item)
        login, logout, session, audit = make_auth_api(runtime)
        router.add("POST", "/api/auth/login", login)
        router.add("POST", "/api/auth/logout", logout)
        router.add("GET", "/api/auth/session", session)
        router.add("GET", "/api/audit", audit)
        usage_summary, usage_purge = make_usage_api(runtime)
        router.add("GET", "/api/usage", usage_summary)
        router.add("POST", "/api/usage/purge", usage_purge)
        pricing, pricing_item = make_pricing_api(runtime)
        router.add("GET", "/api/pricing", pricing)
        router.add("PUT", "/api/pricing", pricing)
        router.add_prefix("DELETE", PRICING_PREFIX, pricing_item)
        security, security_item = make_security_api(runtime)
        router.add("GET", SECURITY_ROUTE, security)
        router.add_prefix("PUT", SECURITY_PREFIX, security_item)
        router.add_prefix("DELETE", SECURITY_PREFIX, security_item)
        logs, log_item = make_logs_api(runtime)
        router.add("GET", "/api/logs", logs)
        router.add_prefix("GET", LOGS_PREFIX, log_item)
        router.add("GET", "/api/telemetry", make_telemetry_api(runtime))
        router.add("GET", "/api/health", make_health_api(runtime))
        self.admin_guard = make_admin_guard(runtime)
        self.router = router
        # What start-up built lives as long as the worker: the collector need not walk it again.
        gc.collect()
        gc.freeze()

    async def shutdown(self) -> None:
        if self.runtime is not None:
            await self.runtime.close()
            self.runtime = None

    # RSGI hooks ------------------------------------------------------------------------------
    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        self.startup()

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.run_until_complete(self.shutdown())
        except RuntimeError:
            log.warning("worker loop unavailable at shutdown; services closed without flushing")

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return
        req = Request(scope, protocol)
        path = normalise_path(req.path)
        if path != req.path:
            req.path = path
        runtime = self.runtime
        if runtime is not None:
            # /v1 answers carry x-omniroute-overhead-ms and count in omniroute_requests_total.
            runtime.metrics.track(req)
            network = runtime.network
            req.extra_headers.extend(network.cors_headers(req))
            refusal = network.check(req)
            if refusal is not None:
                body = _core.error_body(
                    client_dialect(req, path),
                    refusal.status,
                    refusal.message,
                    code=refusal.code,
                    request_id=req.request_id,
                )
                runtime.metrics.note_refusal(refusal.status, refusal.code)
                req.respond(refusal.status, body, headers=refusal.headers)
                return
            if network.is_preflight(req):
                status, headers = network.preflight(req)
                req.extra_headers.clear()  # the preflight answer carries its own CORS headers
                if status == 204:
                    req.respond(204, b"", content_type="", headers=headers)
                else:
                    body = _core.error_body(
                        "openai", status, "CORS origin not allowed", code="cors_origin_not_allowed"
                    )
                    req.respond(status, body, headers=headers)
                return
        handler, known = self.router.match(req.method, path)
        if handler is None:
            status = 405 if known else 404
            message = (
                f"Method {req.method} not allowed on {path}"
                if known
                else f"Unknown route {req.method} {path}"
            )
            req.respond(
                status,
                _core.error_body(
                    client_dialect(req, path), status, message, code="not_found" if status == 404 else None
                ),
            )
            return
        try:
            if self.admin_guard is not None and path.startswith(API_PREFIX):
                await self.admin_guard(req, handler)
            else:
                await handler(req)
        except Exception:
            log.exception("unhandled error on %s %s", req.method, path)
            if not req.responded:
                body = _core.error_body(
                    client_dialect(req, path), 500, "Internal gateway error", code="internal_error"
                )
                req.respond(500, body)


def create_app() -> App:
    """Granian factory: one App per worker, configured from the CLI's settings."""
    return App(settings_from_worker_env())
