"""Properties of the request structure checks of `_core.inspect_request` (rust/core/src/shape.rs
with the tables of rust/core/src/request_shapes.rs), for the three dialects a same-dialect call
forwards untranslated:

* bodies built like the SDKs build them pass, whatever unknown members ride along and in
  whatever order members come;
* one checked node given a wrong JSON type is refused, with that node's path as `param`;
* one required node left out is refused, with its path as `param`;
* arbitrary JSON never crashes the check (it passes or raises InvalidRequestError).

The oracle is tests/support/request_shapes.py, which restates the Rust tables; a last property
holds the core to it exactly on bodies with arbitrary nodes replaced or removed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute import _core
from tests.support.fuzz import delete_at, mutated, node_paths, replace_at
from tests.support.request_shapes import kinds_at, param, required_at, snake, structure_ok

text = st.text(max_size=12)
leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text
json_values = st.recursive(
    leaf,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)
# Unknown members: no dialect knows an `x_` field.
unknown = st.dictionaries(text.map(lambda k: "x_" + k), json_values, max_size=2)


@st.composite
def obj(draw: st.DrawFn, required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object with the `required` members, some `optional` ones and unknown ones, in any order
    (so a block's `type` may come after the members it decides about)."""
    members = {key: draw(strategy) for key, strategy in required.items()}
    for key, strategy in (optional or {}).items():
        if draw(st.booleans()):
            members[key] = draw(strategy)
    members.update(draw(unknown))
    return dict(draw(st.permutations(list(members.items()))))


# OpenAI Chat Completions -------------------------------------------------------------------------

oa_text_part = obj({"type": st.just("text"), "text": text})
oa_part = st.one_of(
    oa_text_part,
    obj({"type": st.just("image_url"), "image_url": obj({"url": text}, {"detail": st.just("low")})}),
    obj({"type": st.just("input_audio"), "input_audio": obj({"data": text, "format": st.just("wav")})}),
    obj({"type": st.just("file"), "file": obj({"file_id": text})}),
)
oa_tool_call = obj(
    {"id": text, "type": st.just("function"), "function": obj({"name": text, "arguments": text})}
)
oa_message = st.one_of(
    obj(
        {
            "role": st.sampled_from(["system", "developer"]),
            "content": text | st.lists(oa_text_part, max_size=3),
        }
    ),
    obj({"role": st.just("user"), "content": text | st.lists(oa_part, max_size=3)}, {"name": text}),
    obj(
        {"role": st.just("assistant")},
        {
            "content": st.none() | text | st.lists(oa_text_part, max_size=3),
            "tool_calls": st.lists(oa_tool_call, max_size=2),
        },
    ),
    obj(
        {"role": st.just("tool"), "tool_call_id": text, "content": text | st.lists(oa_text_part, max_size=3)}
    ),
)
oa_function = obj({"name": text}, {"description": text, "parameters": st.just({"type": "object"})})
OPENAI_BODIES = obj(
    {"model": text, "messages": st.lists(oa_message, max_size=4)},
    {
        "tools": st.lists(obj({"type": st.just("function"), "function": oa_function}), max_size=2),
        "tool_choice": st.just("auto") | obj({"type": st.just("function"), "function": obj({"name": text})}),
        "stop": text | st.lists(text, max_size=2),
        "response_format": obj({"type": st.just("json_object")}),
        "stream": st.booleans(),
    },
)

# Anthropic Messages ------------------------------------------------------------------------------

