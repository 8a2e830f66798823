"""`GET /v1/models`: every model of the connected providers and nodes, as `alias/model`; and
`GET /v1/models/{id}`: one model, or a 404, in the OpenAI shape, or in the Anthropic one for a
client that says `anthropic-version` (both SDKs call this path)."""

from __future__ import annotations

import msgspec

from omniroute import _core
from omniroute.errors import GatewayError
from omniroute.gateway import Gateway
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.providers.model_lists import ModelLister
from omniroute.routing.lookup import lookup_model
from omniroute.runtime import Runtime
from omniroute.security.auth import authenticate

ITEM_PREFIX = "/v1/models/"
#: Anthropic's `created_at` is an RFC 3339 time; the gateway knows none for its models.
EPOCH = "1970-01-01T00:00:00Z"


class ModelsEndpoint:
    def __init__(self, runtime: Runtime, lister: ModelLister) -> None:
        self.rt = runtime
        self.lister = lister

    async def __call__(self, req: Request) -> None:
        try:
            authenticate(req, self.rt, required=self.rt.settings.require_api_key)
        except GatewayError as exc:
            req.respond(exc.status, _core.error_body("openai", exc.status, exc.message, code=exc.code))
            return
        catalog = self.rt.catalog
        data: list[dict[str, object]] = []
        for provider_id, accounts in catalog.accounts.items():
            spec = accounts[0].provider
            models = catalog.provider_models(provider_id)
            if not models:
                models = await self.lister.list(accounts[0])
            data.extend(
                {"id": f"{spec.alias}/{model}", "object": "model", "created": 0, "owned_by": spec.id}
                for model in models
            )
        data.extend(
            {"id": name, "object": "model", "created": 0, "owned_by": "combo"}
            for name, combo in catalog.combos.items()
            if combo.enabled
        )
        data.extend(
            {"id": alias, "object": "model", "created": 0, "owned_by": "alias"} for alias in catalog.aliases
        )
        req.respond(200, msgspec.json.encode({"object": "list", "data": data}))


def make_model_item(runtime: Runtime) -> Handler:
    async def get_model(req: Request) -> None:
        dialect = "anthropic" if req.header("anthropic-version") else "openai"
        name = req.path.removeprefix(ITEM_PREFIX)
        try:
            authenticate(req, runtime, required=runtime.settings.require_api_key)
            entry = lookup_model(runtime.catalog, name)
        except GatewayError as exc:
            Gateway.answer_error(req, dialect, exc)
            return
        body: dict[str, object]
        if dialect == "anthropic":
            body = {"type": "model", "id": entry.name, "display_name": entry.name, "created_at": EPOCH}
        else:
            body = {"id": entry.name, "object": "model", "created": 0, "owned_by": entry.owned_by}
        req.respond(200, msgspec.json.encode(body))

    return get_model
