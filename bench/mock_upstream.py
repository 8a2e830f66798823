"""A lean OpenAI-compatible upstream for load tests: raw asyncio protocol on uvloop, canned bytes.

The test mock (tests/mock_provider) records every request and runs aiohttp, which is right for
tests and too slow to sit behind a gateway under load. This one parses only what it must (request
line, content-length, the `model` value) and answers from pre-built bytes, so one core serves
tens of thousands of small requests per second. The harness checks that claim in every run by
measuring it directly (the `direct` target).

Behaviour is chosen by the model name (its last `/` segment, so `openai/bench-s20` works through
gateways that strip the provider prefix and through plain proxies that do not):

    bench-chat                 any non-streaming request: one small chat completion (JSON)
    bench-s<N>                 streaming: N content events, a usage event, `[DONE]`
    bench-s<N>-d<MS>           the same with MS milliseconds between events (slow streams)

A request whose body asks for `"stream": true` streams; anything else gets the JSON answer.
`GET /v1/models` lists the models; `GET /bench/stats` returns the request count.

Run: `python -m bench.mock_upstream --port 0` prints `listening on http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import socket
import sys
from functools import lru_cache
from typing import cast

_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"]{1,200})"')
_SLOW_RE = re.compile(r"-s(\d+)(?:-d(\d+))?$")
CREATED = 1_700_000_000


def _response(status: str, content_type: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n"
        f"x-request-id: req_bench\r\n{extra}\r\n"
    )
    return head.encode() + body


@lru_cache(maxsize=256)
def chat_response(model: str) -> bytes:
    body = {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello from the benchmark upstream."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    }
    return _response("200 OK", "application/json", json.dumps(body, separators=(",", ":")).encode())


def _chunk(payload: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(payload), payload)


@lru_cache(maxsize=256)
def stream_parts(model: str, events: int) -> tuple[bytes, tuple[bytes, ...]]:
    """(response head, one chunked-encoding frame per SSE event, the terminator last)."""
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        b"transfer-encoding: chunked\r\nx-request-id: req_bench\r\n\r\n"
    )
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED, "model": model}

    def event(choices: list[object], **extra: object) -> bytes:
        data = json.dumps({**base, "choices": choices, **extra}, separators=(",", ":"))
        return _chunk(f"data: {data}\n\n".encode())

    frames = [event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
    frames += [
        event([{"index": 0, "delta": {"content": f"tok{i} "}, "finish_reason": None}]) for i in range(events)
    ]
    frames.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    usage = {"prompt_tokens": 12, "completion_tokens": events, "total_tokens": 12 + events}
    frames.append(event([], usage=usage))
    frames.append(_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
    return head, tuple(frames)


def models_response() -> bytes:
    names = ["bench-chat", "bench-s20", "bench-s200"]
    data = [{"id": m, "object": "model", "created": CREATED, "owned_by": "bench"} for m in names]
    return _response("200 OK", "application/json", json.dumps({"object": "list", "data": data}).encode())


def _not_found() -> bytes:
    body = b'{"error":{"message":"not found","type":"invalid_request_error","code":"not_found"}}'
    return _response("404 Not Found", "application/json", body)


class Stats:
    requests = 0


class MockProtocol(asyncio.Protocol):
    """One keep-alive connection; requests are answered in order (no pipelining overlap)."""

    __slots__ = ("_body_len", "_buf", "_busy", "_closed", "_head", "_transport")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._head: bytes | None = None
        self._body_len = 0
        self._transport: asyncio.Transport | None = None
        self._busy = False
        self._closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._process()

    def _process(self) -> None:
        while not self._busy:
            if self._head is None:
                end = self._buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                self._head = bytes(self._buf[:end])
                del self._buf[: end + 4]
                self._body_len = _content_length(self._head)
            if len(self._buf) < self._body_len:
                return
            body = bytes(self._buf[: self._body_len])
            del self._buf[: self._body_len]
            head, self._head = self._head, None
            self._answer(head, body)

    def _answer(self, head: bytes, body: bytes) -> None:
        assert self._transport is not None
        Stats.requests += 1
        line_end = head.find(b"\r\n")
        method, _, rest = head[: line_end if line_end >= 0 else len(head)].partition(b" ")
        path = rest.partition(b" ")[0].partition(b"?")[0]
        write = self._transport.write
        if method == b"GET":
            if path.endswith(b"/models"):
                write(models_response())
            elif path == b"/bench/stats":
                write(_response("200 OK", "application/json", b'{"requests":%d}' % Stats.requests))
            else:
                write(_not_found())
            return
        if not path.endswith(b"/chat/completions"):
            write(_not_found())
            return
        match = _MODEL_RE.search(body)
        model = match.group(1).decode().rsplit("/", 1)[-1] if match else "bench-chat"
        if not _STREAM_RE.search(body):
            write(chat_response(model))
            return
        spec = _SLOW_RE.search(model)
        events = int(spec.group(1)) if spec else 20
        delay_ms = int(spec.group(2)) if spec and spec.group(2) else 0
        head_bytes, frames = stream_parts(model, events)
        if delay_ms == 0:
            write(head_bytes)
            # One write per event, as a real upstream sends tokens: the gateway sees them apart.
            for frame in frames:
                write(frame)
            return
        self._busy = True
        write(head_bytes)
        asyncio.get_running_loop().create_task(self._slow(frames, delay_ms / 1000))

    async def _slow(self, frames: tuple[bytes, ...], delay: float) -> None:
        assert self._transport is not None
        for frame in frames:
            if self._closed:
                return
            self._transport.write(frame)
            await asyncio.sleep(delay)
        self._busy = False
        if self._buf:
            self._process()


def _content_length(head: bytes) -> int:
    lower = head.lower()
    idx = lower.find(b"\r\ncontent-length:")
    if idx < 0:
        return 0
    end = lower.find(b"\r\n", idx + 2)
    return int(lower[idx + 17 : end if end >= 0 else len(lower)].strip())


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(MockProtocol, host, port, backlog=4096, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://{host}:{bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mock_upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:  # pragma: no cover - uvloop is a project dependency on Linux
        runner = asyncio.Runner()
    with runner:
        runner.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
