"""`/api/logs` (the request log, filtered and paginated) and `/api/logs/{request_id}` (one call,
with its capture when there is one).

- `GET /api/logs?status=&outcome=&provider=&model=&key=&since=&until=&limit=&cursor=` ->
  `{"logs": [...], "next_cursor"}`, newest first. `status` is a code (`429`) or a class (`5xx`);
  `model` matches the model called or the one asked for; `key` is an API key id, public id or
  name; `since` (inclusive) and `until` (exclusive) are Unix seconds or ISO 8601 (UTC when no
  offset is given); `limit` 1-500 (default 50); `cursor` is the previous page's `next_cursor`
  (null on the last page).
- `GET /api/logs/{request_id}` -> the newest entry with that id, `capture` included (null when
  the call was not captured); 404 when there is none.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omniroute.admin.common import AdminError, check_admin, respond, respond_error
from omniroute.http.request import Request
from omniroute.http.routes import Handler
from omniroute.runtime import Runtime
from omniroute.store.db import DB_FILE, connect
from omniroute.store.request_log_repo import MAX_LIMIT, LogQuery, RequestLogRepository, decode_cursor

PREFIX = "/api/logs/"
_STATUS_CLASS = re.compile(r"^([1-5])xx$", re.IGNORECASE)


def _invalid(message: str) -> AdminError:
    return AdminError(400, message, "invalid_query")


def parse_time(name: str, value: str | None) -> float | None:
    """Unix seconds, or an ISO 8601 date / date-time (UTC unless it names an offset)."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(f"'{name}' must be Unix seconds or ISO 8601, got {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _status(value: str | None) -> tuple[int | None, int | None]:
    if value is None or value == "":
        return None, None
    match = _STATUS_CLASS.match(value)
    if match:
        return None, int(match.group(1))
    if value.isdigit() and 100 <= int(value) <= 599:
        return int(value), None
    raise _invalid(f"'status' must be a status code (429) or a class (5xx), got {value!r}")


def _limit(value: str | None) -> int:
    if value is None or value == "":
        return 50
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise _invalid(f"'limit' must be a whole number from 1 to {MAX_LIMIT}, got {value!r}")
    return int(value)


def _key_id(rt: Runtime, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    for key in rt.repos.list_api_keys():
        if value in (key.id, key.name, key.public_id):
            return key.id
    return value  # an id of a deleted key still finds its rows


def build_query(rt: Runtime, req: Request) -> LogQuery:
    status, status_class = _status(req.query("status"))
    cursor = req.query("cursor") or None
    after = decode_cursor(cursor) if cursor else None
    if cursor and after is None:
        raise _invalid("'cursor' is not one this API gave out")
    return LogQuery(
        status=status,
        status_class=status_class,
        outcome=req.query("outcome") or None,
        provider=req.query("provider") or None,
        model=req.query("model") or None,
        api_key_id=_key_id(rt, req.query("key")),
        since=parse_time("since", req.query("since")),
        until=parse_time("until", req.query("until")),
        limit=_limit(req.query("limit")),
        after=after,
    )


def _list(db: Path, query: LogQuery) -> tuple[list[dict[str, Any]], str | None]:
    conn = connect(db, readonly=True)
    try:
        return RequestLogRepository(conn).list(query)
    finally:
        conn.close()


def _get(db: Path, request_id: str) -> dict[str, Any] | None:
    conn = connect(db, readonly=True)
    try:
        return RequestLogRepository(conn).get(request_id)
    finally:
        conn.close()


def make_logs_api(rt: Runtime) -> tuple[Handler, Handler]:
    db = rt.settings.data_path / DB_FILE

    async def listing(req: Request) -> None:
        try:
            check_admin(req, rt.settings)
            query = build_query(rt, req)
            # Its own read connection in a thread: a wide filter must not stall the event loop.
            rows, cursor = await asyncio.to_thread(_list, db, query)
            respond(req, 200, {"logs": rows, "next_cursor": cursor})
        except AdminError as exc:
            respond_error(req, exc)

    async def detail(req: Request) -> None:
        request_id = req.path.removeprefix(PREFIX)
        try:
            check_admin(req, rt.settings)
            if not request_id or "/" in request_id:
                raise AdminError(404, "use /api/logs/<request id>", "not_found")
            entry = await asyncio.to_thread(_get, db, request_id)
            if entry is None:
                raise AdminError(404, f"no request log entry for {request_id!r}", "not_found")
            respond(req, 200, entry)
        except AdminError as exc:
            respond_error(req, exc)

    return listing, detail
