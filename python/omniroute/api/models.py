"""`GET /v1/models`: every model of the connected providers and nodes, as `alias/model`."""

from __future__ import annotations

import msgspec

from omniroute import _core
from omniroute.errors import GatewayError
from omniroute.http.request import Request
from omniroute.providers.model_lists import ModelLister
from omniroute.runtime import Runtime
from omniroute.security.auth import authenticate


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
