"""Relaying an upstream answer to the client: whole bodies and streams, in the client's dialect.

A stream is committed (status 200 sent) only once the first translated bytes exist, so a
failure before that is still an ordinary error answer. After that, failures are reported in
band by the translator and the stream never ends as if it had succeeded. While the upstream is
silent, a keep-alive goes out every `keepalive` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from omniroute import _core
from omniroute.errors import GatewayError, UpstreamError
from omniroute.http.request import ClientDisconnectedError, Request
from omniroute.observability.logging import now_ms
from omniroute.observability.timing import timed_chunks, upstream_wait
from omniroute.upstream.client import UpstreamResponse
from omniroute.upstream.errors import passthrough_headers


class RelayResult:
    __slots__ = ("completed", "error", "final_response", "ttft_ms", "usage")

    def __init__(self) -> None:
        self.usage: _core.Usage | None = None
        self.ttft_ms: float | None = None
        self.completed = False
        self.error: str | None = None
        #: The answer as the client saw it (non-stream body, or a Responses stream's
        #: `response.completed` payload), for callers that store it.
        self.final_response: bytes | None = None


async def relay_json(
    req: Request,
    resp: UpstreamResponse,
    *,
    upstream: str,
    client: str,
    timeout: float,
    response_id: str | None,
) -> RelayResult:
    with upstream_wait(req):
        raw = await resp.read(timeout=timeout)
    body, usage = _core.translate_response(
        raw, upstream, client, created=int(time.time()), response_id=response_id
    )
    req.respond(200, body, headers=passthrough_headers(resp.headers))
    result = RelayResult()
    result.usage, result.completed, result.final_response = usage, True, body
    return result


def _is_closed_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or exc.__class__.__name__ in ("RSGIProtocolClosed", "ProtocolClosed")


class _KeepAlive:
    """Sends a keep-alive when nothing went to the client for `interval` seconds."""

    def __init__(self, transport: Any, payload: bytes, interval: float) -> None:
        self._transport = transport
        self._payload = payload
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._handle: asyncio.TimerHandle | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._loop.call_later(self._interval, self._fire)

    def _fire(self) -> None:
        task = self._loop.create_task(self._send())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        self.arm()

    async def _send(self) -> None:
        # A failed keep-alive means the client left; the relay loop notices on its next send.
        with contextlib.suppress(Exception):
            await self._transport.send_bytes(self._payload)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def relay_stream(
    req: Request,
    resp: UpstreamResponse,
    *,
    upstream: str,
    client: str,
    include_usage: bool,
    response_id: str | None,
    keepalive: float,
) -> RelayResult:
    result = RelayResult()
    translator = _core.StreamTranslator(
        upstream, client, include_usage=include_usage, created=int(time.time()), response_id=response_id
    )
    chunks = timed_chunks(req, resp.chunks())
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
        raise GatewayError(502, translator.error_message or "upstream stream failed", code="upstream_error")
    transport = req.start_stream(200, passthrough_headers(resp.headers))
    result.ttft_ms = now_ms(req.started)
    pinger = _KeepAlive(transport, _core.keepalive(client), keepalive)
    try:
        await transport.send_bytes(pending)
        if translator.state == "open":
            pinger.arm()
            try:
                async for chunk in chunks:
                    out = translator.feed(chunk)
                    if out:
                        pinger.arm()
                        await transport.send_bytes(out)
                    if translator.state != "open":
                        break
                tail = translator.finish()
            except UpstreamError as exc:
                tail = translator.fail(str(exc))
            pinger.stop()
            if tail:
                await transport.send_bytes(tail)
    except Exception as exc:
        if _is_closed_error(exc):
            raise ClientDisconnectedError from exc
        raise
    finally:
        pinger.stop()
    result.usage = translator.usage
    result.completed = translator.state == "completed"
    result.error = translator.error_message
    completed = translator.completed_response
    if completed is not None:
        result.final_response = completed.encode()
    return result
