"""`/api/keys`: inbound API keys. List (never a secret), create and rotate (the key is shown once
in the answer), change allowed models, budgets and limits, revoke.

Every write reloads this worker's catalog at once; other workers and processes see the change on
their next request (see `security.auth.KeyAuth`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import apsw
import msgspec

from omniroute.admin.common import AdminError, check_admin, read_json, respond, respond_error
from omniroute.errors import GatewayError
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.security.api_keys import LIMIT_FIELDS, KeyLimits, new_key, validate_limits
from omniroute.store.records import ApiKeyRow
from omniroute.store.repositories import Repositories

if TYPE_CHECKING:
    from omniroute.runtime import Runtime

PREFIX = "/api/keys/"
MAX_NAME = 100
MAX_GLOBS = 200
MAX_GLOB = 300


class KeyCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str
    allowed_models: list[str] = msgspec.field(default_factory=list)
    daily_budget: float | None = None
    weekly_budget: float | None = None
    monthly_budget: float | None = None
    budget_warning: float = 0.8
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None

    def limits(self) -> KeyLimits:
        return KeyLimits(**{name: getattr(self, name) for name in LIMIT_FIELDS})


class KeyPatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Fields left out keep their value; `null` removes a budget or limit."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    allowed_models: list[str] | msgspec.UnsetType = msgspec.UNSET
    daily_budget: float | msgspec.UnsetType | None = msgspec.UNSET
    weekly_budget: float | msgspec.UnsetType | None = msgspec.UNSET
    monthly_budget: float | msgspec.UnsetType | None = msgspec.UNSET
    budget_warning: float | msgspec.UnsetType = msgspec.UNSET
    rpm: int | msgspec.UnsetType | None = msgspec.UNSET
    tpm: int | msgspec.UnsetType | None = msgspec.UNSET
    max_concurrent: int | msgspec.UnsetType | None = msgspec.UNSET


class KeyRequestError(ValueError):
    """A key's name, model globs or limits are unusable (the message says why)."""


class KeyExistsError(KeyRequestError):
    """Another key already has that name."""


class KeyRevokedError(KeyRequestError):
    """The key is revoked (it cannot be rotated)."""


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise KeyRequestError(f"name must be 1-{MAX_NAME} printable characters")
    return name


def check_globs(globs: list[str]) -> list[str]:
    if len(globs) > MAX_GLOBS:
        raise KeyRequestError(f"at most {MAX_GLOBS} allowed_models entries")
    cleaned = [g.strip() for g in globs]
    if any(not g or len(g) > MAX_GLOB for g in cleaned):
        raise KeyRequestError(f"allowed_models entries must be 1-{MAX_GLOB} characters")
    return list(dict.fromkeys(cleaned))


def check_limits(limits: KeyLimits) -> KeyLimits:
    problem = validate_limits(limits)
    if problem is not None:
        raise KeyRequestError(problem)
    return limits


def describe(row: ApiKeyRow, last_used_at: float | None = None) -> dict[str, Any]:
    """A key as the API and the CLI show it: everything but its secret and digest."""
    return {
        "id": row.id,
        "name": row.name,
        "public_id": row.public_id,
        "hint": row.key_hint,
        "source": row.source,
        "allowed_models": list(row.allowed_models),
        **{name: getattr(row, name) for name in LIMIT_FIELDS},
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "last_used_at": last_used_at,
        "active": row.revoked_at is None,
    }


def create_key(
    repos: Repositories, secret: bytes, payload: KeyCreate, *, source: str
) -> tuple[ApiKeyRow, str]:
    """Validates and stores a new key; returns the row and the plaintext key (shown once)."""
    name = check_name(payload.name)
    globs = check_globs(payload.allowed_models)
    limits = check_limits(payload.limits())
    made = new_key(secret)
    try:
        with repos.conn:
            row = repos.create_api_key(
                name=name,
                key_hash=made.key_hash,
                key_hint=made.hint,
                public_id=made.public_id,
                allowed_models=globs,
                limits=limits,
                source=source,
            )
    except apsw.ConstraintError:
        raise KeyExistsError(f"a key named '{name}' already exists") from None
    return row, made.key


