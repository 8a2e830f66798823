"""`/api/usage` (summaries from the daily rollups), `/api/usage/purge` and `/api/pricing`.

- `GET /api/usage?group_by=day|key|provider|model|combo[,...]&since=YYYY-MM-DD&until=YYYY-MM-DD`
  `[&api_key=<key id>&provider=&model=]` -> `{"group_by", "since", "until", "rows", "totals"}`.
  Days are UTC and inclusive; `model` groups by provider and model. Each row carries the group
  columns (`day`, `api_key_id` + `api_key_name`, `provider`, `model`, `combo`; null when the
  call had none) and `requests`, `errors`, `input_tokens`, `output_tokens`, `cached_tokens`,
  `cache_creation_tokens`, `reasoning_tokens`, `cost_usd`.
- `POST /api/usage/purge` -> `{"deleted": n}`: applies `[usage] retention_days` to the raw
  records now (the runtime also does it at start and hourly).
- `GET /api/pricing` -> `{"prices": [...]}`: every known price (USD per 1M tokens) with
  `source` "default" or "override".
- `PUT /api/pricing` `{"provider", "model", "input", "output"[, "cached_input",
  "cache_creation", "reasoning"]}` -> the stored override (`model` "*" = the provider's default).
- `DELETE /api/pricing/<provider>/<model>` -> removes an override (the default price returns).
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any

import msgspec

from omniroute.admin.common import AdminError, check_admin, read_json, respond, respond_error
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.providers.pricing import Price
from omniroute.runtime import Runtime
from omniroute.store.usage_repo import GROUPS, SUM_COLUMNS, purge_expired

PRICING_PREFIX = "/api/pricing/"


class PricePayload(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    provider: str
    model: str
    input: float
    output: float
    cached_input: float | None = None
    cache_creation: float | None = None
    reasoning: float | None = None


def _day(req: Request, name: str) -> str | None:
    value = req.query(name)
    if value is None or value == "":
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).strftime("%Y-%m-%d")
    except ValueError:
        raise AdminError(
            400, f"'{name}' must be a UTC day as YYYY-MM-DD, got {value!r}", "invalid_query"
        ) from None


def _group_by(req: Request) -> list[str]:
    raw = req.query("group_by") or "day"
    names = [part.strip() for part in raw.split(",") if part.strip()]
    unknown = [n for n in names if n not in GROUPS]
    if unknown or not names:
        raise AdminError(
            400, f"group_by must be one or more of {', '.join(GROUPS)} (got {raw!r})", "invalid_query"
        )
    return list(dict.fromkeys(names))


def make_usage_api(rt: Runtime) -> tuple[Handler, Handler]:
    async def summary(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
            group_by = _group_by(req)
            since, until = _day(req, "since"), _day(req, "until")
            filters = {
                "api_key_id": req.query("api_key") or None,
                "provider": req.query("provider") or None,
                "model": req.query("model") or None,
            }
            rows = rt.usage_repo.summary(group_by, since=since, until=until, **filters)
            totals_rows = rt.usage_repo.summary((), since=since, until=until, **filters)
            totals: dict[str, Any] = (
                totals_rows[0] if totals_rows else {c: 0.0 if c == "cost_usd" else 0 for c in SUM_COLUMNS}
            )
            if "key" in group_by:
                names = {k.id: k.name for k in rt.repos.list_api_keys()}
                for row in rows:
                    row["api_key_name"] = names.get(row["api_key_id"]) if row["api_key_id"] else None
            respond(
                req,
                200,
                {"group_by": group_by, "since": since, "until": until, "rows": rows, "totals": totals},
            )
        except AdminError as exc:
            respond_error(req, exc)

    async def purge(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
            deleted = await asyncio.to_thread(
                purge_expired, rt.settings.data_path, rt.settings.usage.retention_days
            )
            respond(req, 200, {"deleted": deleted, "retention_days": rt.settings.usage.retention_days})
        except AdminError as exc:
            respond_error(req, exc)

    return summary, purge


def _checked_price(payload: PricePayload) -> Price:
    if not payload.provider.strip() or not payload.model.strip():
        raise AdminError(400, "'provider' and 'model' must not be empty", "invalid_price")
    rates = (payload.input, payload.output, payload.cached_input, payload.cache_creation, payload.reasoning)
    if any(r is not None and (not math.isfinite(r) or r < 0) for r in rates):
        raise AdminError(400, "prices must be finite and not negative (USD per 1M tokens)", "invalid_price")
    return Price(
        payload.input, payload.output, payload.cached_input, payload.cache_creation, payload.reasoning
    )


def make_pricing_api(rt: Runtime) -> tuple[Handler, Handler]:
    def listing() -> dict[str, Any]:
        return {"prices": [msgspec.to_builtins(e) for e in rt.pricing.entries()]}

    async def collection(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
            if req.method == "GET":
                respond(req, 200, listing())
                return
            payload = await read_json(req, PricePayload)
            price = _checked_price(payload)
            rt.usage_repo.upsert_pricing(payload.provider, payload.model, price)
            rt.pricing.set_override(payload.provider, payload.model, price)
            entry = next(
                e for e in rt.pricing.entries() if (e.provider, e.model) == (payload.provider, payload.model)
            )
            respond(req, 200, msgspec.to_builtins(entry))
        except AdminError as exc:
            respond_error(req, exc)

    async def item(req: Request) -> None:
        provider, _, model = req.path.removeprefix(PRICING_PREFIX).partition("/")
        try:
            check_admin(req, rt.settings)
            if not provider or not model:
                raise AdminError(404, "use /api/pricing/<provider>/<model>", "not_found")
            if not rt.usage_repo.delete_pricing(provider, model):
                raise AdminError(404, f"no price override for {provider}/{model}", "not_found")
            rt.pricing.remove_override(provider, model)
            respond(req, 200, {"deleted": f"{provider}/{model}"})
        except AdminError as exc:
            respond_error(req, exc)

    return collection, item
