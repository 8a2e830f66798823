"""MockProvider: a real aiohttp server on 127.0.0.1, run in a background thread.

Owns the thread/event-loop lifecycle, routing, request recording, the script FIFO and the
model listings. Protocol handlers (openai_chat, openai_responses, anthropic_messages, gemini)
build the actual responses.

Routes (unknown paths 404 in OpenAI's error shape, or Gemini's under /v1beta/):
    POST /v1/chat/completions                       OpenAI Chat Completions (scripted)
    POST /v1/responses                              OpenAI Responses (scripted)
    POST /v1/messages                               Anthropic Messages (scripted; needs x-api-key
                                                    or authorization, else 401)
    POST /v1/messages/count_tokens                  Anthropic token count (same auth)
    GET  /v1/models                                 OpenAI list; Anthropic's with anthropic-version
    POST /v1beta/models/{model}:generateContent     Gemini (scripted; needs x-goog-api-key or
    POST /v1beta/models/{model}:streamGenerateContent   ?key=, else 403; streaming needs ?alt=sse)
    POST /v1beta/models/{model}:countTokens         Gemini token count
    GET  /v1beta/models, /v1beta/models/{model}     Gemini model listing / lookup
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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from aiohttp import web

from . import anthropic_messages, gemini, openai_chat, openai_responses
from .common import SEQ_KEY
from .script import Script
from .sse import OUTCOMES_KEY

DEFAULT_MODELS = ["gpt-4o-mini", "gpt-4o", "mock-model"]

ScriptedHandler = Callable[
    [web.Request, Mapping[str, Any], Script, Mapping[str, str]], Awaitable[web.StreamResponse]
]
#: Unscripted endpoints (token counts, model listings): (request, parsed body, headers, models).
PlainHandler = Callable[[web.Request, Any, Mapping[str, str], Sequence[str]], web.StreamResponse]
#: Runs before the script is taken (auth, query checks); returns an error response or None.
Precheck = Callable[[web.Request, Mapping[str, str]], web.Response | None]


class ErrorFactory(Protocol):
    def __call__(
        self, status: int, message: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> web.Response: ...


def _no_headers(request_id: str) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class _Dialect:
    error: ErrorFactory
    extra_headers: Callable[[str], dict[str, str]] = _no_headers


_OPENAI = _Dialect(openai_chat.error_response)
_ANTHROPIC = _Dialect(anthropic_messages.error_response, anthropic_messages.extra_headers)
_GEMINI = _Dialect(gemini.error_response)


@dataclass(frozen=True)
class _Route:
    method: str
    dialect: _Dialect
    scripted: ScriptedHandler | None = None
    plain: PlainHandler | None = None
    precheck: Precheck | None = None


def _list_models(
    request: web.Request, body: Any, headers: Mapping[str, str], models: Sequence[str]
) -> web.StreamResponse:
    if "anthropic-version" in request.headers:
        return web.json_response(anthropic_messages.models_body(models), headers=headers)
    created = int(time.time())
    data = [{"id": m, "object": "model", "created": created, "owned_by": "mock"} for m in models]
    return web.json_response({"object": "list", "data": data}, headers=headers)


_ROUTES: dict[str, _Route] = {
    "/v1/models": _Route("GET", _OPENAI, plain=_list_models),
    "/v1/chat/completions": _Route("POST", _OPENAI, scripted=openai_chat.handle),
    "/v1/responses": _Route("POST", _OPENAI, scripted=openai_responses.handle),
    "/v1/messages": _Route(
        "POST", _ANTHROPIC, scripted=anthropic_messages.handle, precheck=anthropic_messages.check_auth
    ),
    "/v1/messages/count_tokens": _Route(
        "POST", _ANTHROPIC, plain=anthropic_messages.count_tokens, precheck=anthropic_messages.check_auth
    ),
    gemini.MODELS_PATH: _Route("GET", _GEMINI, plain=gemini.list_models, precheck=gemini.check_auth),
}

# Gemini `/v1beta/models/{model}:{method}` routes by method (None: `GET /v1beta/models/{model}`).
_GEMINI_ROUTES: dict[str | None, _Route] = {
    None: _Route("GET", _GEMINI, plain=gemini.get_model, precheck=gemini.check_auth),
    "generateContent": _Route("POST", _GEMINI, scripted=gemini.handle, precheck=gemini.check_auth),
    "streamGenerateContent": _Route(
        "POST", _GEMINI, scripted=gemini.handle, precheck=gemini.check_stream_request
    ),
    "countTokens": _Route("POST", _GEMINI, plain=gemini.count_tokens, precheck=gemini.check_auth),
}


def _route_for(path: str) -> _Route | None:
    route = _ROUTES.get(path)
    if route is not None:
        return route
    parsed = gemini.split_model_path(path)
    return _GEMINI_ROUTES.get(parsed[1]) if parsed is not None else None


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
        #: Upstream API key -> the script every request carrying it gets (a whole account failing).
        self._key_scripts: dict[str, Script] = {}
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
            self._key_scripts.clear()

    def script_for_key(self, api_key: str, script: Mapping[str, Any] | Script) -> None:
        """Every later request authenticated with `api_key` gets `script` (until `clear()`);
        it wins over the FIFO but not over an inline `mock` field."""
        parsed = script if isinstance(script, Script) else Script.from_dict(script)
        with self._lock:
            self._key_scripts[api_key] = parsed

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
        except (ValueError, RecursionError):
            parsed = None
        seq = next(self._counter)
        request_id = f"req_mock_{seq}"
        request[SEQ_KEY] = seq
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

        route = _route_for(request.path)
        if route is None:
            dialect = _GEMINI if request.path.startswith(gemini.PREFIX) else _OPENAI
            return dialect.error(
                404,
                f"Unknown request URL: {request.method} {request.path}.",
                headers={"x-request-id": request_id},
            )
        base_headers = {"x-request-id": request_id, **route.dialect.extra_headers(request_id)}
        error = route.dialect.error
        if request.method != route.method:
            return error(405, "Method not allowed.", headers=base_headers)
        if route.precheck is not None:
            denied = route.precheck(request, base_headers)
            if denied is not None:
                return denied
        if route.plain is not None:
            return route.plain(request, parsed, base_headers, list(self.models))
        assert route.scripted is not None
        if not isinstance(parsed, dict):
            return error(400, "Request body must be a JSON object.", headers=base_headers)
        try:
            script = self._script_for(parsed, request)
        except (TypeError, ValueError) as exc:
            return error(400, f"Invalid mock script: {exc}", headers=base_headers)
        if script.delay_ms:
            await asyncio.sleep(script.delay_ms / 1000)
        return await route.scripted(request, parsed, script, {**base_headers, **script.headers})

    def _record_outcome(self, request_id: str, outcome: str) -> None:
        with self._lock:
            self._outcomes[request_id] = outcome

    def _script_for(self, body: Mapping[str, Any], request: web.Request) -> Script:
        if "mock" in body:
            return Script.from_dict(body["mock"])
        key = _presented_key(request)
        with self._lock:
            if key is not None and key in self._key_scripts:
                return self._key_scripts[key]
            return self._scripts.popleft() if self._scripts else Script()


def _presented_key(request: web.Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return (
        request.headers.get("x-api-key") or request.headers.get("x-goog-api-key") or request.query.get("key")
    )
