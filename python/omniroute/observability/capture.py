"""Debug capture of one call: client request, translated upstream request, raw upstream response
and client response, each bounded and redacted.

Capture is off by default. It is on for every call with `[logging] capture = true`, and for one
call when the request carries `x-omniroute-capture: 1` together with the admin token in
`x-omniroute-admin-token` (inference keys never switch it on). A call that is not captured
pays nothing: the hooks are objects installed only for captured calls (a protocol wrapper on
the client side, a response wrapper on the upstream side).

Each part keeps at most `capture_max_bytes` of its body (plus a margin, so that a secret cut by
the limit is still recognised and removed before the cut). Redaction, applied when the capture
is rendered for storage: the values of `Authorization` (scheme kept), `Proxy-Authorization`,
`x-api-key`, `x-goog-api-key`, `x-omniroute-admin-token`, `Cookie` and `Set-Cookie` headers;
the `key`, `api_key`, `apikey`, `access_token` and `token` query parameters; and anywhere in
headers, URLs and bodies, the text of every configured upstream key, the caller's inference
key, the admin token and the gateway's other secrets, anything shaped like a generated
inference key (`sk-omr-…`), and any other active inference key: those are stored only as
digests, so every token of 16 or more letters, digits, `-` or `_` is hashed and redacted when
its digest is a key's.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator, Container, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from omniroute.http.request import Request
from omniroute.routing.catalog import Catalog
from omniroute.security.api_keys import hash_key, key_from_headers
from omniroute.settings import Settings
from omniroute.upstream.client import UpstreamResponse

CAPTURE_HEADER = "x-omniroute-capture"
ADMIN_TOKEN_HEADER = "x-omniroute-admin-token"
REDACTED = "[REDACTED]"
#: Headers whose values are secrets, whatever they hold.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "x-goog-api-key",
        ADMIN_TOKEN_HEADER,
        "cookie",
        "set-cookie",
    }
)
#: Query parameters whose values are secrets (Gemini's `?key=`, and the usual spellings).
SECRET_PARAMS = frozenset({"key", "api_key", "apikey", "access_token", "token"})
#: Literal secrets shorter than this are not searched for in text (too many false matches).
MIN_SECRET_LENGTH = 8
_GENERATED_KEY = re.compile(rb"sk-omr-[a-z0-9]{12}-[A-Za-z0-9]{32}")
#: Candidate inference keys, checked against the stored key digests (keys are >= 16 characters).
_TOKEN = re.compile(rb"[A-Za-z0-9_-]{16,}")
_TRUE = ("1", "true", "yes", "on")


def capture_requested(req: Request, admin_token: str | None) -> bool:
    """True when the request asks for a capture and proves it holds the admin token."""
    asked = req.header(CAPTURE_HEADER)
    if asked is None or asked.strip().lower() not in _TRUE or not admin_token:
        return False
    presented = req.header(ADMIN_TOKEN_HEADER)
    return presented is not None and hmac.compare_digest(presented.encode(), admin_token.encode())


def known_secrets(req: Request, catalog: Catalog, settings: Settings) -> list[str]:
    """Text to remove from a capture: every upstream key this worker routes with, the caller's
    inference key (whatever header or query parameter carried it) and the gateway's secrets."""
    found = [a.api_key for accounts in catalog.accounts.values() for a in accounts if a.api_key]
    presented = key_from_headers(req.header, req.query("key") if req.query_string else None)
    for value in (
        presented,
        req.header(ADMIN_TOKEN_HEADER),
        settings.admin_token,
        settings.api_key_secret,
        settings.jwt_secret,
        settings.initial_password,
        settings.encryption_key,
    ):
        if value:
            found.append(value)
    return found


class Part:
    """The first bytes of one body (all of it when it is short), and its full size."""

    __slots__ = ("_keep", "data", "size")

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self.data = bytearray()
        self.size = 0

    def add(self, chunk: bytes | str) -> None:
        raw = chunk.encode() if isinstance(chunk, str) else chunk
        self.size += len(raw)
        room = self._keep - len(self.data)
        if room > 0:
            self.data += raw[:room]


