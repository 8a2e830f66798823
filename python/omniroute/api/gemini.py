"""Gemini surface under `/v1beta`: model list, one model (or a 404 `NOT_FOUND` when the name does
not resolve), `:generateContent`, `:streamGenerateContent?alt=sse`, `:countTokens`. The model in
the path may carry a provider prefix (`/v1beta/models/{provider}/{model}:generateContent`).
"""

from __future__ import annotations

import msgspec

from omniroute import _core
from omniroute.count_tokens import count_tokens
from omniroute.errors import GatewayError
from omniroute.gateway import CallSpec, Gateway
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.routing.lookup import lookup_model
from omniroute.security.auth import authenticate

MODELS_PREFIX = "/v1beta/models/"
METHODS = ["generateContent", "streamGenerateContent", "countTokens"]


def _model_entry(name: str, owner: str) -> dict[str, object]:
    return {
        "name": f"models/{name}",
        "displayName": name,
        "description": f"{name} via OmniRoute ({owner})",
        "supportedGenerationMethods": METHODS,
    }


def make_gemini(gateway: Gateway) -> tuple[Handler, Handler, Handler]:
    rt = gateway.rt

    def fail(req: Request, status: int, message: str) -> None:
        req.respond(status, _core.error_body("gemini", status, message))

    async def list_models(req: Request) -> None:
        try:
            authenticate(req, rt, required=rt.settings.require_api_key)
        except GatewayError as exc:
            gateway.answer_error(req, "gemini", exc)
            return
        catalog = rt.catalog
        models = [
            _model_entry(f"{accounts[0].provider.alias}/{model}", accounts[0].provider.id)
            for provider_id, accounts in catalog.accounts.items()
            for model in catalog.provider_models(provider_id)
        ]
        req.respond(200, msgspec.json.encode({"models": models}))

    async def get_model(req: Request) -> None:
        name = req.path.removeprefix(MODELS_PREFIX).removeprefix("models/")
        try:
            authenticate(req, rt, required=rt.settings.require_api_key)
            entry = lookup_model(rt.catalog, name)
        except GatewayError as exc:
            gateway.answer_error(req, "gemini", exc)
            return
        req.respond(200, msgspec.json.encode(_model_entry(entry.name, entry.owned_by)))

    async def model_action(req: Request) -> None:
        model, colon, action = req.path.removeprefix(MODELS_PREFIX).rpartition(":")
        model = model.removeprefix("models/")
        if not colon or not model:
            fail(req, 404, f"Unknown route {req.path}")
            return
        route = f"/v1beta/models/{{model}}:{action}"
        if action == "generateContent":
            await gateway.handle(req, CallSpec("gemini", route, url_model=model, url_stream=False))
        elif action == "streamGenerateContent":
            if req.query("alt") != "sse":
                fail(req, 400, "streamGenerateContent is served as Server-Sent Events only: add ?alt=sse")
                return
            await gateway.handle(req, CallSpec("gemini", route, url_model=model, url_stream=True))
        elif action == "countTokens":
            await count_tokens(gateway, req, dialect="gemini", url_model=model)
        else:
            fail(req, 404, f"Unknown method '{action}'")

    return list_models, get_model, model_action
