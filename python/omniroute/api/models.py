"""`GET /v1/models`: every model of the connected providers and nodes (as `alias/model`), the
enabled combos and the aliases; and `GET /v1/models/{id}`: one model, or a 404. Both SDKs call
these paths: a client that sends `anthropic-version` gets Anthropic's shapes (a cursor-paged list,
api/model_pages.py, and Anthropic errors), any other the OpenAI ones."""

from __future__ import annotations

import msgspec

from omniroute import _core
from omniroute.api.model_pages import anthropic_page, model_object, page_params
from omniroute.errors import GatewayError
from omniroute.gateway import Gateway
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.providers.model_lists import ModelLister
from omniroute.routing.lookup import lookup_model
from omniroute.runtime import Runtime
from omniroute.security.auth import authenticate
from omniroute.security.network import client_dialect

ITEM_PREFIX = "/v1/models/"


class ModelsEndpoint:
    def __init__(self, runtime: Runtime, lister: ModelLister) -> None:
        self.rt = runtime
        self.lister = lister

    async def __call__(self, req: Request) -> None:
        dialect = client_dialect(req, req.path)
        try:
            authenticate(req, self.rt, required=self.rt.settings.require_api_key)
            params = page_params(req.query) if dialect == "anthropic" else None
        except GatewayError as exc:
            if dialect == "anthropic":
                Gateway.answer_error(req, dialect, exc)
            else:
                req.respond(exc.status, _core.error_body("openai", exc.status, exc.message, code=exc.code))
            return
        models = await self._models()
        if params is not None:
            # Cursors name one model: an id listed twice (an alias spelled like a model) counts once.
            ids = list(dict.fromkeys(model_id for model_id, _ in models))
            try:
                page = anthropic_page(ids, params)
            except GatewayError as exc:
                Gateway.answer_error(req, dialect, exc)
                return
            req.respond(200, msgspec.json.encode(page))
            return
        data = [
            {"id": model_id, "object": "model", "created": 0, "owned_by": owner} for model_id, owner in models
        ]
        req.respond(200, msgspec.json.encode({"object": "list", "data": data}))

    async def _models(self) -> list[tuple[str, str]]:
        """(id, owned_by) of every listed model, in listing order."""
        catalog = self.rt.catalog
        out: list[tuple[str, str]] = []
        for provider_id, accounts in catalog.accounts.items():
            spec = accounts[0].provider
            models = catalog.provider_models(provider_id)
            if not models:
                models = await self.lister.list(accounts[0])
            out.extend((f"{spec.alias}/{model}", spec.id) for model in models)
        out.extend((name, "combo") for name, combo in catalog.combos.items() if combo.enabled)
        out.extend((alias, "alias") for alias in catalog.aliases)
        return out


def make_model_item(runtime: Runtime) -> Handler:
    async def get_model(req: Request) -> None:
        dialect = client_dialect(req, req.path)
        name = req.path.removeprefix(ITEM_PREFIX)
        try:
            authenticate(req, runtime, required=runtime.settings.require_api_key)
            entry = lookup_model(runtime.catalog, name)
        except GatewayError as exc:
            Gateway.answer_error(req, dialect, exc)
            return
        body: dict[str, object]
        if dialect == "anthropic":
            body = model_object(entry.name)
        else:
            body = {"id": entry.name, "object": "model", "created": 0, "owned_by": entry.owned_by}
        req.respond(200, msgspec.json.encode(body))

    return get_model
