"""Shared pieces of the management API: the admin guard, JSON bodies and answers.

Who may call `/api/*` (decided by `authorize`, run by the app for every `/api/*` request):

1. `Authorization: Bearer <OMNIROUTE_ADMIN_TOKEN>` (automation; no CSRF token needed). When a
   token is configured, any other `Authorization` value is refused outright.
2. A live admin session cookie (`POST /api/auth/login`); state-changing methods must also
   send `X-CSRF-Token` matching that session.
3. Only when NO admin password and NO admin token are configured: callers on the loopback
   interface whose `Host` names this machine (DNS-rebinding guard). Once a password exists,
   loopback alone no longer opens `/api/*`.

Inference API keys never open `/api/*`. State-changing calls that carry an `Origin` header must
come from the gateway's own origin (or one listed in `[network] cors_origins`).
"""

from __future__ import annotations

import hmac
from contextvars import ContextVar
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

import msgspec

from omniroute.http.request import Request
from omniroute.security.admin_auth import (
    CSRF_HEADER,
    STATE_CHANGING,
    AdminAuth,
    Session,
    client_ip,
    is_loopback_host,
    is_loopback_ip,
)
from omniroute.settings import Settings

T = TypeVar("T")


class AdminError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        *,
        headers: tuple[tuple[str, str], ...] = (),
        actor: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers
        #: Who was refused, when known (for the audit log).
        self.actor = actor


class Principal(msgspec.Struct, frozen=True):
    """Who an authorized `/api/*` request acts as."""

    kind: Literal["token", "session", "loopback"]
    actor: str
    session: Session | None = None


#: The request the app's guard authorized in this task, and as whom.
_GRANTED: ContextVar[tuple[Request, Principal] | None] = ContextVar("omniroute_admin_granted", default=None)


def grant(req: Request, principal: Principal) -> Any:
    """Marks `req` as authorized for `check_admin`; returns the token for `revoke`."""
    return _GRANTED.set((req, principal))


def revoke(token: Any) -> None:
    _GRANTED.reset(token)


def current_principal(req: Request) -> Principal | None:
    granted = _GRANTED.get()
    return granted[1] if granted is not None and granted[0] is req else None


def _bearer(req: Request) -> str | None:
    auth = req.header("authorization")
    if auth is None:
        return None
    scheme, _, presented = auth.partition(" ")
    return presented.strip() if scheme.lower() == "bearer" else ""


def _token_matches(presented: str | None, token: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), token.encode())


def _request_host(req: Request) -> str | None:
    host = req.header("host")
    if host:
        return host
    authority: str | None = getattr(req.scope, "authority", None)
    return authority


def check_origin(req: Request, settings: Settings) -> None:
    """Refuses browser requests from other origins on state-changing calls."""
    if req.method not in STATE_CHANGING:
        return
    origin = req.header("origin")
    if origin is None:
        return
    if origin in settings.network.cors_origins:
        return
    host = _request_host(req)
    netloc = urlsplit(origin).netloc if origin != "null" else ""
    if not host or netloc.lower() != host.lower():
        raise AdminError(403, "Cross-origin request refused", "cross_origin_forbidden")


def authorize(req: Request, auth: AdminAuth, settings: Settings) -> Principal:
    """The caller's admin identity, or AdminError (401 / 403)."""
    token = settings.admin_token
    if token and req.header("authorization") is not None:
        if _token_matches(_bearer(req), token):
            return Principal("token", "token")
        raise AdminError(401, "Invalid admin token", "admin_auth_invalid", actor="invalid-token")
    session = auth.session_from(req)
    if session is not None:
        actor = f"session:{session.id_hash[:12]}"
        if req.method in STATE_CHANGING and not auth.codec.check_csrf(session, req.header(CSRF_HEADER)):
            raise AdminError(
                403, "Missing or invalid X-CSRF-Token for this session", "csrf_token_invalid", actor=actor
            )
        return Principal("session", actor, session)
    if token or auth.password_set():
        raise AdminError(
            401,
            "Admin login required: POST /api/auth/login, or send Authorization: Bearer <admin token>",
            "admin_auth_required",
        )
    if not is_loopback_ip(client_ip(req, settings)):
        raise AdminError(
            403,
            "The management API is loopback-only until an admin password (INITIAL_PASSWORD, "
            "`omniroute admin reset-password`) or OMNIROUTE_ADMIN_TOKEN is set",
            "admin_forbidden",
        )
    host = _request_host(req)
    if host is not None and not is_loopback_host(host):
        raise AdminError(
            403, "Loopback-only management API reached through a foreign Host", "admin_forbidden"
        )
    return Principal("loopback", "loopback")


def check_admin(req: Request, settings: Settings) -> None:
    """Handlers' guard. The app authorizes every `/api/*` request before its handler runs
    (`authorize`), so this only confirms that; a handler reached any other way gets the
    strict fallback: the admin token, or loopback when no token and no INITIAL_PASSWORD is set."""
    if current_principal(req) is not None:
        return
    token = settings.admin_token
    if token:
        if not _token_matches(_bearer(req), token):
            raise AdminError(
                401, "Admin token required (Authorization: Bearer <admin token>)", "admin_auth_required"
            )
        return
    if settings.initial_password:
        raise AdminError(401, "Admin login required", "admin_auth_required")
    if not is_loopback_ip(client_ip(req, settings)):
        raise AdminError(
            403, "The management API is loopback-only until OMNIROUTE_ADMIN_TOKEN is set", "admin_forbidden"
        )


def respond(req: Request, status: int, payload: Any, *, headers: tuple[tuple[str, str], ...] = ()) -> None:
    req.respond(status, msgspec.json.encode(payload), headers=headers)


def respond_error(req: Request, exc: AdminError) -> None:
    respond(req, exc.status, {"error": {"message": exc.message, "code": exc.code}}, headers=exc.headers)


async def read_json(req: Request, type_: type[T], limit: int = 1024 * 1024) -> T:
    body = await req.read_body(limit)
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise AdminError(400, f"invalid body: {exc}", "invalid_body") from None
    except msgspec.DecodeError as exc:
        raise AdminError(400, f"malformed JSON: {exc}", "invalid_json") from None
    except UnicodeDecodeError:
        raise AdminError(400, "malformed JSON: the body is not valid UTF-8", "invalid_json") from None
    except RecursionError:
        raise AdminError(400, "malformed JSON: nested too deeply", "invalid_json") from None
