"""Properties of request inspection and byte-stable request translation (`omniroute._core`).

Bodies are produced with `json.dumps` under randomly chosen separators and escaping, so the
exact text of every member is known and can be looked for in the translated output. The
structure checks of messages, tools and the like have their own properties
(test_request_shapes.py); here their oracle, `structure_ok`, says which bodies pass them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute import _core
from tests.support.request_shapes import structure_ok

U64_MAX = 2**64 - 1
I64_MIN = -(2**63)

SEPARATORS = ((",", ":"), (", ", ": "), (",", ": "), (" , ", " : "), (",\n  ", ":\t"))
# serde_json (no arbitrary_precision) reads integers of this range exactly.
json_ints = st.integers(I64_MIN, U64_MAX)
json_scalars = (
    st.none()
    | st.booleans()
    | json_ints
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Anything json.dumps can write, including NaN, huge integers and deep nesting.
wild_json = st.recursive(
    json_scalars | st.floats() | st.integers(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=20,
)
# Byte soup biased towards JSON tokens, so the scanner is exercised past its first byte.
json_tokens = st.sampled_from(
    [
        *(b"{", b"}", b"[", b"]", b'"', b":", b",", b" ", b"\n", b"null", b"true", b"1", b"-0.5e3", b"01"),
        *(b'"model"', b'"messages"', b'"stream"', b'"stream_options"', b'"max_tokens"', b'"a"'),
        *(b"\\", b'\\"', b"\\u00e9", b"\\ud800", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\x00"),
    ]
)
byte_soup = st.binary(max_size=200) | st.lists(json_tokens, max_size=40).map(b"".join)

# Top-level members the core parses (a wrong type there is a client error).
TYPED_KEYS = ("model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens")
# Members whose structure the core checks.
STRUCTURED_KEYS = ("tools", "functions", "tool_choice", "stop", "response_format")
# Members the core reads without ever rejecting them.
READ_KEYS = ("temperature",)
extra_keys = st.text(max_size=10).filter(lambda k: k not in TYPED_KEYS + STRUCTURED_KEYS + READ_KEYS)
valid_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant"]), "content": st.text()}
)
valid_messages = st.lists(valid_message, max_size=3)
messages = st.lists(valid_message | json_values, max_size=3)
valid_tools = st.lists(
    st.fixed_dictionaries(
        {"type": st.just("function"), "function": st.fixed_dictionaries({"name": st.text(max_size=8)})},
        optional={"x": json_values},
    ),
    max_size=2,
)
# stream_options is the one member the core re-serialises (when it forces include_usage); its
# numbers must survive exactly (float_roundtrip), pinned by test_rewritten_stream_options_keep_float_values.
integral_json = st.recursive(
    st.none() | st.booleans() | json_ints | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
# Only an object (or null) is a valid stream_options; other shapes are rejected with a 400.
stream_options = st.none() | st.fixed_dictionaries(
    {"include_usage": st.booleans() | integral_json}, optional={"x": integral_json}
)
any_stream_options = integral_json | stream_options
max_tokens = st.none() | st.integers(0, U64_MAX)
UNSET: Any = object()


@dataclass(frozen=True)
class Body:
    obj: dict[str, Any]
    text: str
    item_sep: str
    key_sep: str
    ensure_ascii: bool

    def member_text(self, key: str, value: Any) -> str:
        dump = json.dumps(value, separators=(self.item_sep, self.key_sep), ensure_ascii=self.ensure_ascii)
        return json.dumps(key, ensure_ascii=self.ensure_ascii) + self.key_sep + dump


@st.composite
def encoded(draw: st.DrawFn, objects: st.SearchStrategy[Any]) -> Body:
    obj = draw(objects)
    item_sep, key_sep = draw(st.sampled_from(SEPARATORS))
    ensure_ascii = draw(st.booleans())
    text = json.dumps(obj, separators=(item_sep, key_sep), ensure_ascii=ensure_ascii)
    pad = st.sampled_from(["", " ", "\n", "\r\n\t "])
    return Body(obj, draw(pad) + text + draw(pad), item_sep, key_sep, ensure_ascii)


@st.composite
def chat_objects(draw: st.DrawFn) -> dict[str, Any]:
    """Valid OpenAI chat bodies: string model, messages array, well-typed optional fields."""
    members: dict[str, Any] = {"model": draw(st.text()), "messages": draw(valid_messages)}
    optional = {
        "stream": st.none() | st.booleans(),
        "stream_options": stream_options,
        "max_tokens": max_tokens,
        "max_completion_tokens": max_tokens,
        "temperature": st.none() | json_ints | st.floats(-2, 2) | st.just(0) | st.just(-0.0),
        "tools": valid_tools,
    }
    for key, strategy in optional.items():
        value = draw(st.just(UNSET) | strategy)
        if value is not UNSET:
            members[key] = value
    members.update(draw(st.dictionaries(extra_keys, json_values, max_size=4)))
    return dict(draw(st.permutations(list(members.items()))))


@st.composite
def loose_objects(draw: st.DrawFn) -> dict[str, Any]:
    """Objects whose typed members may or may not have the right type."""
    keys = st.sampled_from(TYPED_KEYS + STRUCTURED_KEYS + READ_KEYS) | st.text(max_size=6)
    members = draw(st.dictionaries(keys, json_values, max_size=6))
    for key in draw(st.lists(st.sampled_from(TYPED_KEYS), unique=True)):
        members[key] = draw(
            {
                "model": st.text(max_size=8),
                "messages": messages,
                "stream": st.none() | st.booleans(),
                "stream_options": any_stream_options,
                "max_tokens": max_tokens,
                "max_completion_tokens": max_tokens,
            }[key]
        )
    return members


def accepted_or_invalid(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs `call`; the only failure allowed is InvalidRequestError (returned, not raised)."""
    try:
        return call(*args, **kwargs)
    except _core.InvalidRequestError as err:
        return err