class Exchange:
    """One side of one exchange: where, status, headers and body."""

    __slots__ = ("body", "headers", "method", "status", "url")

    def __init__(self, keep: int) -> None:
        self.method: str | None = None
        self.url: str | None = None
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.body = Part(keep)

    @property
    def seen(self) -> bool:
        return bool(self.url or self.status is not None or self.body.size)


class Capture:
    """The four parts of one call, raw and bounded until `render` redacts them."""

    __slots__ = ("client_request", "client_response", "max_bytes", "upstream_request", "upstream_response")

    #: Extra bytes kept beyond `max_bytes` so redaction sees whole any secret (up to this long)
    #: that straddles the cut.
    MARGIN = 4096

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        keep = max_bytes + self.MARGIN
        self.client_request = Exchange(keep)
        self.upstream_request = Exchange(keep)
        self.upstream_response = Exchange(keep)
        self.client_response = Exchange(keep)

    def note_upstream_request(self, method: str, url: str, headers: dict[str, str], body: bytes) -> None:
        """The last attempt's request replaces an earlier one (its failure is in the attempt log)."""
        self.upstream_request = Exchange(self.max_bytes + self.MARGIN)
        self.upstream_request.method, self.upstream_request.url = method, url
        self.upstream_request.headers = list(headers.items())
        self.upstream_request.body.add(body)
        self.upstream_response = Exchange(self.max_bytes + self.MARGIN)

    def note_upstream_response(self, resp: UpstreamResponse) -> UpstreamResponse:
        """Starts the upstream response part; returns `resp` wrapped so its body is kept too."""
        exchange = self.upstream_response
        exchange.status = resp.status
        exchange.headers = list(resp.headers.items())
        return CapturingUpstreamResponse(resp, exchange.body)

    def render(self, secrets: Iterable[str], key_digests: Container[str] = ()) -> dict[str, Any]:
        """The capture as stored: redacted, each body cut to `max_bytes`."""
        redactor = Redactor(secrets, key_digests)
        parts = {
            "client_request": self.client_request,
            "upstream_request": self.upstream_request,
            "upstream_response": self.upstream_response,
            "client_response": self.client_response,
        }
        out: dict[str, Any] = {"max_bytes": self.max_bytes}
        for name, exchange in parts.items():
            out[name] = redactor.exchange(exchange, self.max_bytes) if exchange.seen else None
        return out


