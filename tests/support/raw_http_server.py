"""A scriptable raw HTTP/1.1 server on 127.0.0.1 for the upstream client's tests.

Each test passes `handler(peer)`, run once per accepted connection: it decides exactly which
bytes go out, when, and whether the connection ends with a FIN (`peer.close()`) or a reset
(`peer.reset()`). The server counts connections, records every request it read, and re-raises
a handler's failure when it stops, so a broken script fails its test instead of a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType

Handler = Callable[["Peer"], Awaitable[None]]


@dataclass(frozen=True)
class Request:
    """One request as it arrived (header names as sent, in order)."""

    connection: int
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


def response(
    body: bytes = b"",
    *,
    status: int = 200,
    headers: Iterable[tuple[str, str]] = (),
    version: str = "HTTP/1.1",
) -> bytes:
    """A complete response with a content-length."""
    lines = [f"{version} {status} Whatever\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers]
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "".join(lines).encode() + body


def chunked(*parts: bytes, trailer: bytes = b"") -> bytes:
    """`parts` in chunked transfer coding (each part one chunk), then the last chunk."""
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n" + trailer + b"\r\n"


class Peer:
    """One accepted connection, as the handler sees it."""

    def __init__(
        self, server: RawServer, index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ):
        self.server = server
        self.index = index
        self.reader = reader
        self.writer = writer
        self.requests = 0
        #: Set once `client_gone` saw the client close or reset the connection.
        self.gone = asyncio.Event()

    async def request(self) -> Request | None:
        """The next request (head and content-length body), or None when the client hung up."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        start, *lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, _ = start.split(" ", 2)
        headers = [(name, value.strip()) for name, _, value in (line.partition(":") for line in lines)]
        lengths = [value for name, value in headers if name.lower() == "content-length"]
        body = await self.reader.readexactly(int(lengths[0])) if lengths else b""
        request = Request(self.index, method, target, headers, body)
        self.server.requests.append(request)
        self.requests += 1
        return request

    async def send(self, *parts: bytes, gap: float = 0.0) -> None:
        """Writes each part separately (waiting `gap` seconds after each but the last)."""
        for number, part in enumerate(parts):
            self.writer.write(part)
            await self.writer.drain()
            if gap and number < len(parts) - 1:
                await asyncio.sleep(gap)

    def close(self) -> None:
        """Ends the connection with a FIN."""
        self.writer.close()

    def reset(self) -> None:
        """Ends the connection with a RST (zero linger, then abort)."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def client_gone(self, timeout: float = 1.0) -> bool:
        """Waits until the client closes or resets the connection (discarding what it sends)."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        self.gone.set()
        return True

    async def serve(self, answer: Callable[[Request], bytes]) -> None:
        """Answers every request of this connection with `answer(request)` until the client leaves."""
        while (request := await self.request()) is not None:
            await self.send(answer(request))
        self.gone.set()


class RawServer:
    """`async with RawServer(handler) as server:` listens on 127.0.0.1 on a free port."""

    def __init__(self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._errors: list[BaseException] = []
        self.peers: list[Peer] = []
        self.requests: list[Request] = []
        self.port = 0

    @property
    def accepts(self) -> int:
        return len(self.peers)

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        # Handlers still waiting on a client get a moment to see it leave, then are stopped.
        pending = [task for task in self._tasks if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=0.05)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for peer in self.peers:
            peer.writer.close()
        for peer in self.peers:
            with contextlib.suppress(Exception):
                await peer.writer.wait_closed()
        if self._errors and exc is None:
            raise self._errors[0]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.append(task)
        peer = Peer(self, len(self.peers), reader, writer)
        self.peers.append(peer)
        try:
            await self._handler(peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away mid-script: what several tests provoke on purpose
        except asyncio.CancelledError:
            # Only `__aexit__` cancels handlers; ending normally keeps Python 3.11's
            # start_server from logging the cancellation as an error.
            return
        except BaseException as exc:
            self._errors.append(exc)
        finally:
            writer.close()
