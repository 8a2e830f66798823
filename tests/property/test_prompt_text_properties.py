"""The core's prompt-text extraction (`_core.prompt_texts`) finds exactly the texts, in the same
order and with the same user flag, as the prompt guard's walk over the parsed body."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute import _core
from omniroute.security.prompt_guard import segments

KEYS = st.sampled_from(
    [
        "role", "content", "type", "text", "thought", "functionResponse", "response", "output",
        "parts", "name", "tool_call_id", "image_url", "source", "id",
    ]
)  # fmt: skip
WORDS = st.sampled_from(
    [
        "user", "assistant", "system", "tool", "function", "model", "developer", "text", "image_url",
        "tool_result", "tool_use", "input_text", "output_text", "message", "function_call_output",
        "custom_tool_call_output", "x_output", "output", "",
    ]
)  # fmt: skip
TEXT = st.text(max_size=12)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([0.0, 1.5]), WORDS, TEXT)


def _values() -> st.SearchStrategy[Any]:
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(KEYS, TEXT), inner, max_size=5),
        ),
        max_leaves=25,
    )


ROLES = st.one_of(
    st.sampled_from(["user", "user", "tool", "function", "assistant", "model", "system"]), SCALARS
)
KINDS = st.sampled_from(
    ["text", "input_text", "output_text", "tool_result", "image_url", "message", "x_output", None, 0]
)
TEXTS = st.one_of(TEXT, st.sampled_from([None, 1, True, [], {}]))


def _parts(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    part = st.fixed_dictionaries({"type": KINDS}, optional={"text": TEXTS, "content": inner})
    return st.one_of(TEXT, st.lists(st.one_of(part, st.just(None)), max_size=4), st.just(1))


# Content: a string, or parts that may hold parts (tool results), or anything else.
CONTENT = _parts(_parts(_values()))


def _item(extra: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A message-like object (usually), with the keys the walk reads more often than not."""
    fields = st.fixed_dictionaries(
        {"role": ROLES},
        optional={"type": KINDS, "content": CONTENT, "output": CONTENT, **extra},
    )
    return st.one_of(fields, st.just(3))


GEMINI_PART = st.fixed_dictionaries(
    {},
    optional={
        "text": TEXTS,
        "thought": SCALARS,
        "functionResponse": st.fixed_dictionaries({"name": TEXT}, optional={"response": _values()}),
    },
)
BODIES = {
    "openai": st.fixed_dictionaries({"messages": st.one_of(st.lists(_item({}), max_size=5), st.just("x"))}),
    "anthropic": st.fixed_dictionaries(
        {"messages": st.one_of(st.lists(_item({}), max_size=5), st.just("x"))}
    ),
    "gemini": st.fixed_dictionaries(
        {
            "contents": st.lists(
                _item({"parts": st.lists(st.one_of(GEMINI_PART, st.just(0)), max_size=4)}), max_size=4
            )
        }
    ),
    "responses": st.fixed_dictionaries({"input": st.one_of(TEXT, st.lists(_item({}), max_size=5), SCALARS)}),
}


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(sorted(BODIES)).flatmap(lambda d: st.tuples(st.just(d), BODIES[d])))
def test_core_texts_equal_the_guard_walk(case: tuple[str, dict[str, Any]]) -> None:
    dialect, doc = case
    body = json.dumps(doc).encode()
    expected = [(segment[2], segment[3]) for segment in segments(json.loads(body), dialect)]
    assert _core.prompt_texts(body, dialect) == expected


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(BODIES)), _values())
def test_any_json_value_at_the_top_is_read_or_refused_like_the_walk(dialect: str, doc: Any) -> None:
    body = json.dumps(doc).encode()
    texts = _core.prompt_texts(body, dialect)
    if not isinstance(doc, dict):
        assert texts is None
    else:
        assert texts == [(segment[2], segment[3]) for segment in segments(doc, dialect)]
