"""Executors: the operation URL and auth headers for an account, per dialect.

The registry says what differs between providers (dialect, auth scheme, extra headers,
query); this module turns that data into a request. Nothing here branches on provider ids.
"""

from __future__ import annotations

from urllib.parse import quote

from omniroute.routing.catalog import Account

_AUTH_HEADER = {"bearer": "authorization", "x-api-key": "x-api-key", "x-goog-api-key": "x-goog-api-key"}


def chat_url(account: Account, model: str, *, stream: bool) -> str:
    spec = account.provider
    base = account.base_url
    match spec.dialect:
        case "openai":
            url = f"{base}/chat/completions"
        case "anthropic":
            url = f"{base}/messages"
        case "responses":
            url = f"{base}/responses"
        case "gemini":
            action = "streamGenerateContent?alt=sse" if stream else "generateContent"
            url = f"{base}/models/{quote(model, safe='-._~')}:{action}"
    if spec.query:
        url += ("&" if "?" in url else "?") + spec.query
    return url


def models_url(account: Account) -> str:
    return f"{account.base_url}/models"


def auth_headers(account: Account) -> dict[str, str]:
    headers = dict(account.provider.headers)
    if account.api_key:
        name = _AUTH_HEADER[account.provider.auth]
        headers[name] = f"Bearer {account.api_key}" if name == "authorization" else account.api_key
    return headers
