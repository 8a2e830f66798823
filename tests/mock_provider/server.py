"""MockProvider: a real aiohttp server on 127.0.0.1, run in a background thread.

Owns the thread/event-loop lifecycle, routing, request recording, the script FIFO and the
`/v1/models` listing. Protocol handlers (openai_chat, ...) build the actual responses.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from . import openai_chat
from .script import Script
from .sse import OUTCOMES_KEY

DEFAULT_MODELS = ["gpt-4o-mini", "gpt-4o", "mock-model"]

ScriptedHandler = Callable[
    [web.Request, Mapping[str, Any], Script, Mapping[str, str]], Awaitable[web.StreamResponse]
]

# path -> handler for endpoints whose response is driven by a Script.
_SCRIPTED_ROUTES: dict[str, ScriptedHandler] = {
    "/v1/chat/completions": openai_chat.handle,
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the mock received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any
    request_id: str


class MockProvider:
    """Scriptable upstream LLM provider; see tests/mock_provider/__init__.py for usage."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, models: list[str] | None = None) -> None:
        self.host = host
        self.models: list[str] = list(DEFAULT_MODELS if models is None else models)
        self._requested_port = port
        self._port: int | None = None
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        #: request id -> how its stream ended: "complete", "cut" or "client_gone".
        self._outcomes: dict[str, str] = {}
        self._scripts: collections.deque[Script] = collections.deque()
        self._counter = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    # ---- public API -------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("MockProvider is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of the recorded requests, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def stream_outcomes(self) -> dict[str, str]:
        """How each streamed response ended, by the `x-request-id` it was sent with."""
        with self._lock:
            return dict(self._outcomes)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._scripts.clear()

    def enqueue(self, script: Mapping[str, Any] | Script) -> None:
        """Queue a script (validated now) for the next request that carries no inline `mock`."""
        parsed = script if isinstance(script, Script) else Script.from_dict(script)
        with self._lock:
            self._scripts.append(parsed)

    def start(self) -> Self:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._run,
            args=(loop, sock, ready, failure),
            name=f"mock-provider-{self._port}",
            daemon=True,
        )
        self._loop, self._thread = loop, thread
        thread.start()
        if not ready.wait(10) or failure:
            self.stop()
            raise RuntimeError("MockProvider failed to start") from (failure[0] if failure else None)
        return self

    def stop(self) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None:
            return
        if stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        self._thread = self._loop = self._stop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- server thread ----------------------------------------------------------------
    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        ready: threading.Event,
        failure: list[BaseException],
    ) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve(sock, ready))
        except BaseException as exc:
            failure.append(exc)
            ready.set()
        finally:
            sock.close()
            loop.close()

    async def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app[OUTCOMES_KEY] = self._record_outcome
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        try:
            await web.SockSite(runner, sock).start()
            ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    # ---- request handling -------------------------------------------------------------
    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        request_id = f"req_mock_{next(self._counter)}"
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query.items()),
            headers=headers,
            body=raw,
            json=parsed,
            request_id=request_id,
        )
        with self._lock:
            self._requests.append(record)
        base_headers = {"x-request-id": request_id}

        if request.path == "/v1/models":
            if request.method != "GET":
                return openai_chat.error_response(405, "Method not allowed.", headers=base_headers)
            return web.json_response(self._models_body(), headers=base_headers)
        handler = _SCRIPTED_ROUTES.get(request.path)
        if handler is None:
            return openai_chat.error_response(
                404, f"Unknown request URL: {request.method} {request.path}.", headers=base_headers
            )
        if request.method != "POST":
            return openai_chat.error_response(405, "Method not allowed.", headers=base_headers)
        if not isinstance(parsed, dict):
            return openai_chat.error_response(
                400, "Request body must be a JSON object.", headers=base_headers
            )
        try:
            script = self._script_for(parsed)
        except (TypeError, ValueError) as exc:
            return openai_chat.error_response(400, f"Invalid mock script: {exc}", headers=base_headers)
        if script.delay_ms:
            await asyncio.sleep(script.delay_ms / 1000)
        return await handler(request, parsed, script, {**base_headers, **script.headers})

    def _record_outcome(self, request_id: str, outcome: str) -> None:
        with self._lock:
            self._outcomes[request_id] = outcome

    def _script_for(self, body: Mapping[str, Any]) -> Script:
        if "mock" in body:
            return Script.from_dict(body["mock"])
        with self._lock:
            return self._scripts.popleft() if self._scripts else Script()

    def _models_body(self) -> dict[str, Any]:
        created = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": created, "owned_by": "mock"}
                for m in list(self.models)
            ],
        }
