"""One inbound RSGI request: headers, bounded body read, response writers, disconnect race."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from omniroute import _core
from omniroute.errors import GatewayError

T = TypeVar("T")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def has_lone_surrogate(body: bytes) -> bool:
    """JSON text `body` escapes a UTF-16 surrogate without its pair (`"\\ud800"`): no Unicode
    text, refused by the JSON decoders and by the providers, yet forwarded unread by the core's
    passthrough paths (and unparseable when an upstream echoes it back). Scanned by the core."""
    return _core.has_lone_surrogate(body)


#: Seconds a call runs before the gateway starts watching for its client to disconnect.
WATCH_AFTER = 0.25


class ClientDisconnectedError(Exception):
    """The client went away before the answer was complete."""


def new_request_id() -> str:
    # Unique, not secret: the per-process generator (reseeded after fork) costs no system call.
    return f"req_{random.getrandbits(96):024x}"


class Request:
    __slots__ = (
        "_query",
        "body_read",
        "extra_headers",
        "method",
        "path",
        "protocol",
        "query_string",
        "request_id",
        "responded",
        "scope",
        "started",
    )

    def __init__(self, scope: Any, protocol: Any) -> None:
        self.scope = scope
        self.protocol = protocol
        self.method: str = scope.method
        self.path: str = scope.path
        self.query_string: str = scope.query_string
        self.started = time.perf_counter()
        client_id = scope.headers.get("x-request-id")
        self.request_id = client_id if client_id and _CLIENT_ID.match(client_id) else new_request_id()
        self.responded = False
        #: The whole request body was read (see `base_headers`).
        self.body_read = False
        self._query: dict[str, list[str]] | None = None
        #: Headers added to every answer (CORS headers set by the network guard).
        self.extra_headers: list[tuple[str, str]] = []

    def header(self, name: str) -> str | None:
        value: str | None = self.scope.headers.get(name)
        return value

    def query(self, name: str) -> str | None:
        if self._query is None:
            self._query = parse_qs(self.query_string, keep_blank_values=True)
        values = self._query.get(name)
        return values[0] if values else None

    @property
    def client_addr(self) -> str:
        return str(self.scope.client)

    async def read_body(self, limit: int) -> bytes:
        declared = self.header("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise GatewayError(413, f"Request body exceeds {limit} bytes", code="request_too_large")
        if declared is not None and declared.isdigit():
            # A declared length within the limit: one read of the whole body, in Granian (far
            # cheaper than iterating its chunks here; the memory is the same either way).
            body: bytes = await self.protocol()
        else:
            parts: list[bytes] = []
            size = 0
            async for chunk in self.protocol:
                size += len(chunk)
                if size > limit:
                    raise GatewayError(413, f"Request body exceeds {limit} bytes", code="request_too_large")
                parts.append(chunk)
            body = b"".join(parts)
        if len(body) > limit:
            raise GatewayError(413, f"Request body exceeds {limit} bytes", code="request_too_large")
        self.body_read = True
        if has_lone_surrogate(body):
            raise GatewayError(
                400,
                "invalid JSON: a string escapes a lone UTF-16 surrogate (\\ud800-\\udfff)",
                code="invalid_json",
            )
        return body

    def body_unread(self) -> bool:
        """An HTTP/1 request body was announced but not (fully) read. The server then closes the
        connection after the answer, so the answer must say so (`connection: close`): a keep-alive
        client would otherwise send its next request into the closing connection and fail."""
        if self.body_read or not str(getattr(self.scope, "http_version", "1.1")).startswith("1"):
            return False
        length = self.header("content-length")
        if length is not None:
            return length.strip() != "0"
        return self.header("transfer-encoding") is not None

    def base_headers(self, content_type: str | None) -> list[tuple[str, str]]:
        headers = [("x-request-id", self.request_id)]
        if content_type:
            headers.append(("content-type", content_type))
        if self.body_unread():
            headers.append(("connection", "close"))
        headers.extend(self.extra_headers)
        return headers

    def respond(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.responded = True
        self.protocol.response_bytes(status, [*self.base_headers(content_type), *headers], body)

    def start_stream(self, status: int, headers: Iterable[tuple[str, str]]) -> Any:
        self.responded = True
        return self.protocol.response_stream(
            status,
            [
                *self.base_headers("text/event-stream; charset=utf-8"),
                ("cache-control", "no-cache"),
                ("x-accel-buffering", "no"),
                *headers,
            ],
        )

    async def until_disconnect(self, work: Awaitable[T]) -> T:
        """Runs `work` in the current task, cancelling it if the client disconnects first.

        Watching costs a Granian future per request (and cancelling it is not cheap), so the
        watch starts only once the work has run for `WATCH_AFTER` seconds: a quick answer never
        pays for it, and a long one (any real generation) is still cancelled, through its
        upstream call, when the client goes away. The disconnect callback cancels the current
        task; that cancellation (only that one) becomes `ClientDisconnectedError`."""
        loop = asyncio.get_running_loop()
        current = asyncio.current_task()
        watcher: asyncio.Future[Any] | None = None
        gone = False

        def on_disconnect(done: asyncio.Future[Any]) -> None:
            nonlocal gone
            if not done.cancelled() and current is not None:
                gone = True
                current.cancel()

        def watch() -> None:
            nonlocal watcher
            watcher = asyncio.ensure_future(self.protocol.client_disconnect())
            watcher.add_done_callback(on_disconnect)

        timer = loop.call_later(WATCH_AFTER, watch)
        try:
            return await work
        except asyncio.CancelledError:
            if gone and current is not None and current.uncancel() == 0:
                raise ClientDisconnectedError from None
            raise
        finally:
            timer.cancel()
            if watcher is not None:
                watcher.remove_done_callback(on_disconnect)
                watcher.cancel()
