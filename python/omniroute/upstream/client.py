"""The upstream hot path: pooled aiohttp connections behind `UpstreamClient.send`.

It never retries (retries and fallback belong to the gateway). Timeouts: connect, first
byte (request sent -> response headers), idle between body chunks, and a whole-body limit
for non-stream reads. TCP_NODELAY is on (aiohttp's default for its connections).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp

from omniroute.errors import UpstreamConnectError, UpstreamError, UpstreamTimeoutError

#: Upper bound on an upstream error body we read and relay.
MAX_ERROR_BODY = 1024 * 1024


class UpstreamResponse:
    """A response whose headers arrived; the body is read through `read` or `chunks`."""

    __slots__ = ("_resp", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers

    async def read(self, *, timeout: float, limit: int | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                if limit is None:
                    return await self._resp.read()
                return await self._resp.content.read(limit)
        except TimeoutError:
            raise UpstreamTimeoutError(f"upstream body not complete within {timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"upstream connection failed while reading: {exc}") from None

    async def chunks(self) -> AsyncIterator[bytes]:
        """Body chunks as they arrive; idle gaps are bounded by the client's read timeout."""
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.SocketTimeoutError):
            raise UpstreamTimeoutError("upstream stream idle for too long") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"upstream connection lost: {exc.__class__.__name__}") from None

    def close(self) -> None:
        """Drops the connection (aborts an unfinished upstream generation)."""
        self._resp.close()

    def release(self) -> None:
        """Returns a fully read connection to the pool."""
        self._resp.release()


class UpstreamClient:
    def __init__(self, *, connect_timeout: float, idle_timeout: float, pool_size: int = 1000) -> None:
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size,
                limit_per_host=0,
                ttl_dns_cache=300,
                keepalive_timeout=30,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=self._connect_timeout, sock_read=self._idle_timeout
                ),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
                trust_env=False,
            )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        first_byte_timeout: float,
    ) -> UpstreamResponse:
        session = self._get_session()
        try:
            async with asyncio.timeout(first_byte_timeout):
                resp = await session.request(method, url, headers=headers, data=body, allow_redirects=False)
        except TimeoutError:
            raise UpstreamTimeoutError(f"upstream sent no response within {first_byte_timeout:g} s") from None
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamConnectError(f"cannot connect to upstream {exc.host}:{exc.port}") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(f"upstream request failed: {exc.__class__.__name__}: {exc}") from None
        return UpstreamResponse(resp)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
