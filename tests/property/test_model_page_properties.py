"""Properties of Anthropic's model-list pagination (python/omniroute/api/model_pages.py): walking
the pages forward or backward, as the SDKs do, meets every model exactly once whatever the page
size; and no query string makes the parameter reader fail other than with a 400."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from omniroute.api.model_pages import MAX_LIMIT, PageParams, anthropic_page, page_params
from omniroute.errors import GatewayError

ID_LISTS = st.lists(st.text(min_size=1, max_size=12), unique=True, max_size=60)
LIMITS = st.integers(min_value=1, max_value=70)


def ids_of(page: dict[str, object]) -> list[str]:
    data = page["data"]
    assert isinstance(data, list)
    return [item["id"] for item in data]


@given(ids=ID_LISTS, limit=LIMITS)
def test_walking_forward_meets_every_model_once_in_order(ids: list[str], limit: int) -> None:
    seen: list[str] = []
    page = anthropic_page(ids, PageParams(limit=limit))
    for _ in range(len(ids) + 1):
        got = ids_of(page)
        assert len(got) <= limit
        seen.extend(got)
        if not page["has_more"]:
            break
        assert isinstance(page["last_id"], str)
        page = anthropic_page(ids, PageParams(limit=limit, after_id=page["last_id"]))
    assert seen == ids


@given(ids=ID_LISTS.filter(bool), limit=LIMITS)
def test_walking_backward_from_the_last_model_meets_every_earlier_one(ids: list[str], limit: int) -> None:
    pages: list[list[str]] = []
    page = anthropic_page(ids, PageParams(limit=limit, before_id=ids[-1]))
    for _ in range(len(ids) + 1):
        pages.append(ids_of(page))
        if not page["has_more"]:
            break
        assert isinstance(page["first_id"], str)
        page = anthropic_page(ids, PageParams(limit=limit, before_id=page["first_id"]))
    assert [i for got in reversed(pages) for i in got] == ids[:-1]


@given(query=st.dictionaries(st.sampled_from(["limit", "after_id", "before_id", "x"]), st.text(max_size=8)))
def test_any_query_is_read_or_refused_with_a_400(query: dict[str, str]) -> None:
    refusal: GatewayError | None = None
    try:
        params = page_params(query.get)
    except GatewayError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.status == 400 and refusal.param in ("limit", "before_id")
        return
    assert 1 <= params.limit <= MAX_LIMIT
    assert not (params.after_id is not None and params.before_id is not None)
