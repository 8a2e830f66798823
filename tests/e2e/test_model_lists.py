"""`GET /v1/models` through each SDK: the Anthropic SDK (it sends `anthropic-version`) gets
Anthropic's cursor-paged list, walked page by page in both directions; the OpenAI SDK gets the
whole OpenAI-shaped list as before (python/omniroute/api/models.py, api/model_pages.py)."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import pytest

from tests.e2e.test_dialect_matrix import matrix_config
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess
from tests.support.sdk_clients import anthropic_client, openai_client

KEY = "sk-model-lists-client"
ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
# A combo and a dozen aliases: with the connected providers' models, more than one default page.
EXTRA = """
[[combos]]
name = "coding"
strategy = "priority"
models = ["openai/gpt-4o", "anthropic/claude-mock-1"]

[aliases]
""" + "".join(f'alias-{n:02} = "openai/gpt-4o-mini"\n' for n in range(12))


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("model-lists")
    with GatewayProcess(base / "data", matrix_config(mock) + EXTRA) as proc:
        yield proc


@pytest.fixture(scope="module")
def openai_ids(gw: GatewayProcess) -> list[str]:
    """The OpenAI list's ids, each once: what the Anthropic pages must add up to."""
    ids = list(dict.fromkeys(m.id for m in openai_client(gw, KEY).models.list()))
    assert len(ids) > 25, "the catalog is too small to need a second default page"
    return ids


def test_the_anthropic_sdk_walks_every_page_of_the_list(gw: GatewayProcess, openai_ids: list[str]) -> None:
    first = anthropic_client(gw, KEY).models.list(limit=7)
    pages = list(first.iter_pages())
    assert len(pages) == -(-len(openai_ids) // 7)
    assert [m.id for page in pages for m in page.data] == openai_ids
    assert [page.has_more for page in pages] == [True] * (len(pages) - 1) + [False]
    for page in pages:
        assert (page.first_id, page.last_id) == (page.data[0].id, page.data[-1].id)
    model = pages[0].data[0]
    assert (model.type, model.display_name) == ("model", model.id)
    assert model.created_at.year == 1970 and model.created_at.tzinfo is not None
    # Auto-pagination over the default page size (20) finds the same models.
    assert [m.id for m in anthropic_client(gw, KEY).models.list()] == openai_ids


def test_the_default_page_holds_twenty_models(gw: GatewayProcess, openai_ids: list[str]) -> None:
    page = anthropic_client(gw, KEY).models.list()
    assert [m.id for m in page.data] == openai_ids[:20]
    assert page.has_more is True and page.last_id == openai_ids[19]


def test_before_id_walks_the_list_backwards(gw: GatewayProcess, openai_ids: list[str]) -> None:
    first = anthropic_client(gw, KEY).models.list(before_id=openai_ids[-1], limit=6)
    assert [m.id for m in first.data] == openai_ids[-7:-1]
    pages = list(first.iter_pages())
    assert [m.id for page in reversed(pages) for m in page.data] == openai_ids[:-1]
    assert pages[-1].has_more is False and pages[-1].first_id == openai_ids[0]


def test_the_raw_list_is_anthropics_shape(gw: GatewayProcess, openai_ids: list[str]) -> None:
    resp = httpx.get(
        f"{gw.url}/v1/models", params={"limit": 2, "after_id": openai_ids[0]}, headers=ANTHROPIC_HEADERS
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "data": [
            {"type": "model", "id": model_id, "display_name": model_id, "created_at": "1970-01-01T00:00:00Z"}
            for model_id in openai_ids[1:3]
        ],
        "has_more": True,
        "first_id": openai_ids[1],
        "last_id": openai_ids[2],
    }
    last = httpx.get(f"{gw.url}/v1/models", params={"after_id": openai_ids[-1]}, headers=ANTHROPIC_HEADERS)
    assert last.json() == {"data": [], "has_more": False, "first_id": None, "last_id": None}


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after_id": "no-such-model"}, "after_id"),
        ({"before_id": "no-such-model"}, "before_id"),
        ({"after_id": "alias-01", "before_id": "coding"}, "before_id"),
    ],
)
def test_bad_page_parameters_are_anthropic_400s(
    gw: GatewayProcess, params: dict[str, object], param: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        anthropic_client(gw, KEY).models.list(**params)  # type: ignore[arg-type]
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert param in body["error"]["message"]


def test_the_openai_list_is_unchanged(gw: GatewayProcess, openai_ids: list[str]) -> None:
    listed = list(openai_client(gw, KEY).models.list())
    assert all(m.object == "model" and m.created == 0 and m.owned_by for m in listed)
    assert {m.id: m.owned_by for m in listed}["coding"] == "combo"
    # Anthropic's query parameters mean nothing to an OpenAI client: still the whole list.
    raw = httpx.get(f"{gw.url}/v1/models", params={"limit": 2}, headers={"authorization": f"Bearer {KEY}"})
    assert raw.status_code == 200
    body = raw.json()
    assert set(body) == {"object", "data"} and body["object"] == "list"
    assert set(body["data"][0]) == {"id", "object", "created", "owned_by"}
    assert list(dict.fromkeys(item["id"] for item in body["data"])) == openai_ids
