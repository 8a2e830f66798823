"""One LLM call: auth -> resolve -> translate -> upstream -> relay -> record.

Errors become answers in the client's own format with the right status. Once the first byte
of a stream has gone to the client nothing can be retried: failures are reported in band and
the stream is never ended as if it had succeeded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from omniroute import _core
from omniroute.attempt import AttemptInput
from omniroute.errors import GatewayError, OmnirouteError, http_status_for
from omniroute.fallback import run_plan
from omniroute.http.request import ClientDisconnectedError, Request
from omniroute.observability.logging import log_access, now_ms
from omniroute.observability.request_log import CallTrace
from omniroute.providers.executor import auth_headers
from omniroute.routing.catalog import Account, Catalog
from omniroute.routing.plan import Plan, build_plan
from omniroute.routing.resolve import Target
from omniroute.runtime import Runtime
from omniroute.security.auth import authenticate
from omniroute.security.key_policy import Admission
from omniroute.security.model_globs import model_allowed
from omniroute.store.records import ApiKeyRow, UsageRecord


class CallState:
    """What one call learned along the way, for the usage record and the access log."""

    __slots__ = (
        "admission",
        "api_key",
        "attempts",
        "combo",
        "connection_id",
        "error",
        "model",
        "outcome",
        "provider",
        "requested_model",
        "status",
        "stream",
        "trace",
        "ttft_ms",
        "usage",
    )

    def __init__(self) -> None:
        self.api_key: ApiKeyRow | None = None
        self.requested_model: str | None = None
        self.model: str | None = None
        self.provider: str | None = None
        self.connection_id: int | None = None
        self.stream = False
        self.status = 500
        self.outcome = "error"
        self.ttft_ms: float | None = None
        self.usage: _core.Usage | None = None
        self.error: str | None = None
        self.attempts = 0
        self.combo: str | None = None
        self.admission: Admission | None = None
        #: Request-log observations (upstream dialect, account, attempts, capture).
        self.trace: CallTrace | None = None


class CallSpec:
    """What a public surface asks of one call."""

    __slots__ = (
        "dialect",
        "on_complete",
        "pinned_provider",
        "prepare",
        "response_id",
        "route",
        "url_model",
        "url_stream",
    )

    def __init__(
        self,
        dialect: str,
        route: str,
        *,
        pinned_provider: str | None = None,
        url_model: str | None = None,
        url_stream: bool | None = None,
        response_id: str | None = None,
        prepare: Callable[[bytes], Awaitable[bytes]] | None = None,
        on_complete: Callable[[bytes], None] | None = None,
    ) -> None:
        self.dialect = dialect
        self.route = route
        self.pinned_provider = pinned_provider
        #: Model and streaming given by the URL (Gemini) instead of the body.
        self.url_model = url_model
        self.url_stream = url_stream
        #: Id to give a translated answer (Responses clients, so it can be stored).
        self.response_id = response_id
        #: Rewrites the client body after authentication (Responses `previous_response_id`).
        self.prepare = prepare
        #: Receives the answer as the client saw it, after a successful call.
        self.on_complete = on_complete


#: Plain-model plans a gateway keeps (emptied when full, and when the catalog is rebuilt).
PLAN_MEMO = 4096
#: Client headers forwarded to Anthropic-dialect upstreams.
ANTHROPIC_CLIENT_HEADERS = ("anthropic-version", "anthropic-beta")


class Gateway:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.settings = runtime.settings
        #: Plans of plain model strings (no combo: nothing in them depends on time or load), per
        #: catalog: the same few models arrive on every request.
        self._plans: dict[tuple[str, str | None], Plan] = {}
        self._plans_catalog: Catalog | None = None

    async def handle(self, req: Request, spec: CallSpec) -> None:
        call = CallState()
        call.trace = self.rt.request_log.trace(req)
        dialect, route = spec.dialect, spec.route
        self.rt.metrics.call_started(req, route)
        try:
            await req.until_disconnect(self._call(req, call, spec))
        except ClientDisconnectedError:
            call.outcome, call.status = "client_disconnected", 499
        except OmnirouteError as exc:
            self._fail(req, call, dialect, exc)
        except Exception as exc:
            logging.getLogger("omniroute.gateway").exception("unexpected failure in %s", route)
            self._fail(req, call, dialect, GatewayError(500, "Internal gateway error", code="internal_error"))
            call.error = f"{exc.__class__.__name__}: {exc}"
        finally:
            self._record(req, call, route, dialect)

    def _fail(self, req: Request, call: CallState, dialect: str, exc: OmnirouteError) -> None:
        call.status, call.outcome, call.error = http_status_for(exc), "error", str(exc)
        self.rt.metrics.note_error(exc)
        self.answer_error(req, dialect, exc)

    @staticmethod
    def answer_error(req: Request, dialect: str, exc: OmnirouteError) -> None:
        """Answers `exc` in the client's error format (unless a response already started)."""
        status = http_status_for(exc)
        if req.responded:
            return
        headers: list[tuple[str, str]] = []
        if isinstance(exc, GatewayError):
            body = _core.error_body(
                dialect,
                status,
                exc.message,
                error_type=exc.error_type,
                code=exc.code,
                param=exc.param,
                request_id=req.request_id,
            )
            headers.extend(exc.headers.items())
        else:
            param = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], str) else None
            message = str(exc.args[0]) if exc.args else str(exc)
            body = _core.error_body(dialect, status, message, param=param, request_id=req.request_id)
        if status >= 500 or status == 429:
            # The gateway already did what retrying can do here; tell SDKs not to multiply load.
            headers.append(("x-should-retry", "false"))
        req.respond(status, body, headers=headers)

    async def _call(self, req: Request, call: CallState, spec: CallSpec) -> None:
        dialect = spec.dialect
        # Given the runtime, authentication first reloads keys another process changed.
        call.api_key = authenticate(req, self.rt, required=self.settings.require_api_key)
        catalog = self.rt.catalog
        body = await req.read_body(self.rt.network.body_limit(req.path))
        if spec.prepare is not None:
            body = await spec.prepare(body)
        info = _core.inspect_request(body, dialect)
        body = self.rt.prompt_guard.apply(body, dialect, request_id=req.request_id)
        call.admission = await self.rt.key_policy.admit(
            call.api_key, dialect=dialect, estimated_tokens=len(body) // 4 + (info.max_tokens or 0)
        )
        # Budget warnings (`x-omniroute-budget-warning`) ride on the answer, success or error.
        req.extra_headers.extend(call.admission.headers)
        stream = info.stream if spec.url_stream is None else spec.url_stream
        call.stream = stream
        model = spec.url_model or info.model
        if model is None:
            raise GatewayError(400, "'model' is a required property", param="model", code="missing_model")
        call.requested_model = model
        plan = self._plan(catalog, model, spec.pinned_provider)
        call.combo = plan.combo
        attempt = AttemptInput(
            body=body,
            dialect=dialect,
            stream=stream,
            include_usage=info.include_usage,
            response_id=spec.response_id,
            trace=call.trace,
        )
        result = await run_plan(self, req, call, plan, attempt)
        call.status = 200
        call.usage, call.ttft_ms = result.usage, result.ttft_ms
        if result.completed:
            call.outcome = "success"
            if spec.on_complete is not None and result.final_response is not None:
                spec.on_complete(result.final_response)
        else:
            call.outcome, call.error = "stream_failed", result.error

    def _plan(self, catalog: Catalog, model: str, pinned_provider: str | None) -> Plan:
        if catalog is not self._plans_catalog or len(self._plans) >= PLAN_MEMO:
            self._plans.clear()
            self._plans_catalog = catalog
        key = (model, pinned_provider)
        plan = self._plans.get(key)
        if plan is None:
            plan = build_plan(
                catalog,
                model,
                pinned_provider=pinned_provider,
                routing=self.settings.routing,
                ordering=self.rt.combo_ordering,
                now=time.monotonic(),
            )
            if plan.combo is None:  # a combo's order changes from call to call
                self._plans[key] = plan
        return plan

    @staticmethod
    def upstream_headers(req: Request, account: Account) -> dict[str, str]:
        """Auth and protocol headers for one upstream call."""
        headers = auth_headers(account)
        if account.provider.dialect == "anthropic":
            for name in ANTHROPIC_CLIENT_HEADERS:
                value = req.header(name)
                if value:
                    headers[name] = value
        headers["content-type"] = "application/json"
        return headers

    @staticmethod
    def key_allows(key: ApiKeyRow | None, target: Target) -> bool:
        if key is None or not key.allowed_models:
            return True
        names = (
            f"{target.provider.id}/{target.model}",
            f"{target.provider.alias}/{target.model}",
            target.model,
        )
        return model_allowed(key.allowed_models, names)

    @staticmethod
    def model_not_allowed(target: Target) -> GatewayError:
        return GatewayError(
            403,
            f"This API key may not use model '{target.provider.alias}/{target.model}'",
            code="model_not_allowed",
            error_type="permission_error",
        )

    def check_key_models(self, key: ApiKeyRow | None, target: Target) -> None:
        if not self.key_allows(key, target):
            raise self.model_not_allowed(target)

    def _record(self, req: Request, call: CallState, route: str, dialect: str) -> None:
        latency = now_ms(req.started)
        usage = call.usage
        cost = self.rt.pricing.cost(call.provider, call.model, usage)
        if call.admission is not None:
            call.admission.release(usage, cost)
        record = UsageRecord(
            ts=time.time(),
            request_id=req.request_id,
            api_key_id=call.api_key.id if call.api_key else None,
            route=route,
            client_dialect=dialect,
            provider=call.provider,
            connection_id=call.connection_id,
            requested_model=call.requested_model,
            model=call.model,
            stream=call.stream,
            status=call.status,
            outcome=call.outcome,
            latency_ms=latency,
            ttft_ms=call.ttft_ms,
            input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0,
            cached_tokens=usage.cached_tokens if usage else 0,
            cache_creation_tokens=usage.cache_creation_tokens if usage else 0,
            reasoning_tokens=usage.reasoning_tokens if usage else 0,
            error=call.error[:1000] if call.error else None,
            attempts=max(call.attempts, 1),
            combo=call.combo,
            cost_usd=cost,
        )
        self.rt.metrics.record_call(req, call, route=route, latency_ms=latency, cost=cost)
        self.rt.usage.record(record)
        if call.combo is not None:
            target = f"{call.provider}/{call.model}" if call.provider else None
            self.rt.combo_metrics.record(
                call.combo, ok=call.outcome == "success", attempts=call.attempts, target=target
            )
        # The request log entry (queued), per-provider telemetry and the JSON access line.
        entry = self.rt.request_log.finish(req, record, call.trace, self.rt.catalog)
        self.rt.telemetry.observe(
            entry.provider,
            outcome=entry.outcome,
            status=entry.status,
            total_ms=entry.latency_ms,
            ttft_ms=entry.ttft_ms,
            overhead_ms=entry.overhead_ms,
        )
        log_access(entry)
