"""Server-Sent Events output: framing, pacing and fault injection shared by streaming handlers.

Owns the script fields that shape the byte stream rather than its content:
first_byte_delay_ms, chunk_delay_ms, cut_after, crlf and split_bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping

from aiohttp import web

from .script import Script


def frame(data: str, *, event: str | None = None, crlf: bool = False) -> bytes:
    """Encode one SSE event (`event:` line optional) with LF or CRLF line endings."""
    eol = "\r\n" if crlf else "\n"
    lines = [f"event: {event}"] if event is not None else []
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return (eol.join(lines) + eol + eol).encode("utf-8")


#: Application key of the callback that records how each stream ended.
OUTCOMES_KEY: web.AppKey[Callable[[str, str], None]] = web.AppKey("stream_outcomes")


async def send_events(
    request: web.Request,
    events: Iterable[tuple[str | None, str]],
    script: Script,
    headers: Mapping[str, str],
) -> web.StreamResponse:
    """Stream `(event_name, data)` pairs as SSE, honouring the script's pacing and faults.

    `cut_after=N` aborts the TCP connection once N events were written (0 = right after the
    headers); when N is at least the number of events, the body is complete but the chunked
    terminator is never sent. Client disconnects end the stream quietly.
    """
    response = web.StreamResponse(status=script.status)
    response.headers.update(headers)
    response.headers["Content-Type"] = "text/event-stream; charset=utf-8"
    response.headers["Cache-Control"] = "no-cache"
    await response.prepare(request)
    try:
        if script.first_byte_delay_ms:
            await asyncio.sleep(script.first_byte_delay_ms / 1000)
        sent = 0
        for event, data in events:
            if script.cut_after is not None and sent >= script.cut_after:
                break
            if sent and script.chunk_delay_ms:
                await asyncio.sleep(script.chunk_delay_ms / 1000)
            await _write(response, frame(data, event=event, crlf=script.crlf), script.split_bytes)
            sent += 1
        if script.cut_after is not None and sent >= script.cut_after:
            await _abort(request)
            _report(request, headers, "cut")
            return response
    except ConnectionError:
        _report(request, headers, "client_gone")
        return response
    # Every event was written: the stream is complete even if the client, having read its last
    # event (`[DONE]`, `message_stop`), hangs up before the chunked terminator goes out.
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    _report(request, headers, "complete")
    return response


def _report(request: web.Request, headers: Mapping[str, str], outcome: str) -> None:
    record = request.app.get(OUTCOMES_KEY)
    if record is not None:
        record(headers.get("x-request-id", ""), outcome)


async def _write(response: web.StreamResponse, payload: bytes, split_bytes: int | None) -> None:
    if not split_bytes:
        await response.write(payload)
        return
    for start in range(0, len(payload), split_bytes):
        await response.write(payload[start : start + split_bytes])
        await asyncio.sleep(0)


async def _abort(request: web.Request) -> None:
    """Let already-written bytes reach the kernel, then drop the connection without a terminator."""
    transport = request.transport
    if transport is None:
        return
    for _ in range(200):
        if transport.is_closing() or transport.get_write_buffer_size() == 0:
            break
        await asyncio.sleep(0.005)
    # A reset can make the peer's kernel drop bytes it received but has not read yet: give the
    # client a moment to read what was sent, so a cut is always "after these events".
    await asyncio.sleep(0.05)
    transport.abort()