def test_invalid_request_error_is_an_omniroute_error() -> None:
    assert issubclass(_core.InvalidRequestError, _core.OmnirouteError)
    with pytest.raises(_core.OmnirouteError):
        _core.inspect_request(b"[]", "openai")


@settings(max_examples=300, deadline=None)
@given(body=byte_soup, model=st.none() | st.text(max_size=8), force=st.booleans())
def test_arbitrary_bytes_never_crash(body: bytes, model: str | None, force: bool) -> None:
    accepted_or_invalid(_core.inspect_request, body, "openai")
    out = accepted_or_invalid(
        _core.translate_request, body, "openai", "openai", model=model, force_stream_usage=force
    )
    if isinstance(out, bytes):
        assert isinstance(json.loads(out), dict)


@settings(max_examples=200, deadline=None)
@given(body=encoded(wild_json), model=st.none() | st.text(max_size=8), force=st.booleans())
def test_arbitrary_json_never_crashes(body: Body, model: str | None, force: bool) -> None:
    raw = body.text.encode("utf-8")
    info = accepted_or_invalid(_core.inspect_request, raw, "openai")
    out = accepted_or_invalid(
        _core.translate_request, raw, "openai", "openai", model=model, force_stream_usage=force
    )
    if not isinstance(body.obj, dict):
        assert isinstance(info, _core.InvalidRequestError)
        assert isinstance(out, _core.InvalidRequestError)
    if isinstance(out, bytes):
        assert isinstance(json.loads(out), dict)
    for dialect in ("openai", "anthropic", "gemini"):
        assert_parts_join_to(raw, dialect, model=model, force_stream_usage=force)


def assert_parts_join_to(raw: bytes, dialect: str, **options: Any) -> None:
    """`translate_request(parts=True)` says the same body as without parts, in parts that are the
    client's own bytes object or views of it wherever bytes were kept."""
    whole = accepted_or_invalid(_core.translate_request, raw, dialect, dialect, **options)
    parts = accepted_or_invalid(_core.translate_request, raw, dialect, dialect, parts=True, **options)
    if isinstance(whole, _core.InvalidRequestError):
        assert isinstance(parts, _core.InvalidRequestError)
        assert str(parts) == str(whole)
        return
    assert isinstance(parts, tuple)
    assert b"".join(parts) == whole
    if whole is raw:
        assert len(parts) == 1 and parts[0] is raw
    for part in parts:
        if isinstance(part, memoryview):
            assert part.obj is raw and part.readonly


def test_deep_nesting_neither_crashes_nor_changes_the_body() -> None:
    # Skipping over a member is iterative in serde_json and the structure checks descend only
    # as deep as their tables, so depth is no stack risk: nesting where nothing is checked
    # (unknown members, a tool's parameters, a message's unknown members) passes untouched.
    for depth in (200, 1_000_000):
        nested = b"[" * depth + b"]" * depth
        message = b'{"role":"user","content":"hi","x_deep":' + nested + b"}"
        tool = b'{"type":"function","function":{"name":"f","parameters":{"x":' + nested + b"}}}"
        body = (
            b'{"model":"m","messages":['
            + message
            + b'],"tools":['
            + tool
            + b'],"stream":true,"x_deep":'
            + nested
            + b"}"
        )
        assert _core.inspect_request(body, "openai").model == "m"
        out = _core.translate_request(body, "openai", "openai", model="x")
        assert out == body.replace(b'"m"', b'"x"', 1)
        with pytest.raises(_core.InvalidRequestError):
            _core.inspect_request(body[:-1], "openai")
        # Nesting where a message belongs is refused, not walked.
        with pytest.raises(_core.InvalidRequestError, match=r"'messages\[0\]' must be an object"):
            _core.inspect_request(b'{"model":"m","messages":[' + nested + b"]}", "openai")


def is_u64(value: Any) -> bool:
    return type(value) is int and 0 <= value <= U64_MAX


