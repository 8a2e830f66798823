"""`/api/combos`: list (with metrics), create, read, replace, delete. Saves are validated: known
strategy, at least one model, non-negative weights, no cycles, nesting within `max_depth`."""

from __future__ import annotations

import msgspec

from omniroute.admin.common import AdminError, check_admin, read_json, respond, respond_error
from omniroute.config_file import COMBO_STRATEGIES, ComboModel, ComboStrategy
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.routing.combos import Combo, ComboEntry, ComboError, ComboSettings, validate_combo_graph
from omniroute.runtime import Runtime

PREFIX = "/api/combos/"


class ComboPayload(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str | None = None
    strategy: ComboStrategy = "priority"
    models: list[str | ComboModel]
    enabled: bool = True
    max_retries: int | None = None
    retry_delay: float | None = None
    concurrency_per_model: int | None = None
    queue_timeout: float | None = None


def _to_combo(name: str, payload: ComboPayload) -> Combo:
    if payload.strategy not in COMBO_STRATEGIES:
        raise AdminError(400, f"unknown strategy {payload.strategy!r}", "invalid_combo")
    if not payload.models:
        raise AdminError(400, "a combo needs at least one model", "invalid_combo")
    entries = tuple(
        ComboEntry(model=m.model, weight=m.weight) if isinstance(m, ComboModel) else ComboEntry(model=m)
        for m in payload.models
    )
    if any(e.weight < 0 or not e.model.strip() for e in entries):
        raise AdminError(400, "models need a name and a non-negative weight", "invalid_combo")
    settings = ComboSettings(
        max_retries=payload.max_retries,
        retry_delay=payload.retry_delay,
        concurrency_per_model=payload.concurrency_per_model,
        queue_timeout=payload.queue_timeout,
    )
    return Combo(
        name=name, strategy=payload.strategy, entries=entries, settings=settings, enabled=payload.enabled
    )


def _describe(rt: Runtime, combo: Combo) -> dict[str, object]:
    return {
        "name": combo.name,
        "strategy": combo.strategy,
        "models": [msgspec.to_builtins(e) for e in combo.entries],
        "settings": msgspec.to_builtins(combo.settings),
        "enabled": combo.enabled,
        "metrics": rt.combo_metrics.get(combo.name),
    }


def make_combo_api(rt: Runtime) -> tuple[Handler, Handler, Handler]:
    def save(combo: Combo, *, replacing: bool) -> None:
        existing = {c.name: c for c in rt.routing_repo.list_combos()}
        if not replacing and combo.name in existing:
            raise AdminError(409, f"combo '{combo.name}' already exists", "combo_exists")
        existing[combo.name] = combo
        graph = {name: [e.model for e in c.entries] for name, c in existing.items()}
        try:
            validate_combo_graph(graph, max_depth=rt.settings.routing.max_depth)
        except ComboError as exc:
            raise AdminError(400, str(exc), "invalid_combo") from None
        rt.routing_repo.upsert_combo(combo)
        rt.reload_catalog()

    async def collection(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
            if req.method == "GET":
                respond(req, 200, {"combos": [_describe(rt, c) for c in rt.routing_repo.list_combos()]})
                return
            payload = await read_json(req, ComboPayload)
            if not payload.name or not payload.name.strip():
                raise AdminError(400, "'name' is required", "invalid_combo")
            combo = _to_combo(payload.name, payload)
            save(combo, replacing=False)
            respond(req, 201, _describe(rt, combo))
        except AdminError as exc:
            respond_error(req, exc)

    async def item(req: Request) -> None:
        name = req.path.removeprefix(PREFIX)
        try:
            check_admin(req, rt.settings)
            current = next((c for c in rt.routing_repo.list_combos() if c.name == name), None)
            if req.method == "GET":
                if current is None:
                    raise AdminError(404, f"no combo '{name}'", "not_found")
                respond(req, 200, _describe(rt, current))
            elif req.method == "PUT":
                payload = await read_json(req, ComboPayload)
                combo = _to_combo(name, payload)
                save(combo, replacing=True)
                respond(req, 200, _describe(rt, combo))
            else:
                if not rt.routing_repo.delete_combo(name):
                    raise AdminError(404, f"no combo '{name}'", "not_found")
                rt.reload_catalog()
                respond(req, 200, {"deleted": name})
        except AdminError as exc:
            respond_error(req, exc)

    return collection, item, item
