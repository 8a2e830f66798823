"""The Anthropic shape of `GET /v1/models`: its pagination parameters read and checked, and one
page of model ids cut from the gateway's list.

Anthropic pages by cursor: `limit` (default 20, 1 to 1000), and `after_id` or `before_id`, the
id of a model the page starts after or ends before. A page says `has_more` (more models in the
direction asked), `first_id` and `last_id` (the cursors for the page before and after it). The
SDKs walk forward with `after_id=last_id` until `has_more` is false (backward with `before_id=
first_id` when the first call gave `before_id`). A cursor naming no listed model is a 400, not
an empty page: a client must not take a list cut short for the whole list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from omniroute.errors import GatewayError

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
#: Anthropic's `created_at` is an RFC 3339 time; the gateway knows none for its models.
EPOCH = "1970-01-01T00:00:00Z"


class PageParams(msgspec.Struct, frozen=True, kw_only=True):
    limit: int = DEFAULT_LIMIT
    after_id: str | None = None
    before_id: str | None = None


def _invalid(message: str, param: str) -> GatewayError:
    return GatewayError(
        400, message, error_type="invalid_request_error", param=param, code="invalid_parameter"
    )


def page_params(query: Callable[[str], str | None]) -> PageParams:
    """The pagination parameters of a request whose query string `query` reads."""
    raw_limit = query("limit")
    limit = DEFAULT_LIMIT
    if raw_limit is not None:
        text = raw_limit.strip()
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
            raise _invalid(
                f"limit: must be an integer from 1 to {MAX_LIMIT}, not {raw_limit[:40]!r}", "limit"
            )
        limit = int(text)
    after_id, before_id = query("after_id"), query("before_id")
    if after_id is not None and before_id is not None:
        raise _invalid("after_id and before_id cannot be used together", "before_id")
    return PageParams(limit=limit, after_id=after_id, before_id=before_id)


def _position(ids: Sequence[str], cursor: str, param: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        raise _invalid(f"{param}: no model '{cursor[:200]}' in the list", param) from None


def model_object(model_id: str) -> dict[str, object]:
    """One model in Anthropic's shape (the list item and `GET /v1/models/{id}` alike)."""
    return {"type": "model", "id": model_id, "display_name": model_id, "created_at": EPOCH}


def anthropic_page(ids: Sequence[str], params: PageParams) -> dict[str, object]:
    """The page of `ids` (distinct, in listing order) that `params` asks for."""
    if params.before_id is not None:
        end = _position(ids, params.before_id, "before_id")
        start = max(0, end - params.limit)
        has_more = start > 0
    else:
        start = 0 if params.after_id is None else _position(ids, params.after_id, "after_id") + 1
        end = min(len(ids), start + params.limit)
        has_more = end < len(ids)
    page = ids[start:end]
    return {
        "data": [model_object(model_id) for model_id in page],
        "has_more": has_more,
        "first_id": page[0] if page else None,
        "last_id": page[-1] if page else None,
    }