an_cache = {"cache_control": st.just({"type": "ephemeral"})}
an_text = obj({"type": st.just("text"), "text": text}, an_cache)
an_image = obj(
    {
        "type": st.just("image"),
        "source": st.just({"type": "base64", "media_type": "image/png", "data": "iVBO"})
        | st.just({"type": "url", "url": "https://example.com/a.png"}),
    },
    an_cache,
)
an_search = obj(
    {
        "type": st.just("search_result"),
        "source": text,
        "title": text,
        "content": st.lists(an_text, max_size=2),
    }
)
an_block = st.one_of(
    an_text,
    an_image,
    an_search,
    obj({"type": st.just("document"), "source": st.just({"type": "text", "data": "d"})}, an_cache),
    obj({"type": st.just("tool_use"), "id": text, "name": text, "input": st.just({"a": 1})}, an_cache),
    obj(
        {"type": st.just("tool_result"), "tool_use_id": text},
        {
            "content": text | st.lists(an_text | an_image | an_search, max_size=3),
            "is_error": st.booleans(),
            **an_cache,
        },
    ),
    obj({"type": st.just("thinking"), "thinking": text, "signature": text}),
    obj({"type": st.just("redacted_thinking"), "data": text}),
)
an_message = obj(
    {"role": st.sampled_from(["user", "assistant"]), "content": text | st.lists(an_block, max_size=3)}
)
ANTHROPIC_BODIES = obj(
    {"model": text, "max_tokens": st.integers(1, 9), "messages": st.lists(an_message, max_size=4)},
    {
        "system": text | st.lists(an_text, max_size=2),
        "tools": st.lists(
            obj({"name": text, "input_schema": st.just({"type": "object"})}, {"description": text})
            | obj({"type": st.just("web_search_20250305"), "name": st.just("web_search")}),
            max_size=2,
        ),
        "tool_choice": obj({"type": st.sampled_from(["auto", "any"])}),
        "stop_sequences": st.lists(text, max_size=2),
        "metadata": obj({}, {"user_id": text}),
        "thinking": obj({"type": st.just("enabled"), "budget_tokens": st.just(1024)}),
    },
)

# Gemini generateContent ---------------------------------------------------------------------------


