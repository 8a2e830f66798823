"""`POST /v1/chat/completions` (OpenAI Chat Completions) and its provider-pinned form."""

from __future__ import annotations

from omniroute import _core
from omniroute.gateway import CallSpec, Gateway
from omniroute.http.request import Request
from omniroute.http.routes import Handler

ROUTE = "/v1/chat/completions"
PINNED_PREFIX = "/v1/providers/"


def make_chat(gateway: Gateway) -> tuple[Handler, Handler]:
    async def chat_completions(req: Request) -> None:
        await gateway.handle(req, CallSpec("openai", ROUTE))

    async def pinned_chat_completions(req: Request) -> None:
        provider, _, rest = req.path.removeprefix(PINNED_PREFIX).partition("/")
        if rest != "chat/completions" or not provider:
            req.respond(404, _core.error_body("openai", 404, f"Unknown route {req.path}", code="not_found"))
            return
        spec = CallSpec("openai", "/v1/providers/{provider}/chat/completions", pinned_provider=provider)
        await gateway.handle(req, spec)

    return chat_completions, pinned_chat_completions
