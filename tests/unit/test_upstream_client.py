"""The lean HTTP/1.1 upstream client (`omniroute.upstream.client`, `pool`, `h1`) against a
scripted raw server (`tests/support/raw_http_server.py`) on real loopback sockets, on asyncio's
own loop and on uvloop (the gateway's). Every scenario is bounded well under two seconds."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gc
import gzip
import ipaddress
import itertools
import socket
import ssl
import weakref
import zlib
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from omniroute.errors import UpstreamConnectError, UpstreamError, UpstreamTimeoutError
from omniroute.upstream.client import UpstreamClient, UpstreamResponse
from omniroute.upstream.h1 import HIGH_WATER
from omniroute.upstream.pool import parse_origin
from tests.support.raw_http_server import Peer, RawServer, Request, chunked, response

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
    uvloop = None

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
if uvloop is not None:
    LOOPS["uvloop"] = uvloop.new_event_loop

#: Bound on every scenario; with set-up and tear-down a test stays under two seconds.
SCENARIO_LIMIT = 1.5
READERS = ("read", "chunks")
CUTS = ("fin", "rst")

Run = Callable[[Coroutine[Any, Any, Any]], Any]


@pytest.fixture(params=sorted(LOOPS))
def run(request: pytest.FixtureRequest) -> Run:
    """Runs a scenario to completion on a fresh loop of the parametrized kind, bounded in time."""
    factory = LOOPS[request.param]

    def run(scenario: Coroutine[Any, Any, Any]) -> Any:
        async def bounded() -> Any:
            async with asyncio.timeout(SCENARIO_LIMIT):
                return await scenario

        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(bounded())

    return run


@contextlib.asynccontextmanager
async def serving(
    handler: Callable[[Peer], Coroutine[Any, Any, None]],
    *,
    server_ssl: ssl.SSLContext | None = None,
    **client_options: Any,
) -> AsyncIterator[tuple[RawServer, UpstreamClient]]:
    options: dict[str, Any] = {"connect_timeout": 1.0, "idle_timeout": 1.0} | client_options
    async with RawServer(handler, ssl_context=server_ssl) as server:
        client = UpstreamClient(**options)
        try:
            yield server, client
        finally:
            await client.close()


async def get(client: UpstreamClient, url: str, *, first_byte_timeout: float = 1.0) -> UpstreamResponse:
    return await client.send("GET", url, headers={}, body=None, first_byte_timeout=first_byte_timeout)


async def fetch(client: UpstreamClient, url: str) -> bytes:
    resp = await get(client, url)
    body = await resp.read(timeout=1.0)
    resp.release()
    return body


async def body_of(resp: UpstreamResponse, reader: str) -> bytes:
    if reader == "read":
        return await resp.read(timeout=1.0)
    return b"".join([chunk async for chunk in resp.chunks()])


def open_connections(client: UpstreamClient) -> int:
    return client._pool.open_connections


def cut(peer: Peer, how: str) -> None:
    if how == "fin":
        peer.close()
    else:
        peer.reset()


def answer_target(request: Request) -> bytes:
    return response(request.target.encode())


def answer(body: bytes) -> Callable[[Request], bytes]:
    return lambda _request: response(body)


async def gone(peer: Peer) -> None:
    await asyncio.wait_for(peer.gone.wait(), 1.0)


# Framing ------------------------------------------------------------------------------------------
def test_content_length_body_and_the_request_head_on_the_wire(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        await peer.serve(
            lambda _request: response(
                b"hello", status=201, headers=[("Content-Type", "text/plain"), ("X-Request-ID", "abc")]
            )
        )

    async def scenario() -> tuple[int, list[Request]]:
        async with serving(handler) as (server, client):
            resp = await client.send(
                "POST",
                server.url + "/v1/chat?x=1",
                headers={
                    "Host": "evil.example",
                    "Content-Length": "99",
                    "Connection": "close",
                    "Transfer-Encoding": "chunked",
                    "X-Api-Key": "k1",
                    "Content-Type": "application/json",
                },
                body=b'{"a": 1}',
                first_byte_timeout=1.0,
            )
            assert resp.status == 201
            assert dict(resp.headers) == {
                "content-type": "text/plain",
                "x-request-id": "abc",
                "content-length": "5",
            }
            assert await resp.read(timeout=1.0) == b"hello"
            resp.release()
            return server.port, server.requests

    port, [request] = run(scenario())
    assert (request.method, request.target, request.body) == ("POST", "/v1/chat?x=1", b'{"a": 1}')
    assert request.values("host") == [f"127.0.0.1:{port}"]
    assert request.values("content-length") == ["8"]
    assert request.values("connection") == []
    assert request.values("transfer-encoding") == []
    assert request.values("x-api-key") == ["k1"]
    assert request.values("content-type") == ["application/json"]
    assert len(request.headers) == 4


@pytest.mark.parametrize("how", CUTS)
def test_body_in_parts_goes_out_whole_with_its_length_also_when_retried(run: Run, how: str) -> None:
    # A large request body sent as parts of the client's bytes around a rewritten value.
    original = b'{"model":"openai/m","x":"' + b"A" * 300_000 + b'"}'
    value = original.index(b'"openai/m"')
    view = memoryview(original)
    parts = (view[:value], b'"m"', view[value + len(b'"openai/m"') :])
    whole = b"".join(parts)

    async def handler(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            await peer.send(response(b"first"))
            await peer.request()
            cut(peer, how)  # the reused connection was stale: the parts go out again, fresh
        else:
            await peer.serve(answer(b"fresh"))

    async def post(client: UpstreamClient, url: str) -> bytes:
        resp = await client.send("POST", url + "/v1/chat", headers={}, body=parts, first_byte_timeout=1.0)
        data = await resp.read(timeout=1.0)
        resp.release()
        return data

    async def scenario() -> list[Request]:
        async with serving(handler) as (server, client):
            assert await post(client, server.url) == b"first"
            assert await post(client, server.url) == b"fresh"
            return server.requests

    requests = run(scenario())
    assert [r.connection for r in requests] == [0, 0, 1]
    for request in (requests[0], requests[2]):
        assert request.body == whole
        assert request.values("content-length") == [str(len(whole))]


CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
CHUNKED_WIRE = b"5;name=value\r\nhello\r\n1\r\n \r\n11\r\n0123456789abcdef0\r\n0\r\nX-Trailer: t\r\n\r\n"
CHUNKED_TEXT = b"hello 0123456789abcdef0"


def _split_at(data: bytes, *cuts: int) -> tuple[bytes, ...]:
    bounds = [0, *cuts, len(data)]
    return tuple(data[start:end] for start, end in itertools.pairwise(bounds))


WHOLE = CHUNKED_HEAD + CHUNKED_WIRE
SPLITS = {
    "one-write": (WHOLE,),
    "head-mid-line": _split_at(WHOLE, 20),
    "size-line": _split_at(WHOLE, WHOLE.index(b"11\r\n") + 1),
    "crlf": _split_at(WHOLE, WHOLE.index(b"hello\r\n") + 6, WHOLE.index(b"0\r\nX-") + 1),
    "trailer": _split_at(WHOLE, WHOLE.index(b"X-Trailer") + 3, len(WHOLE) - 1),
    "byte-by-byte": tuple(bytes([byte]) for byte in WHOLE),
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("split", sorted(SPLITS))
def test_chunked_body_split_anywhere(run: Run, split: str, reader: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(*SPLITS[split], gap=0.002)
        await peer.serve(answer(b"next"))

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            if reader == "read":
                assert await resp.read(timeout=1.0) == CHUNKED_TEXT
            else:
                parts = [chunk async for chunk in resp.chunks()]
                assert b"".join(parts) == CHUNKED_TEXT
                if split == "byte-by-byte":
                    assert len(parts) > 1  # streamed as it came, not buffered to the end
            # The decoder stopped exactly at the end: the connection carries the next request.
            assert await fetch(client, server.url) == b"next"
            assert server.accepts == 1

    run(scenario())


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
@pytest.mark.parametrize("reader", READERS)
def test_body_until_close_is_read_completely(run: Run, version: str, reader: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(
            f"{version} 200 OK\r\nContent-Type: text/plain\r\n\r\n".encode(), b"one, ", b"two", gap=0.01
        )
        peer.close()

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            assert await body_of(resp, reader) == b"one, two"
            assert open_connections(client) == 0

    run(scenario())


INTERIM = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
FINAL = response(b"done", headers=[("X-Final", "1")])


@pytest.mark.parametrize(
    "parts",
    [(INTERIM + FINAL,), (INTERIM, FINAL), (INTERIM[:30], INTERIM[30:] + FINAL[:10], FINAL[10:])],
    ids=["together", "apart", "mid-head"],
)
def test_interim_responses_are_skipped(run: Run, parts: tuple[bytes, ...]) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(*parts, gap=0.01)
        await peer.serve(answer(b"next"))

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            assert resp.status == 200
            assert dict(resp.headers) == {"x-final": "1", "content-length": "4"}
            assert await resp.read(timeout=1.0) == b"done"
            assert await fetch(client, server.url) == b"next"
            assert server.accepts == 1

    run(scenario())


PLAIN = b"the quick brown fox jumps over the lazy dog " * 300
ENCODED = {"gzip": gzip.compress(PLAIN), "x-gzip": gzip.compress(PLAIN), "deflate": zlib.compress(PLAIN)}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("framing", ["length", "chunked"])
@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_compressed_bodies_are_decoded(run: Run, encoding: str, framing: str, reader: str) -> None:
    encoded = ENCODED[encoding]
    third = len(encoded) // 3
    if framing == "length":
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(encoded)}\r\n\r\n"
        parts = (head.encode() + encoded[:third], encoded[third:])
    else:
        head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nTransfer-Encoding: chunked\r\n\r\n"
        wire = chunked(encoded[:third], encoded[third : 2 * third], encoded[2 * third :])
        parts = (head.encode(), wire[:50], wire[50:])

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(*parts, gap=0.005)
        await peer.serve(answer(b"next"))

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            assert await body_of(resp, reader) == PLAIN
            assert await fetch(client, server.url) == b"next"
            assert server.accepts == 1

    run(scenario())


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(
    ("encoding", "body", "message"),
    [("br", b"\x1b\x03\x00\xf8", "unsupported content-encoding"), ("gzip", b"not gzip at all", "corrupt")],
    ids=["br", "corrupt-gzip"],
)
def test_undecodable_body_raises_instead_of_hanging(
    run: Run, encoding: str, body: bytes, message: str, reader: str
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(body, headers=[("Content-Encoding", encoding)]))
        await peer.client_gone()

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            assert resp.status == 200
            with pytest.raises(UpstreamError, match=message):
                await body_of(resp, reader)
            assert open_connections(client) == 0
            await gone(server.peers[0])

    run(scenario())


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_truncated_compressed_body_is_an_error_not_a_short_answer(
    run: Run, encoding: str, reader: str
) -> None:
    whole = ENCODED[encoding]

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(whole[: len(whole) // 2], headers=[("Content-Encoding", encoding)]))
        await peer.client_gone()

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            with pytest.raises(UpstreamError, match="truncated compressed body"):
                await body_of(resp, reader)

    run(scenario())


# Keep-alive and the pool ------------------------------------------------------------------------------
def test_keep_alive_carries_sequential_requests_on_one_connection(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        await peer.serve(answer_target)

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            for path in ("/a", "/b", "/c"):
                assert await fetch(client, server.url + path) == path.encode()
            assert server.accepts == 1
            assert [request.connection for request in server.requests] == [0, 0, 0]
            assert open_connections(client) == 1

    run(scenario())


@pytest.mark.parametrize(
    "answer_bytes",
    [
        response(b"ok", headers=[("Connection", "close")]),
        response(b"ok", version="HTTP/1.0"),
    ],
    ids=["connection-close", "http-1.0"],
)
def test_response_without_keep_alive_is_not_reused(run: Run, answer_bytes: bytes) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(answer_bytes)
        await peer.client_gone()  # the server leaves it open: the client must not reuse it

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            assert await fetch(client, server.url) == b"ok"
            await gone(server.peers[0])
            assert await fetch(client, server.url) == b"ok"
            assert server.accepts == 2

    run(scenario())


def test_http10_response_with_keep_alive_is_reused(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        await peer.serve(
            lambda r: response(r.target.encode(), version="HTTP/1.0", headers=[("Connection", "keep-alive")])
        )

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            assert await fetch(client, server.url + "/a") == b"/a"
            assert await fetch(client, server.url + "/b") == b"/b"
            assert server.accepts == 1

    run(scenario())


def test_idle_connection_older_than_keepalive_is_not_reused(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        await peer.serve(answer_target)

    async def scenario() -> None:
        async with serving(handler, keepalive=0.05) as (server, client):
            assert await fetch(client, server.url + "/a") == b"/a"
            await asyncio.sleep(0.1)
            assert await fetch(client, server.url + "/b") == b"/b"
            assert server.accepts == 2
            await gone(server.peers[0])  # the expired connection was closed, not leaked
            assert await fetch(client, server.url + "/c") == b"/c"  # a young one is reused
            assert server.accepts == 2
            assert open_connections(client) == 1

    run(scenario())


def test_idle_connections_are_closed_once_past_keepalive_even_if_never_asked_for(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        await peer.serve(answer_target)

    async def scenario() -> None:
        async with serving(handler, keepalive=0.05) as (server, client):
            results = await asyncio.gather(*(fetch(client, f"{server.url}/{n}") for n in range(5)))
            assert results == [f"/{n}".encode() for n in range(5)]
            assert open_connections(client) == server.accepts == 5
            await asyncio.sleep(0.3)  # a few sweeps of a 0.05 s keep-alive
            assert open_connections(client) == 0
            for peer in server.peers:
                await gone(peer)

    run(scenario())


def test_pool_limit_makes_a_second_request_wait_and_reuse_the_connection(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        while (request := await peer.request()) is not None:
            await asyncio.sleep(0.05)
            await peer.send(answer_target(request))

    async def scenario() -> None:
        async with serving(handler, pool_size=1) as (server, client):
            results = await asyncio.gather(fetch(client, server.url + "/a"), fetch(client, server.url + "/b"))
            assert results == [b"/a", b"/b"]
            assert server.accepts == 1
            assert len(server.requests) == 2
            assert open_connections(client) == 1

    run(scenario())


def test_a_waiter_cancelled_after_its_wake_up_passes_the_free_slot_on(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        await peer.client_gone()

    async def scenario() -> None:
        async with serving(handler, pool_size=1) as (server, client):
            pool = client._pool
            origin = parse_origin("http", server.url.partition("://")[2])
            held = await pool.acquire(origin)
            doomed = asyncio.ensure_future(pool.acquire(origin))
            third = asyncio.ensure_future(pool.acquire(origin))
            await asyncio.sleep(0.01)  # both wait for the only slot
            held.abort()  # frees the slot: wakes `doomed` ...
            doomed.cancel()  # ... which is cancelled before it could run
            fresh = await asyncio.wait_for(third, 1.0)
            assert fresh is not held and not fresh.closed
            assert doomed.cancelled()
            fresh.abort()

    run(scenario())


def test_closing_the_client_fails_requests_waiting_for_a_connection(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.client_gone()

    async def scenario() -> None:
        async with serving(handler, pool_size=1) as (server, client):
            busy = asyncio.ensure_future(get(client, server.url, first_byte_timeout=1.0))
            await asyncio.sleep(0.02)
            waiting = asyncio.ensure_future(get(client, server.url))
            await asyncio.sleep(0.02)
            await client.close()
            with pytest.raises(UpstreamConnectError, match="closed"):
                await asyncio.wait_for(waiting, 1.0)
            with pytest.raises(UpstreamError):
                await busy

    run(scenario())


@pytest.mark.parametrize("how", CUTS)
def test_reused_connection_closed_before_answering_is_retried_once(run: Run, how: str) -> None:
    async def handler(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            await peer.send(response(b"first"))  # keep-alive, as far as the client can tell
            await peer.request()
            cut(peer, how)  # timed the connection out just as it was reused
        else:
            await peer.serve(answer(b"fresh"))

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            assert await fetch(client, server.url) == b"first"
            assert await fetch(client, server.url) == b"fresh"
            assert server.accepts == 2
            assert [request.connection for request in server.requests] == [0, 0, 1]

    run(scenario())


def test_retry_uses_a_fresh_connection_not_another_idle_one(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        if peer.index < 2:  # both warm connections were timed out by the server
            await peer.request()
            await peer.send(response(b"warm"))
            await peer.request()
            peer.close()
        else:
            await peer.serve(answer(b"fresh"))

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            assert await asyncio.gather(fetch(client, server.url), fetch(client, server.url)) == [
                b"warm",
                b"warm",
            ]
            assert open_connections(client) == 2
            assert await fetch(client, server.url) == b"fresh"
            assert server.accepts == 3

    run(scenario())


@pytest.mark.parametrize("how", CUTS)
def test_new_connection_closed_before_answering_is_not_retried(run: Run, how: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        cut(peer, how)

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            with pytest.raises(UpstreamError) as caught:
                await get(client, server.url)
            assert type(caught.value) is UpstreamError
            await asyncio.sleep(0.02)
            assert server.accepts == 1
            assert len(server.requests) == 1
            assert open_connections(client) == 0

    run(scenario())


# Timeouts -----------------------------------------------------------------------------------------
def test_first_byte_timeout_drops_the_connection(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        while (request := await peer.request()) is not None:
            if peer.index == 0 and peer.requests == 1:
                await asyncio.sleep(0.3)  # the first request ever is answered too late
            await peer.send(answer_target(request))

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with serving(handler, pool_size=1) as (server, client):
            started = loop.time()
            with pytest.raises(UpstreamTimeoutError):
                await get(client, server.url + "/slow", first_byte_timeout=0.1)
            assert loop.time() - started < 0.25
            assert open_connections(client) == 0
            # A reused connection would hand this request the late answer to /slow.
            assert await fetch(client, server.url + "/next") == b"/next"
            assert server.accepts == 2

    run(scenario())


def test_idle_timeout_between_stream_chunks(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(CHUNKED_HEAD + b"5\r\nfirst\r\n")
        await peer.client_gone()

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        async with serving(handler, idle_timeout=0.1) as (server, client):
            resp = await get(client, server.url)
            parts: list[bytes] = []
            started = loop.time()
            with pytest.raises(UpstreamTimeoutError):
                async for chunk in resp.chunks():
                    parts.append(chunk)
            assert loop.time() - started < 0.4
            assert parts == [b"first"]
            await gone(server.peers[0])
            assert open_connections(client) == 0

    run(scenario())


# Broken bodies --------------------------------------------------------------------------------------
@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("how", CUTS)
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_cut_mid_body_raises_and_drops_the_connection(run: Run, framing: str, how: str, reader: str) -> None:
    partial = b"0123456789"
    if framing == "length":
        first = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + partial
    else:
        first = CHUNKED_HEAD + b"64\r\n" + partial  # a 100-byte chunk, cut after 10

    async def handler(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            await peer.send(first)
            await asyncio.sleep(0.02)
            cut(peer, how)
        else:
            await peer.serve(answer(b"next"))

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            parts: list[bytes] = []
            with pytest.raises(UpstreamError) as caught:
                if reader == "read":
                    await resp.read(timeout=1.0)
                else:
                    async for chunk in resp.chunks():
                        parts.append(chunk)
            assert not isinstance(caught.value, UpstreamTimeoutError)
            assert partial.startswith(b"".join(parts))
            assert open_connections(client) == 0
            assert await fetch(client, server.url) == b"next"
            assert server.accepts == 2

    run(scenario())


def test_read_limit_truncates_and_drops_a_longer_body(run: Run) -> None:
    async def handler(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            await peer.send(b"HTTP/1.1 500 Oops\r\nContent-Length: 1048576\r\n\r\n" + b"x" * 4096)
            await peer.client_gone()
        else:
            await peer.serve(answer(b"next"))

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            assert await resp.read(timeout=1.0, limit=100) == b"x" * 100
            await gone(server.peers[0])
            assert open_connections(client) == 0
            assert await fetch(client, server.url) == b"next"
            assert server.accepts == 2

    run(scenario())


@pytest.mark.parametrize("size", [10, 100, 1000])
def test_read_limit_returns_at_most_limit_bytes(run: Run, size: int) -> None:
    async def handler(peer: Peer) -> None:
        await peer.serve(lambda r: response(b"y" * size if r.target == "/big" else b"next"))

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url + "/big")
            assert await resp.read(timeout=1.0, limit=100) == b"y" * min(size, 100)
            resp.release()
            assert await fetch(client, server.url) == b"next"
            if size <= 100:  # a body within the limit leaves a reusable connection
                assert server.accepts == 1

    run(scenario())


# Malformed requests and responses ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"x-a": "v\r\nx-evil: 1"},
        {"x-a": "v\nx-evil: 1"},
        {"x-a": "v\r"},
        {"x-a\r\nx-evil": "1"},
        {"x-a:b": "1"},
    ],
)
def test_header_injection_is_refused_before_anything_is_sent(run: Run, headers: dict[str, str]) -> None:
    async def handler(peer: Peer) -> None:
        await peer.serve(answer(b"ok"))

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            with pytest.raises(UpstreamError, match="invalid upstream header"):
                await client.send("POST", server.url, headers=headers, body=b"{}", first_byte_timeout=1.0)
            with pytest.raises(UpstreamError, match="invalid upstream request target"):
                await client.send("GET", server.url + "/a b", headers={}, body=None, first_byte_timeout=1.0)
            await asyncio.sleep(0.02)
            assert server.accepts == 0
            assert open_connections(client) == 0

    run(scenario())


def test_connect_refused_is_a_connect_error(run: Run) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nobody listens once it is closed

    async def scenario() -> None:
        client = UpstreamClient(connect_timeout=1.0, idle_timeout=1.0)
        try:
            with pytest.raises(UpstreamConnectError, match="cannot connect"):
                await get(client, f"http://127.0.0.1:{port}/")
            assert open_connections(client) == 0
        finally:
            await client.close()

    run(scenario())


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000,
    ],
    ids=["status", "status-line", "content-length", "too-large"],
)
def test_malformed_response_head_is_an_upstream_error(run: Run, head: bytes) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(head)
        await peer.client_gone()

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            with pytest.raises(UpstreamError) as caught:
                await get(client, server.url)
            assert not isinstance(caught.value, UpstreamTimeoutError)
            await gone(server.peers[0])
            assert open_connections(client) == 0

    run(scenario())


# Flow control and closing ---------------------------------------------------------------------------
BIG = bytes(range(256)) * (8 * 4096)  # 8 MiB


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_large_body_read_slowly_arrives_intact(run: Run, framing: str) -> None:
    if framing == "length":
        payload = response(BIG)
    else:
        payload = CHUNKED_HEAD + chunked(*(BIG[start : start + 65536] for start in range(0, len(BIG), 65536)))

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(payload)
        await peer.client_gone()

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            await asyncio.sleep(0.1)  # the socket runs ahead of the reader...
            parts: list[bytes] = []
            async for chunk in resp.chunks():
                parts.append(chunk)
                await asyncio.sleep(0.001)
            assert b"".join(parts) == BIG
            # ...but only up to the high-water mark: reading paused instead of buffering 8 MiB.
            assert max(map(len, parts)) < 2 * HIGH_WATER
            assert len(parts) > 4

    run(scenario())


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_closing_an_unfinished_stream_aborts_the_connection(run: Run, framing: str) -> None:
    if framing == "length":
        first = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\ndata: 1\n\n"
    else:
        first = CHUNKED_HEAD + b"9\r\ndata: 1\n\n\r\n"

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(first)
        await peer.client_gone()

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            stream = resp.chunks()
            assert await anext(stream) == b"data: 1\n\n"
            resp.close()
            await gone(server.peers[0])
            assert open_connections(client) == 0
            with pytest.raises(UpstreamError, match="closed before its end"):
                await anext(stream)

    run(scenario())


class Marker:
    """Stands in for the client transport a streaming handler holds in its frame."""


@pytest.mark.parametrize("reader", READERS)
def test_stored_error_does_not_keep_the_reader_frame_alive(run: Run, reader: str) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        await asyncio.sleep(0.02)
        peer.reset()

    async def relay(resp: UpstreamResponse, refs: list[weakref.ref[Marker]]) -> None:
        transport = Marker()
        refs.append(weakref.ref(transport))
        for _ in range(2):  # the stored error is raised twice
            with pytest.raises(UpstreamError, match="connection lost"):
                await body_of(resp, reader)

    async def scenario() -> None:
        async with serving(handler) as (server, client):
            resp = await get(client, server.url)
            refs: list[weakref.ref[Marker]] = []
            gc.disable()
            try:
                await relay(resp, refs)
                del resp
                assert refs[0]() is None, "a reference cycle keeps the reader's frame alive"
            finally:
                gc.enable()

    run(scenario())


# TLS -------------------------------------------------------------------------------------------
def _self_signed(directory: Path, name: str, names: list[x509.GeneralName]) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """`loopback` is valid for 127.0.0.1 and localhost; `elsewhere` only for other.test."""
    directory = tmp_path_factory.mktemp("tls")
    return {
        "loopback": _self_signed(
            directory,
            "loopback",
            [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")],
        ),
        "elsewhere": _self_signed(directory, "elsewhere", [x509.DNSName("other.test")]),
    }


def _server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    return context


def _trusting(cert: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert[0]))


def test_https_origin_with_a_trusted_certificate(
    run: Run, certificates: dict[str, tuple[Path, Path]]
) -> None:
    cert = certificates["loopback"]

    async def handler(peer: Peer) -> None:
        await peer.serve(answer_target)

    async def scenario() -> None:
        async with serving(handler, server_ssl=_server_context(cert), ssl_context=_trusting(cert)) as (
            server,
            client,
        ):
            assert server.url.startswith("https://")
            assert await fetch(client, server.url + "/a") == b"/a"
            assert await fetch(client, server.url + "/b") == b"/b"
            assert server.accepts == 1

    run(scenario())


def test_https_body_until_close_is_read_completely(
    run: Run, certificates: dict[str, tuple[Path, Path]]
) -> None:
    cert = certificates["loopback"]

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\n\r\nsecret ", b"stuff", gap=0.01)
        peer.close()

    async def scenario() -> None:
        async with serving(handler, server_ssl=_server_context(cert), ssl_context=_trusting(cert)) as (
            server,
            client,
        ):
            assert await fetch(client, server.url) == b"secret stuff"

    run(scenario())


@pytest.mark.parametrize("case", ["wrong-hostname", "untrusted"])
def test_https_certificate_problems_are_connect_errors(
    run: Run, certificates: dict[str, tuple[Path, Path]], case: str
) -> None:
    if case == "wrong-hostname":
        cert = certificates["elsewhere"]
        client_context: ssl.SSLContext | None = _trusting(cert)
    else:
        cert = certificates["loopback"]
        client_context = None  # the system's trust store does not know our certificate

    async def handler(peer: Peer) -> None:
        await peer.serve(answer(b"should not get here"))

    async def scenario() -> None:
        async with serving(handler, server_ssl=_server_context(cert), ssl_context=client_context) as (
            server,
            client,
        ):
            with pytest.raises(UpstreamConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await get(client, server.url)
            assert server.accepts == 0
            assert open_connections(client) == 0

    run(scenario())