def rotate_key(repos: Repositories, secret: bytes, row: ApiKeyRow) -> tuple[ApiKeyRow, str]:
    """Gives a key a new secret (same id, name and limits); the old key stops matching at once."""
    if row.revoked_at is not None:
        raise KeyRevokedError(f"key '{row.name}' is revoked")
    made = new_key(secret)
    with repos.conn:
        if not repos.rotate_api_key(
            row.id, key_hash=made.key_hash, key_hint=made.hint, public_id=made.public_id
        ):
            raise KeyRevokedError(f"key '{row.name}' is revoked")
    rotated = repos.get_api_key(row.id)
    assert rotated is not None
    return rotated, made.key


def patch_key(repos: Repositories, row: ApiKeyRow, patch: KeyPatch) -> ApiKeyRow:
    changes = {f: v for f in patch.__struct_fields__ if (v := getattr(patch, f)) is not msgspec.UNSET}
    name = check_name(changes.pop("name")) if "name" in changes else row.name
    globs = (
        check_globs(changes.pop("allowed_models"))
        if "allowed_models" in changes
        else list(row.allowed_models)
    )
    current = {f: getattr(row, f) for f in LIMIT_FIELDS}
    limits = check_limits(KeyLimits(**{**current, **changes}))
    try:
        with repos.conn:
            repos.update_api_key(row.id, name=name, allowed_models=globs, limits=limits)
    except apsw.ConstraintError:
        raise KeyExistsError(f"a key named '{name}' already exists") from None
    updated = repos.get_api_key(row.id)
    assert updated is not None
    return updated


def _admin_error(exc: KeyRequestError) -> AdminError:
    if isinstance(exc, KeyExistsError):
        return AdminError(409, str(exc), "key_exists")
    if isinstance(exc, KeyRevokedError):
        return AdminError(409, str(exc), "key_revoked")
    return AdminError(400, str(exc), "invalid_key")


def make_keys_api(rt: Runtime) -> tuple[Handler, Handler]:
    """(collection, item): `/api/keys` and `/api/keys/{id}[/rotate|/revoke]`."""
    repos = rt.repos

    def find(ref: str) -> ApiKeyRow:
        row = repos.get_api_key(ref) if ref else None
        if row is None:
            raise AdminError(404, f"no API key '{ref}'", "not_found")
        return row

    async def collection(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
            if req.method == "GET":
                keys = [describe(r, repos.api_key_last_used(r.id)) for r in repos.list_api_keys()]
                respond(req, 200, {"keys": keys})
                return
            payload = await read_json(req, KeyCreate)
            row, key = create_key(repos, rt.key_auth.secret, payload, source="api")
            rt.reload_catalog()
            respond(req, 201, {**describe(row), "key": key})
        except KeyRequestError as exc:
            respond_error(req, _admin_error(exc))
        except AdminError as exc:
            respond_error(req, exc)
        except GatewayError as exc:
            respond_error(req, AdminError(exc.status, exc.message, exc.code or "invalid_request"))

    async def item(req: Request) -> None:
        ref, _, action = req.path.removeprefix(PREFIX).partition("/")
        try:
            check_admin(req, rt.settings)
            allowed = {"": ("GET", "PATCH", "DELETE"), "rotate": ("POST",), "revoke": ("POST",)}
            if action not in allowed:
                raise AdminError(404, f"Unknown route {req.method} {req.path}", "not_found")
            if req.method not in allowed[action]:
                raise AdminError(405, f"Method {req.method} not allowed on {req.path}", "method_not_allowed")
            row = find(ref)
            if req.method == "GET":
                respond(req, 200, describe(row, repos.api_key_last_used(row.id)))
            elif req.method == "PATCH":
                patch = await read_json(req, KeyPatch)
                updated = patch_key(repos, row, patch)
                rt.reload_catalog()
                respond(req, 200, describe(updated))
            elif action == "rotate":
                rotated, key = rotate_key(repos, rt.key_auth.secret, row)
                rt.reload_catalog()
                respond(req, 200, {**describe(rotated), "key": key})
            else:
                with repos.conn:
                    repos.revoke_api_key(row.id)
                rt.reload_catalog()
                revoked = repos.get_api_key(row.id)
                assert revoked is not None
                respond(req, 200, describe(revoked))
        except KeyRequestError as exc:
            respond_error(req, _admin_error(exc))
        except AdminError as exc:
            respond_error(req, exc)
        except GatewayError as exc:
            respond_error(req, AdminError(exc.status, exc.message, exc.code or "invalid_request"))

    return collection, item