@settings(max_examples=250, deadline=None)
@given(encoded(loose_objects()))
def test_inspect_accepts_exactly_the_well_typed_bodies(body: Body) -> None:
    obj = body.obj
    mct, mt = obj.get("max_completion_tokens"), obj.get("max_tokens")
    well_typed = (
        structure_ok(obj, "openai")
        and (isinstance(obj.get("model"), str) or "model" not in obj)
        and obj.get("stream") in (None, True, False)
        and (mct is None or is_u64(mct))
        and (mt is None or is_u64(mt))
        and (obj.get("stream_options") is None or isinstance(obj.get("stream_options"), dict))
    )
    info = accepted_or_invalid(_core.inspect_request, body.text.encode("utf-8"), "openai")
    if not well_typed:
        assert isinstance(info, _core.InvalidRequestError)
        return
    assert isinstance(info, _core.RequestInfo), info
    assert info.model == obj.get("model")
    assert info.stream is (obj.get("stream") is True)
    options = obj.get("stream_options")
    assert info.include_usage is (isinstance(options, dict) and options.get("include_usage") is True)
    assert info.max_tokens == (mct if mct is not None else mt)


def model_member(body: Body, model: str) -> str:
    """The model member as the core writes it: client's key text, serde_json's string escaping."""
    return (
        json.dumps("model", ensure_ascii=body.ensure_ascii)
        + body.key_sep
        + json.dumps(model, ensure_ascii=False)
    )


@settings(max_examples=300, deadline=None)
@given(body=encoded(chat_objects()), model=st.none() | st.text(), force=st.booleans())
def test_valid_chat_bodies_are_inspected_and_rewritten_byte_stable(
    body: Body, model: str | None, force: bool
) -> None:
    obj = body.obj
    raw = body.text.encode("utf-8")
    streaming = obj.get("stream") is True
    options = obj.get("stream_options")

    info = _core.inspect_request(raw, "openai")
    assert info.model == obj["model"]
    assert info.stream is streaming
    assert info.include_usage is (isinstance(options, dict) and options.get("include_usage") is True)
    mct, mt = obj.get("max_completion_tokens"), obj.get("max_tokens")
    assert info.max_tokens == (mct if mct is not None else mt)
    assert info.has_tools is bool(obj.get("tools"))
    temperature = obj.get("temperature")
    assert info.temperature_zero is (type(temperature) in (int, float) and temperature == 0)

    out = _core.translate_request(raw, "openai", "openai", model=model, force_stream_usage=force)
    # A body with nothing to edit goes upstream as the very same object (no copy of a large
    # body); any real edit makes new bytes.
    assert (out is raw) is (out == raw)
    assert_parts_join_to(raw, "openai", model=model, force_stream_usage=force)
    text = out.decode("utf-8")
    parsed = json.loads(text)

    # Expected object; dict assignment keeps a member in place and appends a new one last,
    # which is where the core puts replaced and added members.
    expected = dict(obj)
    edited: set[str] = set()
    if model is not None:
        expected["model"] = model
        edited.add("model")
    rewritten_options = False
    if not streaming:
        expected.pop("stream_options", None)
        edited.add("stream_options")
    elif force and not (isinstance(options, dict) and options.get("include_usage") is True):
        new_options = dict(options) if isinstance(options, dict) else {}
        new_options["include_usage"] = True
        expected["stream_options"] = new_options
        edited.add("stream_options")
        rewritten_options = True

    assert parsed == expected
    assert list(parsed) == list(expected), "member order changed"
    if streaming and force:
        assert parsed["stream_options"]["include_usage"] is True
    if not streaming:
        assert "stream_options" not in parsed

    # Every member that was not edited reaches the upstream byte for byte.
    for key, value in obj.items():
        if key not in edited:
            assert body.member_text(key, value) in text, key

    # Unless stream_options was re-serialised, the whole output text is predictable: the
    # client's padding and separators stay, dropped members take their separator with them.
    if not rewritten_options:
        members = [
            model_member(body, model)
            if key == "model" and model is not None
            else body.member_text(key, value)
            for key, value in expected.items()
        ]
        head = body.text[: body.text.index("{") + 1]
        tail = body.text[body.text.rindex("}") :]
        assert text == head + body.item_sep.join(members) + tail


def test_null_optional_fields_count_as_absent() -> None:
    body = (
        b'{"model":"m","messages":[],"stream":null,"max_tokens":null,"stream_options":{"include_usage":true}}'
    )
    info = _core.inspect_request(body, "openai")
    assert (info.stream, info.max_tokens) == (False, None)
    out = _core.translate_request(body, "openai", "openai", force_stream_usage=True)
    assert out == b'{"model":"m","messages":[],"stream":null,"max_tokens":null}'


def test_rewritten_stream_options_keep_float_values() -> None:
    body = b'{"model":"m","messages":[],"stream":true,"stream_options":{"x":3.2691996243347885e+45}}'
    out = _core.translate_request(body, "openai", "openai", force_stream_usage=True)
    assert json.loads(out)["stream_options"] == {"x": 3.2691996243347885e45, "include_usage": True}
