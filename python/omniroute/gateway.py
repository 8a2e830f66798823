"""One LLM call: auth -> resolve -> translate -> upstream -> relay -> record.

Errors become answers in the client's own format with the right status. Once the first byte
of a stream has gone to the client nothing can be retried: failures are reported in band and
the stream is never ended as if it had succeeded.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from omniroute import _core
from omniroute.errors import GatewayError, OmnirouteError, UpstreamError, http_status_for
from omniroute.http.request import ClientDisconnectedError, Request
from omniroute.observability.logging import now_ms
from omniroute.providers.executor import auth_headers, chat_url
from omniroute.routing.resolve import Target, resolve_model
from omniroute.runtime import Runtime
from omniroute.security.auth import authenticate
from omniroute.security.model_globs import model_allowed
from omniroute.store.records import ApiKeyRow, UsageRecord
from omniroute.upstream.client import MAX_ERROR_BODY, UpstreamResponse
from omniroute.upstream.errors import passthrough_headers, upstream_error

access_log = logging.getLogger("omniroute.access")


class CallState:
    """What one call learned along the way, for the usage record and the access log."""

    __slots__ = (
        "api_key",
        "connection_id",
        "error",
        "model",
        "outcome",
        "provider",
        "requested_model",
        "status",
        "stream",
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


class Gateway:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.settings = runtime.settings

    async def handle(
        self, req: Request, *, dialect: str, route: str, pinned_provider: str | None = None
    ) -> None:
        call = CallState()
        try:
            await req.until_disconnect(self._call(req, call, dialect, pinned_provider))
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
        status = http_status_for(exc)
        call.status, call.outcome, call.error = status, "error", str(exc)
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

    async def _call(self, req: Request, call: CallState, dialect: str, pinned: str | None) -> None:
        catalog = self.rt.catalog
        call.api_key = authenticate(req, catalog, required=self.settings.require_api_key)
        body = await req.read_body(self.settings.max_body_bytes)
        info = _core.inspect_request(body, dialect)
        call.stream = info.stream
        if info.model is None:
            raise GatewayError(400, "'model' is a required property", param="model", code="missing_model")
        call.requested_model = info.model
        target = resolve_model(catalog, info.model, pinned_provider=pinned)
        self._check_key_models(call.api_key, target)
        call.provider, call.model = target.provider.id, target.model
        account = target.accounts[0]
        call.connection_id = account.connection_id
        upstream_dialect = target.provider.dialect
        upstream_body = _core.translate_request(
            body,
            dialect,
            upstream_dialect,
            model=target.model,
            force_stream_usage=info.stream and target.provider.stream_usage,
        )
        headers = auth_headers(account)
        headers["content-type"] = "application/json"
        headers["accept"] = "text/event-stream" if info.stream else "application/json"
        resp = await self.rt.upstream.send(
            "POST",
            chat_url(account, target.model, stream=info.stream),
            headers=headers,
            body=upstream_body,
            first_byte_timeout=self.settings.first_byte_timeout,
        )
        try:
            if resp.status >= 400:
                raw = await resp.read(timeout=self.settings.request_timeout, limit=MAX_ERROR_BODY)
                raise upstream_error(resp.status, raw, resp.headers, target.provider.id)
            if info.stream:
                await self._relay_stream(req, call, resp, upstream_dialect, dialect, info.include_usage)
            else:
                await self._relay_json(req, call, resp, upstream_dialect, dialect)
        finally:
            resp.close()

    @staticmethod
    def _check_key_models(key: ApiKeyRow | None, target: Target) -> None:
        if key is None or not key.allowed_models:
            return
        names = (
            f"{target.provider.id}/{target.model}",
            f"{target.provider.alias}/{target.model}",
            target.model,
        )
        if not model_allowed(key.allowed_models, names):
            raise GatewayError(
                403,
                f"This API key may not use model '{target.provider.alias}/{target.model}'",
                code="model_not_allowed",
                error_type="permission_error",
            )

    async def _relay_json(
        self, req: Request, call: CallState, resp: UpstreamResponse, upstream: str, client: str
    ) -> None:
        raw = await resp.read(timeout=self.settings.request_timeout)
        body, usage = _core.translate_response(raw, upstream, client)
        call.usage = usage
        call.status, call.outcome = 200, "success"
        req.respond(200, body, headers=passthrough_headers(resp.headers))

    async def _relay_stream(
        self,
        req: Request,
        call: CallState,
        resp: UpstreamResponse,
        upstream: str,
        client: str,
        include_usage: bool,
    ) -> None:
        translator = _core.StreamTranslator(upstream, client, include_usage=include_usage)
        chunks = resp.chunks()
        # Wait for the first translated bytes before committing to a 200: until then a
        # failure is still an ordinary error answer.
        pending = b""
        try:
            async for chunk in chunks:
                pending = translator.feed(chunk)
                if pending or translator.state != "open":
                    break
            else:
                pending = translator.finish()
        except UpstreamError:
            if not pending:
                raise
        if translator.state == "failed" and not pending.strip():
            raise GatewayError(
                502, translator.error_message or "upstream stream failed", code="upstream_error"
            )
        transport = req.start_stream(200, passthrough_headers(resp.headers))
        call.status = 200
        call.ttft_ms = now_ms(req.started)
        try:
            await transport.send_bytes(pending)
            if translator.state == "open":
                try:
                    async for chunk in chunks:
                        out = translator.feed(chunk)
                        if out:
                            await transport.send_bytes(out)
                        if translator.state != "open":
                            break
                    tail = translator.finish()
                except UpstreamError as exc:
                    tail = translator.fail(str(exc))
                if tail:
                    await transport.send_bytes(tail)
        except OSError as exc:  # the client's side of the stream closed
            raise ClientDisconnectedError from exc
        except Exception as exc:
            if exc.__class__.__name__ in ("RSGIProtocolClosed", "ProtocolClosed"):
                raise ClientDisconnectedError from exc
            raise
        call.usage = translator.usage
        if translator.state == "completed":
            call.outcome = "success"
        else:
            call.outcome = "stream_failed"
            call.error = translator.error_message

    def _record(self, req: Request, call: CallState, route: str, dialect: str) -> None:
        latency = now_ms(req.started)
        usage = call.usage
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
        )
        self.rt.usage.record(record)
        if access_log.isEnabledFor(logging.INFO):
            fields: dict[str, Any] = {
                "request_id": req.request_id,
                "route": route,
                "dialect": dialect,
                "provider": call.provider,
                "model": call.model,
                "status": call.status,
                "outcome": call.outcome,
                "stream": call.stream,
                "latency_ms": latency,
                "ttft_ms": call.ttft_ms,
                "input_tokens": record.input_tokens,
                "output_tokens": record.output_tokens,
            }
            if call.error:
                fields["error"] = call.error[:300]
            access_log.info("request", extra={"fields": fields})
