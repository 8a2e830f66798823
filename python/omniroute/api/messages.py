"""Anthropic Messages: `POST /v1/messages` (also `?beta=true`) and `/v1/messages/count_tokens`."""

from __future__ import annotations

from omniroute.count_tokens import count_tokens
from omniroute.gateway import CallSpec, Gateway
from omniroute.http.request import Request
from omniroute.http.routes import Handler


def make_messages(gateway: Gateway) -> tuple[Handler, Handler]:
    async def messages(req: Request) -> None:
        await gateway.handle(req, CallSpec("anthropic", "/v1/messages"))

    async def messages_count_tokens(req: Request) -> None:
        await count_tokens(gateway, req, dialect="anthropic")

    return messages, messages_count_tokens
