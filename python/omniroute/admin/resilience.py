"""`/api/health/resilience`: breakers, cooldowns, outbound limiter and account-selection state
of this process, and `POST /api/health/resilience/reset` to clear breakers and/or cooldowns."""

from __future__ import annotations

import time

import msgspec

from omniroute.admin.common import AdminError, check_admin, read_json, respond, respond_error
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.runtime import Runtime


class ResetPayload(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    #: true = all, a list = those keys (breakers) / accounts (cooldowns), absent = none.
    breakers: bool | list[str] = False
    cooldowns: bool | list[str] = False


def make_resilience_api(rt: Runtime) -> tuple[Handler, Handler]:
    async def state(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
        except AdminError as exc:
            respond_error(req, exc)
            return
        now = time.monotonic()
        respond(
            req,
            200,
            {
                "breakers": rt.breakers.snapshot(now),
                "cooldowns": rt.cooldowns.snapshot(now),
                "limits": rt.limits.snapshot(),
                "accounts": rt.selector.snapshot(),
                "model_slots": rt.model_slots.snapshot(),
            },
        )

    async def reset(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
            payload = await read_json(req, ResetPayload)
        except AdminError as exc:
            respond_error(req, exc)
            return
        done: dict[str, object] = {}
        if payload.breakers is not False:
            keys = None if payload.breakers is True else payload.breakers
            done["breakers"] = rt.breakers.reset(keys)
            rt.routing_repo.delete_breakers(keys)
        if payload.cooldowns is not False:
            accounts = [None] if payload.cooldowns is True else list(payload.cooldowns)
            done["cooldowns"] = sum(rt.cooldowns.reset(a) for a in accounts)
            done["learned_limits"] = sum(rt.limits.forget_learned(a) for a in accounts)
        respond(req, 200, {"reset": done})

    return state, reset
