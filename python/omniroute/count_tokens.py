"""Token counting for `/v1/messages/count_tokens` and Gemini `:countTokens`.

The body's structure is checked first, whatever answers (`_core.inspect_count_request`: an
Anthropic Messages body; Gemini `contents` or a whole `generateContentRequest`), so a malformed
body is a 400 in the client's format naming the node, never an upstream's or estimator's error.
When the upstream speaks the client's dialect and has a counting endpoint, it is asked (its
count is the real one; the model in the body becomes the upstream's); otherwise the gateway
estimates from the canonical request with a BPE tokeniser and says so in
`x-omniroute-token-estimate: true`.
"""

from __future__ import annotations

from urllib.parse import quote

import msgspec

from omniroute import _core
from omniroute.errors import GatewayError, OmnirouteError
from omniroute.gateway import Gateway
from omniroute.http.request import Request
from omniroute.routing.catalog import Account
from omniroute.routing.resolve import resolve_model
from omniroute.security.auth import authenticate
from omniroute.upstream.client import MAX_ERROR_BODY
from omniroute.upstream.errors import upstream_error


def _count_url(account: Account, model: str) -> str | None:
    spec = account.provider
    if spec.dialect == "anthropic":
        url = f"{account.base_url}/messages/count_tokens"
        return f"{url}?{spec.query}" if spec.query else url
    if spec.dialect == "gemini":
        # Quoted like executor.chat_url: a model from the URL must not add path or query parts.
        return f"{account.base_url}/models/{quote(model, safe='-._~')}:countTokens"
    return None


def _answer(dialect: str, tokens: int) -> bytes:
    return msgspec.json.encode({"totalTokens": tokens} if dialect == "gemini" else {"input_tokens": tokens})


async def count_tokens(gateway: Gateway, req: Request, *, dialect: str, url_model: str | None = None) -> None:
    rt = gateway.rt
    try:
        key = authenticate(req, rt, required=rt.settings.require_api_key)
        body = await req.read_body(rt.network.body_limit(req.path))
        info = _core.inspect_count_request(body, dialect)
        model = url_model or info.model
        if model is None:
            raise GatewayError(400, "'model' is a required property", param="model", code="missing_model")
        target = resolve_model(rt.catalog, model)
        gateway.check_key_models(key, target)
        account = target.accounts[0]
        url = _count_url(account, target.model) if target.provider.dialect == dialect else None
        if url is None:
            tokens = _core.estimate_tokens(body, dialect)
            req.respond(200, _answer(dialect, tokens), headers=[("x-omniroute-token-estimate", "true")])
            return
        upstream_body = _core.count_request_body(body, dialect, target.model)
        headers = gateway.upstream_headers(req, account)
        resp = await rt.upstream.send(
            "POST",
            url,
            headers=headers,
            body=upstream_body,
            first_byte_timeout=rt.settings.first_byte_timeout,
        )
        try:
            raw = await resp.read(timeout=rt.settings.request_timeout, limit=MAX_ERROR_BODY)
        finally:
            resp.close()
        if resp.status >= 400:
            raise upstream_error(resp.status, raw, resp.headers, target.provider.id)
        req.respond(200, raw)
    except OmnirouteError as exc:
        gateway.answer_error(req, dialect, exc)
