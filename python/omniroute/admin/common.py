"""Shared pieces of the management API: the admin guard, JSON bodies and answers.

Until password sessions exist, the guard accepts `Authorization: Bearer <admin token>` when
an admin token is configured (`OMNIROUTE_ADMIN_TOKEN`), and otherwise only callers on the
loopback interface. Inference API keys never open `/api/*`.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any, TypeVar

import msgspec

from omniroute.http.request import Request
from omniroute.settings import Settings

T = TypeVar("T")


class AdminError(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def _client_host(client: str) -> str:
    host = client.rsplit(":", 1)[0] if client.count(":") == 1 or client.startswith("[") else client
    return host.strip("[]")


def _is_loopback(client: str) -> bool:
    try:
        return ipaddress.ip_address(_client_host(client)).is_loopback
    except ValueError:
        return False


def check_admin(req: Request, settings: Settings) -> None:
    token = settings.admin_token
    if token:
        auth = req.header("authorization") or ""
        scheme, _, presented = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
            raise AdminError(
                401, "Admin token required (Authorization: Bearer <admin token>)", "admin_auth_required"
            )
        return
    if not _is_loopback(req.client_addr):
        raise AdminError(
            403, "The management API is loopback-only until OMNIROUTE_ADMIN_TOKEN is set", "admin_forbidden"
        )


def respond(req: Request, status: int, payload: Any) -> None:
    req.respond(status, msgspec.json.encode(payload))


def respond_error(req: Request, exc: AdminError) -> None:
    respond(req, exc.status, {"error": {"message": exc.message, "code": exc.code}})


async def read_json(req: Request, type_: type[T], limit: int = 1024 * 1024) -> T:
    body = await req.read_body(limit)
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise AdminError(400, f"invalid body: {exc}", "invalid_body") from None
    except msgspec.DecodeError as exc:
        raise AdminError(400, f"malformed JSON: {exc}", "invalid_json") from None
