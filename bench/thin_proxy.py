"""The floor of any Python gateway: Granian RSGI in, aiohttp out, bytes forwarded untouched.

No auth, no parsing, no logging: read the body, POST it to the same path upstream, relay the
status, the content type and every body chunk as it arrives. Upstream base URL from the
environment variable `THIN_PROXY_UPSTREAM` (e.g. `http://127.0.0.1:9000`).

Run: `granian --interface rsgi --loop uvloop --workers 1 bench.thin_proxy:app`.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp

UPSTREAM = os.environ.get("THIN_PROXY_UPSTREAM", "http://127.0.0.1:9000").rstrip("/")
_FORWARD = ("content-type", "authorization", "accept")


class ThinProxy:
    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.session is not None:
            loop.run_until_complete(self.session.close())

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if self.session is None:
            connector = aiohttp.TCPConnector(limit=0)
            self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        body = await protocol()
        headers = {name: value for name in _FORWARD if (value := scope.headers.get(name)) is not None}
        url = UPSTREAM + scope.path + (f"?{scope.query_string}" if scope.query_string else "")
        async with self.session.request(scope.method, url, data=body, headers=headers) as resp:
            out = [("content-type", resp.headers.get("content-type", "application/octet-stream"))]
            if resp.content_length is not None:
                protocol.response_bytes(resp.status, out, await resp.read())
                return
            transport = protocol.response_stream(resp.status, out)
            async for chunk in resp.content.iter_any():
                await transport.send_bytes(chunk)


app = ThinProxy()
