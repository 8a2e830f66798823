"""Admin login and audit endpoints, and the guard the app runs around every `/api/*` handler.

- `POST /api/auth/login` `{"password"}` -> 200 `{"authenticated", "csrf_token", "expires_at"}`
  and the session cookie; 401 wrong password; 429 (with `retry-after`) while logins are locked;
  409 when no admin password is set.
- `POST /api/auth/logout` -> ends the session (CSRF token required when a session is live).
- `GET /api/auth/session` -> `{"authenticated", "method", "password_set"[, "csrf_token", "expires_at"]}`.
- `GET /api/audit?since=&limit=&action=` -> `{"entries": [...]}`, newest first.

The guard (`AdminGuard`) authorizes each `/api/*` request (`admin.common.authorize`), except the
`/api/auth/*` endpoints which check for themselves, and writes one audit entry per
state-changing call with the answer's status.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from omniroute.admin.common import (
    AdminError,
    authorize,
    check_admin,
    check_origin,
    grant,
    respond,
    respond_error,
    revoke,
)
from omniroute.errors import GatewayError
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.runtime import Runtime
from omniroute.security.admin_auth import (
    CSRF_HEADER,
    STATE_CHANGING,
    clear_cookies,
    client_ip,
    password_hash,
    session_cookies,
    verify_password,
)
from omniroute.store.audit import MAX_LIST, AuditEntry, list_entries

API_PREFIX = "/api/"
AUTH_PREFIX = "/api/auth/"
LOGIN_PATH = "/api/auth/login"
LOGOUT_PATH = "/api/auth/logout"
SESSION_PATH = "/api/auth/session"
AUDIT_PATH = "/api/audit"


class LoginPayload(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    password: str


class _StatusProbe:
    """Wraps the RSGI protocol to note the status a handler answered with."""

    __slots__ = ("_inner", "status")

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.status: int | None = None

    def __call__(self) -> Any:
        return self._inner()

    def __aiter__(self) -> Any:
        return self._inner.__aiter__()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def response_empty(self, status: int, headers: Any) -> Any:
        self.status = status
        return self._inner.response_empty(status, headers)

    def response_str(self, status: int, headers: Any, body: str) -> Any:
        self.status = status
        return self._inner.response_str(status, headers, body)

    def response_bytes(self, status: int, headers: Any, body: bytes) -> Any:
        self.status = status
        return self._inner.response_bytes(status, headers, body)

    def response_file(self, status: int, headers: Any, file: str) -> Any:
        self.status = status
        return self._inner.response_file(status, headers, file)

    def response_stream(self, status: int, headers: Any) -> Any:
        self.status = status
        return self._inner.response_stream(status, headers)


def _as_admin_error(exc: GatewayError) -> AdminError:
    headers = tuple(exc.headers.items())
    return AdminError(exc.status, exc.message, exc.code or "invalid_request", headers=headers)


class AdminGuard:
    """Runs one `/api/*` handler: origin check, authorization, then the audit entry."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def __call__(self, req: Request, handler: Callable[[Request], Awaitable[None]]) -> None:
        auth, settings = self.rt.admin_auth, self.rt.settings
        audited = req.method in STATE_CHANGING and not req.path.startswith(AUTH_PREFIX)
        probe = _StatusProbe(req.protocol) if audited else None
        if probe is not None:
            req.protocol = probe
        actor = "anonymous"
        try:
            check_origin(req, settings)
            if req.path.startswith(AUTH_PREFIX):
                await handler(req)
                return
            principal = authorize(req, auth, settings)
            actor = principal.actor
            token = grant(req, principal)
            try:
                await handler(req)
            finally:
                revoke(token)
        except AdminError as exc:
            actor = exc.actor or actor
            if not req.responded:
                respond_error(req, exc)
        except GatewayError as exc:
            if not req.responded:
                respond_error(req, _as_admin_error(exc))
        finally:
            if probe is not None:
                auth.record(
                    AuditEntry(
                        action="api",
                        actor=actor,
                        client_ip=client_ip(req, settings),
                        method=req.method,
                        path=req.path,
                        # No answer yet means an exception the app turns into a 500.
                        status=probe.status if probe.status is not None else 500,
                    )
                )


def make_admin_guard(rt: Runtime) -> AdminGuard:
    return AdminGuard(rt)


