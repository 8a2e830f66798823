"""Properties of the token-counting body check `_core.inspect_count_request` for Gemini
`:countTokens` (rust/core/src/count_request.rs, the GEMINI_COUNT table of request_shapes.rs):

* count bodies built like the SDK and the API reference build them pass: `contents`, a whole
  `generateContentRequest` (camelCase or snake_case), or both;
* on bodies with arbitrary nodes replaced or removed, the core accepts exactly what the
  generateContent oracle (tests/support/request_shapes.py) allows, applied to `contents` and to
  the request, with one of the two present;
* arbitrary JSON never crashes the check.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute import _core
from tests.property.test_request_shapes import GEMINI_BODIES, json_values, text
from tests.support.fuzz import mutated
from tests.support.request_shapes import structure_ok

REQUEST_KEYS = ("generateContentRequest", "generate_content_request")


@st.composite
def count_bodies(draw: st.DrawFn) -> dict[str, Any]:
    generate = draw(GEMINI_BODIES)
    how = draw(st.sampled_from(["contents", "request", "both"]))
    body: dict[str, Any] = {}
    if how in ("contents", "both"):
        body["contents"] = generate["contents"]
    if how in ("request", "both"):
        if draw(st.booleans()):
            generate = {**generate, "model": "models/gemini-2.5-flash"}
        body[draw(st.sampled_from(REQUEST_KEYS))] = generate
    return body


def count_ok(body: Any) -> bool:
    """The oracle: what a Gemini count body may be."""
    if not isinstance(body, dict):
        return False
    contents = body.get("contents")
    requests = [body.get(key) for key in REQUEST_KEYS]
    if contents is None and all(r is None for r in requests):
        return False
    if contents is not None and not structure_ok({"contents": contents}, "gemini"):
        return False
    return all(r is None or (isinstance(r, dict) and structure_ok(r, "gemini")) for r in requests)


def inspect(body: Any) -> Any:
    try:
        return _core.inspect_count_request(json.dumps(body).encode(), "gemini")
    except _core.InvalidRequestError as err:
        return err


@settings(max_examples=100, deadline=None)
@given(body=count_bodies())
def test_count_bodies_the_clients_build_pass(body: dict[str, Any]) -> None:
    assert count_ok(body)
    assert isinstance(inspect(body), _core.RequestInfo), body


@settings(max_examples=200, deadline=None)
@given(body=count_bodies().flatmap(mutated))
def test_the_core_accepts_exactly_what_the_oracle_allows(body: Any) -> None:
    result = inspect(body)
    assert isinstance(result, _core.RequestInfo) is count_ok(body), (body, result)
    if isinstance(result, _core.InvalidRequestError) and isinstance(body, dict):
        # A structure problem names its node (the OpenAI `param`); only a non-object has none.
        assert result.args[0] and result.args[1], result.args


@settings(max_examples=100, deadline=None)
@given(body=st.dictionaries(st.sampled_from(["contents", *REQUEST_KEYS]) | text, json_values))
def test_arbitrary_json_passes_or_is_refused_but_never_crashes(body: dict[str, Any]) -> None:
    result = inspect(body)
    assert isinstance(result, _core.RequestInfo | _core.InvalidRequestError)
    assert isinstance(result, _core.RequestInfo) is count_ok(body), (body, result)