class Redactor:
    """Removes secrets from captured text: by header name, by query parameter, by literal value,
    by the generated-key shape, and by digest for tokens that are stored inference keys."""

    def __init__(self, secrets: Iterable[str] = (), key_digests: Container[str] = ()) -> None:
        #: Longest first, so a secret containing another is replaced whole.
        self.literal = sorted(
            {s.encode() for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
        )
        self.key_digests = key_digests

    def _stored_key(self, match: re.Match[bytes]) -> bytes:
        token = match.group(0)
        return REDACTED.encode() if hash_key(token.decode("ascii")) in self.key_digests else token

    def clean(self, data: bytes) -> bytes:
        marker = REDACTED.encode()
        for secret in self.literal:
            if secret in data:
                data = data.replace(secret, marker)
        data = _GENERATED_KEY.sub(marker, data)
        if self.key_digests:
            data = _TOKEN.sub(self._stored_key, data)
        return data

    def clean_text(self, text: str) -> str:
        return self.clean(text.encode()).decode("utf-8", "replace")

    def body(self, data: bytes, max_bytes: int) -> tuple[str, bool]:
        """Redacts, then cuts to `max_bytes` (redaction first: a cut secret would leak its prefix)."""
        clean = self.clean(data)
        truncated = len(clean) > max_bytes
        if truncated:
            clean = clean[:max_bytes]
        return clean.decode("utf-8", "replace"), truncated

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in headers:
            lowered = name.lower()
            if lowered in SECRET_HEADERS:
                scheme, space, _ = value.partition(" ")
                keep_scheme = (
                    lowered in ("authorization", "proxy-authorization") and space and scheme.isalpha()
                )
                out[lowered] = f"{scheme} {REDACTED}" if keep_scheme else REDACTED
            else:
                out[lowered] = self.clean_text(value)
        return out

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.query:
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            query = urlencode(
                [(k, REDACTED if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="[]*:/"
            )
            url = urlunsplit(parts._replace(query=query))
        return self.clean_text(url)

    def exchange(self, exchange: Exchange, max_bytes: int) -> dict[str, Any]:
        item: dict[str, Any] = {}
        if exchange.method is not None:
            item["method"] = exchange.method
        if exchange.url is not None:
            item["url"] = self.url(exchange.url)
        if exchange.status is not None:
            item["status"] = exchange.status
        item["headers"] = self.headers(exchange.headers)
        body, truncated = self.body(bytes(exchange.body.data), max_bytes)
        item["body"] = body
        item["bytes"] = exchange.body.size
        item["truncated"] = truncated or exchange.body.size > len(exchange.body.data)
        return item


# Client side: a wrapper around the RSGI protocol --------------------------------------------------
class CapturingTransport:
    """A stream transport that keeps what it sends."""

    __slots__ = ("_inner", "_part")

    def __init__(self, inner: Any, part: Part) -> None:
        self._inner = inner
        self._part = part

    def send_bytes(self, data: bytes) -> Any:
        self._part.add(data)
        return self._inner.send_bytes(data)

    def send_str(self, data: str) -> Any:
        self._part.add(data)
        return self._inner.send_str(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CapturingProtocol:
    """Wraps a request's RSGI protocol: keeps the request body read and the answer sent."""

    __slots__ = ("_capture", "_inner")

    def __init__(self, inner: Any, capture: Capture) -> None:
        self._inner = inner
        self._capture = capture

    async def __call__(self) -> bytes:
        body: bytes = await self._inner()
        self._capture.client_request.body.add(body)
        return body

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._capture.client_request.body.add(chunk)
            yield chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _answer(self, status: int, headers: Any) -> Exchange:
        exchange = self._capture.client_response
        exchange.status = status
        exchange.headers = [(str(k), str(v)) for k, v in headers]
        return exchange

    def response_empty(self, status: int, headers: Any) -> Any:
        self._answer(status, headers)
        return self._inner.response_empty(status, headers)

    def response_str(self, status: int, headers: Any, body: str) -> Any:
        self._answer(status, headers).body.add(body)
        return self._inner.response_str(status, headers, body)

    def response_bytes(self, status: int, headers: Any, body: bytes) -> Any:
        self._answer(status, headers).body.add(body)
        return self._inner.response_bytes(status, headers, body)

    def response_stream(self, status: int, headers: Any) -> Any:
        exchange = self._answer(status, headers)
        return CapturingTransport(self._inner.response_stream(status, headers), exchange.body)


def start_client_capture(req: Request, capture: Capture) -> None:
    """Notes the client's request line and headers and wraps the protocol for the bodies."""
    exchange = capture.client_request
    exchange.method = req.method
    exchange.url = f"{req.path}?{req.query_string}" if req.query_string else req.path
    headers = req.scope.headers
    exchange.headers = [(str(k), str(v)) for k, v in headers.items()]
    req.protocol = CapturingProtocol(req.protocol, capture)


# Upstream side: a wrapper around the upstream response ----------------------------------------------
class CapturingUpstreamResponse(UpstreamResponse):
    """The same response, keeping the raw bytes read from it (non-stream body or stream chunks)."""

    __slots__ = ("_part",)

    def __init__(self, inner: UpstreamResponse, part: Part) -> None:
        super().__init__(inner._resp, inner._idle_timeout)
        self._part = part

    async def read(self, *, timeout: float, limit: int | None = None) -> bytes:
        data = await super().read(timeout=timeout, limit=limit)
        self._part.add(data)
        return data

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in super().chunks():
            self._part.add(chunk)
            yield chunk