def _parse_since(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise AdminError(400, "'since' must be unix seconds or an ISO 8601 time", "invalid_query") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return 100
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIST:
        raise AdminError(400, f"'limit' must be an integer from 1 to {MAX_LIST}", "invalid_query")
    return int(raw)


def make_auth_api(rt: Runtime) -> tuple[Handler, Handler, Handler, Handler]:
    """(login, logout, session, audit) handlers."""
    login_lock = asyncio.Lock()

    def audit(req: Request, action: str, actor: str, status: int, detail: str | None = None) -> None:
        rt.admin_auth.record(
            AuditEntry(
                action=action,
                actor=actor,
                client_ip=client_ip(req, rt.settings),
                method=req.method,
                path=req.path,
                status=status,
                detail=detail,
            )
        )

    async def attempt(req: Request) -> None:
        auth = rt.admin_auth
        ip = client_ip(req, rt.settings)
        payload: LoginPayload = await _read_login(req)
        # One login at a time per worker: the throttle check and the count stay consistent.
        async with login_lock:
            wait = auth.throttle.retry_after(ip, auth.clock())
            if wait > 0:
                audit(req, "login_locked", "anonymous", 429)
                raise _locked(wait)
            encoded = password_hash(auth.conn)
            if encoded is None:
                raise AdminError(
                    409,
                    "No admin password is set: start with INITIAL_PASSWORD or run "
                    "`omniroute admin reset-password`",
                    "admin_password_not_set",
                )
            if not await asyncio.to_thread(verify_password, payload.password, encoded):
                lock = auth.throttle.failure(ip, auth.clock())
                audit(req, "login_failed", "anonymous", 429 if lock > 0 else 401)
                if lock > 0:
                    raise _locked(lock, prefix="Wrong password. ")
                raise AdminError(401, "Wrong password", "login_failed")
            auth.throttle.success(ip)
            session, cookie = auth.create_session(ip=ip, user_agent=req.header("user-agent"))
        csrf = auth.codec.csrf_token(session)
        audit(req, "login", f"session:{session.id_hash[:12]}", 200)
        respond(
            req,
            200,
            {"authenticated": True, "csrf_token": csrf, "expires_at": session.expires_at},
            headers=tuple(
                ("set-cookie", c) for c in session_cookies(session, cookie, csrf, rt.settings.admin)
            ),
        )

    async def login(req: Request) -> None:
        try:
            await attempt(req)
        except AdminError as exc:
            respond_error(req, exc)

    async def logout(req: Request) -> None:
        auth = rt.admin_auth
        session = auth.session_from(req)
        if session is not None and not auth.codec.check_csrf(session, req.header(CSRF_HEADER)):
            respond_error(
                req, AdminError(403, "Missing or invalid X-CSRF-Token for this session", "csrf_token_invalid")
            )
            return
        if session is not None:
            auth.end_session(session)
            audit(req, "logout", f"session:{session.id_hash[:12]}", 200)
        respond(
            req,
            200,
            {"logged_out": session is not None},
            headers=tuple(("set-cookie", c) for c in clear_cookies(rt.settings.admin)),
        )

    async def session_info(req: Request) -> None:
        auth = rt.admin_auth
        body: dict[str, Any] = {"password_set": auth.password_set()}
        try:
            principal = authorize(req, auth, rt.settings)
        except AdminError:
            respond(req, 200, {"authenticated": False, **body})
            return
        body.update(authenticated=True, method=principal.kind)
        if principal.session is not None:
            body.update(
                csrf_token=auth.codec.csrf_token(principal.session), expires_at=principal.session.expires_at
            )
        respond(req, 200, body)

    async def audit_list(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
            since = _parse_since(req.query("since"))
            limit = _parse_limit(req.query("limit"))
            action = req.query("action") or None
        except AdminError as exc:
            respond_error(req, exc)
            return
        entries = list_entries(rt.db, since=since, limit=limit, action=action)
        for entry in entries:
            entry["time"] = datetime.fromtimestamp(float(entry["ts"]), UTC).isoformat(timespec="milliseconds")
        respond(req, 200, {"entries": entries})

    return login, logout, session_info, audit_list


async def _read_login(req: Request) -> LoginPayload:
    try:
        body = await req.read_body(8192)
    except GatewayError as exc:
        raise _as_admin_error(exc) from None
    try:
        return msgspec.json.decode(body, type=LoginPayload)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise AdminError(400, 'the body must be {"password": "..."}', "invalid_body") from None


def _locked(wait: float, prefix: str = "") -> AdminError:
    seconds = max(1, math.ceil(wait))
    return AdminError(
        429,
        f"{prefix}Too many failed logins; logins are locked for {seconds} s",
        "login_locked",
        headers=(("retry-after", str(seconds)),),
    )
