"""`/api/security`: the network guard's and prompt guard's settings, editable at run time.

    GET    /api/security            {"network": {...}, "guard": {...}, "overridden": [...]}
    PUT    /api/security/network    fields of [network] to change (others keep their value)
    PUT    /api/security/guard      fields of [guard] to change
    DELETE /api/security/network    back to the configuration file's [network]
    DELETE /api/security/guard      back to the configuration file's [guard]

Changes are validated (a bad CIDR or origin is a 400 naming it), stored (they replace the
file's section for every worker and survive restarts), and applied to this worker at once;
other workers pick them up within a second. A network change that would refuse the caller's
own address is refused (409), so nobody locks themselves out of the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from omniroute.admin.common import AdminError, check_admin, read_json, respond, respond_error
from omniroute.errors import ConfigError
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.security.network import NetworkGuard
from omniroute.security.settings_store import SECTIONS, Section, delete_section, merge_section, save_section
from omniroute.settings import NetworkSettings

if TYPE_CHECKING:
    from omniroute.runtime import Runtime

ROUTE = "/api/security"
PREFIX = "/api/security/"


def make_security_api(rt: Runtime) -> tuple[Handler, Handler]:
    """(GET /api/security, PUT|DELETE /api/security/{section}) handlers."""
    overrides = rt.security_overrides

    def state() -> dict[str, Any]:
        return {**overrides.effective(), "overridden": overrides.overridden()}

    async def show(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
        except AdminError as exc:
            respond_error(req, exc)
            return
        overrides.refresh()
        respond(req, 200, state())

    async def item(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
            section = req.path[len(PREFIX) :]
            if section not in SECTIONS:
                raise AdminError(
                    404, f"Unknown settings section '{section}' (use network or guard)", "not_found"
                )
            name: Section = section
            overrides.refresh()
            if req.method == "DELETE":
                delete_section(rt.db, name)
            else:
                changes = await read_json(req, dict[str, Any])
                current = overrides.effective()[name]
                try:
                    value = merge_section(name, current, changes)
                except ConfigError as exc:
                    raise AdminError(400, str(exc), "invalid_settings") from None
                if isinstance(value, NetworkSettings):
                    _refuse_self_lockout(req, rt, value)
                save_section(rt.db, name, value)
            overrides.refresh()
        except AdminError as exc:
            respond_error(req, exc)
            return
        respond(req, 200, state())

    return show, item


def _refuse_self_lockout(req: Request, rt: Runtime, network: NetworkSettings) -> None:
    candidate = NetworkGuard(msgspec.structs.replace(rt.settings, network=network))
    if not candidate.ip_allowed(candidate.client_ip(req)):
        raise AdminError(
            409,
            "These IP lists would refuse your own address; allow it first (or change them from an allowed one)",
            "would_lock_out_caller",
        )
