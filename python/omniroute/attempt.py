"""One upstream attempt: translate the body for the target, send it, relay the answer.

Anything that goes wrong before the client received a byte is raised as `AttemptFailure`
(status, headers and body of the upstream's answer, or the kind of transport failure), so the
fallback loop can classify it and move on. Once bytes reached the client the attempt owns the
outcome: failures are reported in band by the relay and returned in the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

from omniroute import _core
from omniroute.errors import (
    GatewayError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from omniroute.http.request import Request
from omniroute.observability.timing import upstream_wait
from omniroute.providers.executor import chat_url
from omniroute.relay import RelayResult, relay_json, relay_stream
from omniroute.routing.catalog import Account
from omniroute.routing.resolve import Target
from omniroute.upstream.client import MAX_ERROR_BODY
from omniroute.upstream.errors import upstream_error
from omniroute.upstream.h1 import Body, joined

if TYPE_CHECKING:
    from omniroute.gateway import Gateway
    from omniroute.observability.request_log import CallTrace

#: Client bodies from this size on are sent upstream as parts of themselves (no copy of a
#: megabyte image for a model rewrite); below it one small copy is cheaper than the parts.
PARTS_FROM = 64 * 1024

TransportError = Literal["timeout", "connect", "protocol"]


class AttemptFailure(Exception):
    """An attempt that failed before the client saw anything."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        transport: TransportError | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers: Mapping[str, str] = headers or {}
        self.body = body
        self.transport = transport

    def as_client_error(self, provider: str) -> GatewayError:
        """The upstream's own answer, for the client, when the chain stops here."""
        if self.status is not None:
            return upstream_error(self.status, self.body, self.headers, provider)
        status = 504 if self.transport == "timeout" else 502
        return GatewayError(status, self.message, code="upstream_error")


class AttemptInput:
    """The parts of a call every attempt shares."""

    __slots__ = ("body", "dialect", "include_usage", "response_id", "stream", "trace")

    def __init__(
        self,
        *,
        body: bytes,
        dialect: str,
        stream: bool,
        include_usage: bool,
        response_id: str | None,
        trace: CallTrace | None = None,
    ):
        self.body = body
        self.dialect = dialect
        self.stream = stream
        self.include_usage = include_usage
        self.response_id = response_id
        #: The call's request-log trace (attempts, first byte, capture), when it has one.
        self.trace = trace


async def run_attempt(
    gateway: Gateway,
    req: Request,
    call: AttemptInput,
    target: Target,
    account: Account,
) -> RelayResult:
    trace = call.trace
    if trace is None:
        return await _attempt(gateway, req, call, target, account)
    trace.begin_attempt(target.provider.id, target.model, account.name, target.provider.dialect)
    try:
        result = await _attempt(gateway, req, call, target, account)
    except AttemptFailure as failure:
        trace.end_attempt(failure.message)
        raise
    except BaseException as exc:
        trace.end_attempt(str(exc) or exc.__class__.__name__)
        raise
    trace.end_attempt(None if result.completed else result.error)
    return result


async def _attempt(
    gateway: Gateway,
    req: Request,
    call: AttemptInput,
    target: Target,
    account: Account,
) -> RelayResult:
    settings = gateway.settings
    trace = call.trace
    upstream_dialect = target.provider.dialect
    spec = target.provider
    # A large body goes upstream as parts of the client's own bytes around the rewritten model.
    upstream_body: Body = _core.translate_request(
        call.body,
        call.dialect,
        upstream_dialect,
        model=target.model,
        force_stream_usage=call.stream and spec.stream_usage,
        merge_system=bool(spec.no_system_role) and target.model.startswith(spec.no_system_role),
        stream=call.stream,
        parts=len(call.body) >= PARTS_FROM,
    )
    headers = gateway.upstream_headers(req, account)
    headers["accept"] = "text/event-stream" if call.stream else "application/json"
    url = chat_url(account, target.model, stream=call.stream)
    if trace is not None and trace.capture is not None:
        trace.capture.note_upstream_request("POST", url, headers, joined(upstream_body))
    try:
        with upstream_wait(req):
            resp = await gateway.rt.upstream.send(
                "POST",
                url,
                headers=headers,
                body=upstream_body,
                first_byte_timeout=settings.first_byte_timeout,
            )
    except UpstreamTimeoutError as exc:
        raise AttemptFailure(str(exc), transport="timeout") from None
    except UpstreamConnectError as exc:
        raise AttemptFailure(str(exc), transport="connect") from None
    except UpstreamError as exc:
        raise AttemptFailure(str(exc), transport="connect") from None
    if trace is not None:
        trace.first_byte(resp.status)
        if trace.capture is not None:
            resp = trace.capture.note_upstream_response(resp)
    try:
        if resp.status < 400:
            # Failures are the cooldowns' business; a success still says how much budget is left.
            gateway.rt.limits.learn_from_headers(account.key, resp.headers)
        else:
            try:
                with upstream_wait(req):
                    raw = await resp.read(timeout=settings.request_timeout, limit=MAX_ERROR_BODY)
            except UpstreamError:
                raw = b""
            message = upstream_error(resp.status, raw, resp.headers, spec.id).message
            raise AttemptFailure(message, status=resp.status, headers=resp.headers, body=raw)
        try:
            if call.stream:
                return await relay_stream(
                    req,
                    resp,
                    upstream=upstream_dialect,
                    client=call.dialect,
                    include_usage=call.include_usage,
                    response_id=call.response_id,
                    keepalive=settings.stream_keepalive,
                )
            return await relay_json(
                req,
                resp,
                upstream=upstream_dialect,
                client=call.dialect,
                timeout=settings.request_timeout,
                response_id=call.response_id,
            )
        except UpstreamTimeoutError as exc:
            raise AttemptFailure(str(exc), transport="timeout") from None
        except (UpstreamError, UpstreamProtocolError) as exc:
            raise AttemptFailure(str(exc), transport="protocol") from None
        except GatewayError as exc:
            if req.responded:
                raise
            raise AttemptFailure(exc.message, transport="protocol") from None
    finally:
        resp.close()
