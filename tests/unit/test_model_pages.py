"""Anthropic's model-list pagination (python/omniroute/api/model_pages.py): the query parameters
as read and refused, and the page each cursor gives, table by table."""

from __future__ import annotations

import pytest

from omniroute.api.model_pages import EPOCH, PageParams, anthropic_page, model_object, page_params
from omniroute.errors import GatewayError

IDS = [f"m{n}" for n in range(10)]


def params(**query: str) -> PageParams:
    return page_params(query.get)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, PageParams(limit=20)),
        ({"limit": "1"}, PageParams(limit=1)),
        ({"limit": "1000"}, PageParams(limit=1000)),
        ({"limit": " 7 "}, PageParams(limit=7)),
        ({"limit": "007"}, PageParams(limit=7)),
        ({"after_id": "m3"}, PageParams(after_id="m3")),
        ({"before_id": "m3", "limit": "2"}, PageParams(limit=2, before_id="m3")),
        # Unknown parameters (lifecycle, beta) are not Anthropic pagination: ignored.
        ({"lifecycle": "active", "beta": "true"}, PageParams()),
    ],
)
def test_page_parameters_are_read(query: dict[str, str], expected: PageParams) -> None:
    assert params(**query) == expected


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"limit": "\u0663"}, "limit"),  # an Arabic-Indic digit: str.isdigit, not an integer here
        ({"limit": "1e3"}, "limit"),
        ({"after_id": "m1", "before_id": "m5"}, "before_id"),
    ],
)
def test_bad_page_parameters_are_400s_naming_the_parameter(query: dict[str, str], param: str) -> None:
    with pytest.raises(GatewayError) as info:
        params(**query)
    err = info.value
    assert (err.status, err.param, err.error_type) == (400, param, "invalid_request_error")
    assert param in err.message


@pytest.mark.parametrize(
    ("query", "page_ids", "has_more"),
    [
        ({}, IDS, False),
        ({"limit": "3"}, ["m0", "m1", "m2"], True),
        ({"limit": "10"}, IDS, False),
        ({"limit": "3", "after_id": "m2"}, ["m3", "m4", "m5"], True),
        ({"limit": "3", "after_id": "m6"}, ["m7", "m8", "m9"], False),
        ({"after_id": "m9"}, [], False),
        ({"limit": "3", "before_id": "m9"}, ["m6", "m7", "m8"], True),
        ({"limit": "3", "before_id": "m3"}, ["m0", "m1", "m2"], False),
        ({"limit": "5", "before_id": "m2"}, ["m0", "m1"], False),
        ({"before_id": "m0"}, [], False),
    ],
)
def test_each_cursor_gives_its_page(query: dict[str, str], page_ids: list[str], has_more: bool) -> None:
    page = anthropic_page(IDS, params(**query))
    assert page == {
        "data": [model_object(i) for i in page_ids],
        "has_more": has_more,
        "first_id": page_ids[0] if page_ids else None,
        "last_id": page_ids[-1] if page_ids else None,
    }


@pytest.mark.parametrize("cursor", ["after_id", "before_id"])
def test_a_cursor_naming_no_model_is_a_400(cursor: str) -> None:
    with pytest.raises(GatewayError) as info:
        anthropic_page(IDS, params(**{cursor: "gone"}))
    assert (info.value.status, info.value.param) == (400, cursor)
    assert "gone" in info.value.message


def test_an_empty_list_is_one_empty_page() -> None:
    assert anthropic_page([], params()) == {"data": [], "has_more": False, "first_id": None, "last_id": None}


def test_the_model_object_is_anthropics() -> None:
    assert model_object("a/b") == {"type": "model", "id": "a/b", "display_name": "a/b", "created_at": EPOCH}
    assert EPOCH.endswith("Z") and EPOCH.startswith("1970-01-01T")
