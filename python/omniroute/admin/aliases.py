"""`/api/aliases`: read and replace the exact and wildcard model aliases."""

from __future__ import annotations

import msgspec

from omniroute.admin.common import AdminError, check_admin, read_json, respond, respond_error
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.runtime import Runtime


class WildcardAlias(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pattern: str
    target: str


class AliasesPayload(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    aliases: dict[str, str] = msgspec.field(default_factory=dict)
    wildcard_aliases: list[WildcardAlias] = msgspec.field(default_factory=list)


def make_alias_api(rt: Runtime) -> Handler:
    async def aliases(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
            if req.method == "PUT":
                payload = await read_json(req, AliasesPayload)
                for wildcard in payload.wildcard_aliases:
                    if "*" not in wildcard.pattern and "?" not in wildcard.pattern:
                        raise AdminError(400, f"pattern {wildcard.pattern!r} has no * or ?", "invalid_alias")
                if any(not k.strip() or not v.strip() for k, v in payload.aliases.items()):
                    raise AdminError(400, "aliases and targets must not be empty", "invalid_alias")
                rt.routing_repo.replace_aliases(
                    payload.aliases, [(w.pattern, w.target) for w in payload.wildcard_aliases]
                )
                rt.reload_catalog()
            respond(
                req,
                200,
                {
                    "aliases": rt.routing_repo.list_aliases(),
                    "wildcard_aliases": [
                        {"pattern": p, "target": t} for p, t in rt.routing_repo.list_wildcards()
                    ],
                },
            )
        except AdminError as exc:
            respond_error(req, exc)

    return aliases