@st.composite
def gm(draw: st.DrawFn, required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Gemini object, its member names in camelCase or (as the REST API also takes) snake_case."""
    members = draw(obj(required, optional))
    if draw(st.booleans()):
        return {snake(k) if not k.startswith("x_") else k: v for k, v in members.items()}
    return members


gm_part = st.one_of(
    gm({"text": text}, {"thought": st.booleans(), "thoughtSignature": text}),
    gm({"inlineData": gm({"mimeType": st.just("image/png"), "data": text})}),
    gm({"fileData": gm({"mimeType": st.just("application/pdf"), "fileUri": text})}),
    gm({"functionCall": gm({"name": text}, {"args": st.just({"a": [1]}), "id": text})}),
    gm({"functionResponse": gm({"name": text, "response": st.just({"r": "x"})}, {"id": text})}),
)
GEMINI_BODIES = gm(
    {
        "contents": st.lists(
            gm({"parts": st.lists(gm_part, max_size=3)}, {"role": st.sampled_from(["user", "model"])}),
            max_size=3,
        )
    },
    {
        "systemInstruction": gm({"parts": st.lists(gm({"text": text}), max_size=2)}),
        "tools": st.lists(
            gm(
                {
                    "functionDeclarations": st.lists(
                        gm({"name": text}, {"parameters": st.just({})}), max_size=2
                    )
                }
            )
            | st.just({"googleSearch": {}}),
            max_size=2,
        ),
        "generationConfig": st.just({"maxOutputTokens": 5}),
        "safetySettings": st.just([{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]),
    },
)


BODIES = {"openai": OPENAI_BODIES, "anthropic": ANTHROPIC_BODIES, "gemini": GEMINI_BODIES}
EXAMPLE_OF_KIND: dict[str, Any] = {
    "null": None,
    "boolean": True,
    "number": 7,
    "string": "x",
    "array": [],
    "object": {},
}


def inspect(body: Any, dialect: str) -> Any:
    try:
        return _core.inspect_request(json.dumps(body).encode(), dialect)
    except _core.InvalidRequestError as err:
        return err


#: Top-level members inspection reads as numbers (token limits), per dialect.
COUNTS = {
    "openai": ("max_tokens", "max_completion_tokens"),
    "anthropic": ("max_tokens",),
    "gemini": (),
    "responses": ("max_output_tokens",),
}


def scalars_ok(body: dict[str, Any], dialect: str) -> bool:
    """The top-level members inspection reads as values (not structure) are well typed."""

    def count(value: Any) -> bool:
        return value is None or (type(value) is int and 0 <= value < 2**64)

    return (
        isinstance(body.get("model", ""), str)
        and body.get("stream") in (None, True, False)
        and all(count(body.get(key)) for key in COUNTS[dialect])
        and (dialect != "openai" or isinstance(body.get("stream_options"), dict | None))
    )


# Properties ---------------------------------------------------------------------------------------

DIALECT = pytest.mark.parametrize("dialect", sorted(BODIES))


@DIALECT
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_sdk_shaped_bodies_pass(dialect: str, data: st.DataObject) -> None:
    body = data.draw(BODIES[dialect], label="body")
    assert structure_ok(body, dialect)
    result = inspect(body, dialect)
    assert isinstance(result, _core.RequestInfo), result


@DIALECT
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_wrongly_typed_node_is_named(dialect: str, data: st.DataObject) -> None:
    body = data.draw(BODIES[dialect], label="body")
    path = data.draw(st.sampled_from([p for p in node_paths(body) if kinds_at(dialect, p)]), label="node")
    accepted = kinds_at(dialect, path) or []
    # A null member reads as absent (the missing-node property covers it); a null element is a
    # wrong type like any other.
    wrong = [k for k in EXAMPLE_OF_KIND if k not in accepted and (k != "null" or isinstance(path[-1], int))]
    value = EXAMPLE_OF_KIND[data.draw(st.sampled_from(wrong), label="kind")]
    result = inspect(replace_at(body, path, value), dialect)
    assert isinstance(result, _core.InvalidRequestError), f"{param(path)} = {value!r} passed"
    assert result.args[1] == param(path), result.args
    assert f"'{param(path)}' must be" in result.args[0]


@DIALECT
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_missing_required_node_is_named(dialect: str, data: st.DataObject) -> None:
    body = data.draw(BODIES[dialect], label="body")
    candidates = [p for p in node_paths(body) if required_at(dialect, body, p)]
    path = data.draw(st.sampled_from(candidates), label="node")  # `messages` / `contents` at least
    how = data.draw(st.sampled_from(["delete", "null"]), label="how")
    broken = delete_at(body, path) if how == "delete" else replace_at(body, path, None)
    result = inspect(broken, dialect)
    assert isinstance(result, _core.InvalidRequestError), f"{param(path)} ({how}) passed"
    assert result.args[1] == param(path), result.args


@DIALECT
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_core_accepts_exactly_what_the_tables_allow(dialect: str, data: st.DataObject) -> None:
    body = data.draw(BODIES[dialect].flatmap(mutated), label="body")
    result = inspect(body, dialect)
    if not isinstance(body, dict) or not scalars_ok(body, dialect):
        assert isinstance(result, _core.InvalidRequestError | _core.RequestInfo)
        return
    expected = structure_ok(body, dialect)
    assert isinstance(result, _core.RequestInfo) is expected, result


@pytest.mark.parametrize("dialect", ["openai", "anthropic", "gemini", "responses"])
@settings(max_examples=100, deadline=None)
@given(
    body=st.dictionaries(
        st.sampled_from(["messages", "contents", "input", "tools", "system"]) | text, json_values
    )
)
def test_arbitrary_json_passes_or_is_refused_but_never_crashes(dialect: str, body: dict[str, Any]) -> None:
    result = inspect(body, dialect)
    assert isinstance(result, _core.RequestInfo | _core.InvalidRequestError)
    if isinstance(result, _core.InvalidRequestError):
        assert isinstance(result.args[0], str) and result.args[0]
    elif scalars_ok(body, dialect):
        assert structure_ok(body, dialect)
