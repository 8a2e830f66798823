"""Reading an upstream's error answer (any dialect's shape) and the headers clients rely on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from omniroute.errors import GatewayError

#: Upstream headers relayed to clients (plus every rate-limit family below).
PASSTHROUGH_HEADERS = ("retry-after", "retry-after-ms", "openai-processing-ms")
PASSTHROUGH_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")


def passthrough_headers(upstream: Mapping[str, str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in upstream.items():
        lower = name.lower()
        if lower in PASSTHROUGH_HEADERS or lower.startswith(PASSTHROUGH_PREFIXES):
            out.append((lower, value))
        elif lower in ("x-request-id", "request-id"):
            out.append(("x-upstream-request-id", value))
    return out


def _fields(doc: Any) -> tuple[str | None, str | None, str | None]:
    """(message, type, code) from OpenAI, Anthropic or Gemini error documents."""
    if not isinstance(doc, dict):
        return None, None, None
    err = doc.get("error", doc)
    if isinstance(err, str):
        return err, None, None
    if not isinstance(err, dict):
        return None, None, None
    message = err.get("message") if isinstance(err.get("message"), str) else None
    err_type = err.get("type") if isinstance(err.get("type"), str) else None
    code = err.get("code")
    if not isinstance(code, str):
        status = err.get("status")
        code = status if isinstance(status, str) else None
    return message, err_type, code


def upstream_error(status: int, body: bytes, headers: Mapping[str, str], provider: str) -> GatewayError:
    """A GatewayError carrying the upstream's status, message and retry headers."""
    message: str | None = None
    err_type: str | None = None
    code: str | None = None
    try:
        message, err_type, code = _fields(msgspec.json.decode(body))
    except (msgspec.DecodeError, RecursionError):
        text = body.decode("utf-8", "replace").strip()
        message = text[:500] if text else None
    if not message:
        message = f"upstream returned HTTP {status}"
    http_status = status if 400 <= status <= 599 else 502
    return GatewayError(
        http_status,
        f"[{provider}] {message}",
        code=code,
        error_type=err_type,
        headers=dict(passthrough_headers(headers)),
    )
