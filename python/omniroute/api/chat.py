"""`POST /v1/chat/completions` (OpenAI Chat Completions) and its provider-pinned form."""

from __future__ import annotations

from omniroute.gateway import Gateway
from omniroute.http.request import Request

ROUTE = "/v1/chat/completions"
PINNED_PREFIX = "/v1/providers/"


def make_chat(gateway: Gateway):  # type: ignore[no-untyped-def]
    async def chat_completions(req: Request) -> None:
        await gateway.handle(req, dialect="openai", route=ROUTE)

    async def pinned_chat_completions(req: Request) -> None:
        provider, _, rest = req.path.removeprefix(PINNED_PREFIX).partition("/")
        if rest != "chat/completions" or not provider:
            from omniroute import _core

            req.respond(404, _core.error_body("openai", 404, f"Unknown route {req.path}", code="not_found"))
            return
        await gateway.handle(
            req, dialect="openai", route="/v1/providers/{provider}/chat/completions", pinned_provider=provider
        )

    return chat_completions, pinned_chat_completions
