"""Properties of the OpenAI -> OpenAI stream relay (`omniroute._core.StreamTranslator`).

Upstream streams are built here the way OpenAI-compatible providers write them (role chunk,
content chunks, finish chunk, optional usage-only chunk, `[DONE]`), sometimes with
provider extras that must be stripped, then fed in arbitrary pieces. The relay must be
oblivious to the cut points, keep clean chunks byte-identical, withhold the usage chunk the
client did not ask for, send `[DONE]` exactly once, and fail (never complete) a stream that
stops before its finish chunk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute import _core

DONE = "[DONE]"
CUT_MESSAGE = "upstream stream ended before the response was complete"

# OpenAI chat chunk members kept by the relay; everything else is a provider extra.
TOP_LEVEL = ("id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier")
CHOICE = ("index", "message", "delta", "finish_reason", "logprobs")
DELTA = (
    "role",
    "content",
    "refusal",
    "tool_calls",
    "function_call",
    "annotations",
    "audio",
    "reasoning_content",
)
USAGE = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
)

content_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=16)
# A chunk with extras is re-serialised: floats must survive that exactly (float_roundtrip).
extra_value = (
    st.none()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-5, 10**6)
    | st.text(max_size=6)
    | st.dictionaries(st.text(max_size=4), st.integers())
)


def only(obj: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k in allowed}


def sanitised(chunk: dict[str, Any]) -> dict[str, Any]:
    """The chunk as an OpenAI client may see it (the oracle for dirty chunks)."""
    out = only(chunk, TOP_LEVEL)
    if isinstance(out.get("usage"), dict):
        out["usage"] = only(out["usage"], USAGE)
    if isinstance(out.get("choices"), list):
        choices = []
        for choice in out["choices"]:
            choice = only(choice, CHOICE)
            if isinstance(choice.get("delta"), dict):
                choice["delta"] = only(choice["delta"], DELTA)
            choices.append(choice)
        out["choices"] = choices
    return out


@dataclass
class Upstream:
    """An upstream stream and what the client must get from it."""

    payload: bytes
    include_usage: bool
    text: str
    usage: dict[str, int] | None
    # Per upstream event: its data, whether the client gets it, and whether it carries extras.
    datas: list[str] = field(default_factory=list)
    forwarded: list[bool] = field(default_factory=list)
    dirty: list[bool] = field(default_factory=list)
    # Byte offset at which each event is complete (dispatched by the decoder).
    dispatch_at: list[int] = field(default_factory=list)
    finish_index: int = -1


@st.composite
def upstreams(draw: st.DrawFn) -> Upstream:
    include_usage = draw(st.booleans())
    pieces = draw(st.lists(content_text, max_size=8))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    ensure_ascii = draw(st.booleans())
    with_usage = draw(st.booleans())
    with_extras = draw(st.booleans())
    base: dict[str, Any] = {
        "id": "chatcmpl-" + draw(st.text(alphabet="abcdefXYZ0123456789", min_size=1, max_size=10)),
        "object": "chat.completion.chunk",
        "created": draw(st.integers(0, 2**33)),
        "model": draw(st.sampled_from(["gpt-4o-mini", "llama-3.1-8b-instant", "mistral-small"])),
    }
    if draw(st.booleans()):
        base["system_fingerprint"] = "fp_" + draw(
            st.text(alphabet="0123456789abcdef", min_size=4, max_size=8)
        )

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        obj: dict[str, Any] = {**base, "choices": [choice]}
        if with_usage:
            obj["usage"] = None  # OpenAI's shape when stream_options.include_usage is set
        return obj

    chunks = [chunk({"role": "assistant", "content": ""}, None)]
    chunks += [chunk({"content": piece}, None) for piece in pieces]
    chunks.append(chunk({}, draw(st.sampled_from(["stop", "length", "content_filter"]))))
    finish_index = len(chunks) - 1
    usage = None
    if with_usage:
        prompt, completion = draw(st.integers(0, 10**6)), draw(st.integers(0, 10**6))
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if draw(st.booleans()):
            usage["prompt_tokens_details"] = {"cached_tokens": draw(st.integers(0, prompt))}
        chunks.append({**base, "choices": [], "usage": dict(usage)})

    dirty = [False] * len(chunks)
    if with_extras:
        for i in draw(st.lists(st.integers(0, len(chunks) - 1), max_size=3)):
            where = draw(st.sampled_from(["top", "choice", "delta", "usage"]))
            name = draw(
                st.sampled_from(["x_groq", "provider", "queue_time", "native_finish_reason", "reasoning"])
            )
            value = draw(extra_value)
            target = chunks[i]
            if where == "usage" and isinstance(target.get("usage"), dict):
                target["usage"][name] = value
            elif where in ("choice", "delta") and target["choices"]:
                choice = target["choices"][0]
                (choice if where == "choice" else choice["delta"])[name] = value
            else:
                target[name] = value
            dirty[i] = True

    datas = [json.dumps(c, separators=separators, ensure_ascii=ensure_ascii) for c in chunks]
    forwarded = [not (i == len(chunks) - 1 and with_usage and not include_usage) for i in range(len(chunks))]
    send_done = draw(st.booleans()) or draw(st.booleans())
    if send_done:
        datas.append(DONE)
        forwarded.append(True)
        dirty.append(False)

    # Frame the events with LF, CRLF or CR line ends, `data:` with or without the space, and
    # keep-alive comments between them.
    out = bytearray()
    dispatch_at = []
    for data in datas:
        if draw(st.integers(0, 4)) == 0:
            out += (": " + draw(st.sampled_from(["keep-alive", "OPENROUTER PROCESSING"]))).encode()
            out += draw(st.sampled_from(["\n", "\r\n"])).encode()
        line_eol, blank_eol = (
            draw(st.sampled_from(["\n", "\r\n", "\r"])),
            draw(st.sampled_from(["\n", "\r\n", "\r"])),
        )
        if line_eol == "\r" and blank_eol == "\n":
            blank_eol = "\r\n"  # CR then LF would be a single CRLF, not a blank line
        out += (draw(st.sampled_from(["data: ", "data:"])) + data + line_eol).encode()
        dispatch_at.append(len(out) + 1)  # the first byte of the blank line's end completes the event
        out += blank_eol.encode()
    return Upstream(
        payload=bytes(out),
        include_usage=include_usage,
        text="".join(pieces),
        usage=usage,
        datas=datas,
        forwarded=forwarded,
        dirty=dirty,
        dispatch_at=dispatch_at,
        finish_index=finish_index,
    )


def split_at(payload: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(min(c, len(payload)) for c in cuts), len(payload)]
    return [payload[a:b] for a, b in pairwise(bounds)]


@dataclass
class Relayed:
    outputs: list[bytes]
    closing: bytes
    translator: _core.StreamTranslator

    @property
    def body(self) -> bytes:
        return b"".join(self.outputs) + self.closing

    def events(self) -> list[str]:
        decoded = _core.SseDecoder().feed(self.body)
        assert all(name is None for name, _ in decoded)
        return [data for _, data in decoded]


def relay(chunks: list[bytes], include_usage: bool) -> Relayed:
    translator = _core.StreamTranslator("openai", "openai", include_usage=include_usage)
    outputs = [translator.feed(c) for c in chunks]
    return Relayed(outputs, translator.finish(), translator)


def assert_framed(body: bytes, datas: list[str]) -> None:
    """The client bytes are exactly one `data: ...` LF-framed event per expected payload."""
    assert body == b"".join(b"data: " + d.encode("utf-8") + b"\n\n" for d in datas)


def expected_client_events(up: Upstream, upto: int | None = None) -> list[str | dict[str, Any]]:
    """Per forwarded event: its exact data (clean) or the sanitised object (dirty)."""
    want: list[str | dict[str, Any]] = []
    for i, data in enumerate(up.datas[:upto]):
        if up.forwarded[i]:
            want.append(sanitised(json.loads(data)) if up.dirty[i] else data)
    return want


def assert_events_match(got: list[str], want: list[str | dict[str, Any]]) -> None:
    assert len(got) == len(want)
    for data, expected in zip(got, want, strict=True):
        if isinstance(expected, str):
            assert data == expected
        else:
            obj = json.loads(data)
            assert obj == expected
            assert list(obj) == list(expected), "member order changed"


@st.composite
def upstream_and_cuts(draw: st.DrawFn) -> tuple[Upstream, list[int]]:
    up = draw(upstreams())
    return up, draw(st.lists(st.integers(0, len(up.payload)), max_size=10))


@settings(max_examples=200, deadline=None)
@given(upstream_and_cuts())
def test_complete_stream_is_relayed_independently_of_chunking(case: tuple[Upstream, list[int]]) -> None:
    up, cuts = case
    whole = relay([up.payload], up.include_usage)
    split = relay(split_at(up.payload, cuts), up.include_usage)
    assert split.body == whole.body
    # Each feed() returns whole events only.
    assert all(out == b"" or out.endswith(b"\n\n") for out in split.outputs)

    events = whole.events()
    want = [*expected_client_events(up), *([] if up.datas[-1] == DONE else [DONE])]
    assert_events_match(events, want)
    assert_framed(whole.body, events)
    assert events.count(DONE) == 1
    assert events[-1] == DONE

    text = ""
    for data in events[:-1]:
        for choice in json.loads(data)["choices"]:
            text += choice["delta"].get("content") or ""
    assert text == up.text

    for relayed in (whole, split):
        t = relayed.translator
        assert t.state == "completed"
        assert t.error_message is None
        if up.usage is None:
            assert t.usage is None
        else:
            assert t.usage is not None
            assert (t.usage.input_tokens, t.usage.output_tokens) == (
                up.usage["prompt_tokens"],
                up.usage["completion_tokens"],
            )
            assert t.usage.cached_tokens == up.usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
        assert t.finish() == b""
        assert t.fail("late") == b""
        assert t.state == "completed"

    usage_events = [d for d in events[:-1] if json.loads(d).get("usage")]
    assert len(usage_events) == (1 if up.usage is not None and up.include_usage else 0)


@st.composite
def cut_before_finish(draw: st.DrawFn) -> tuple[Upstream, int, list[int]]:
    up = draw(upstreams())
    end = draw(st.integers(0, up.dispatch_at[up.finish_index] - 1))
    return up, end, draw(st.lists(st.integers(0, end), max_size=6))


@settings(max_examples=200, deadline=None)
@given(cut_before_finish())
def test_stream_cut_before_its_finish_chunk_fails(case: tuple[Upstream, int, list[int]]) -> None:
    up, end, cuts = case
    relayed = relay(split_at(up.payload[:end], cuts), up.include_usage)
    events = relayed.events()
    assert DONE not in events
    assert_framed(relayed.body, events)
    complete = sum(1 for at in up.dispatch_at if at <= end)
    assert_events_match(events[:-1], expected_client_events(up, complete))
    assert json.loads(events[-1]) == {
        "error": {
            "message": CUT_MESSAGE,
            "type": "upstream_error",
            "param": None,
            "code": "stream_interrupted",
        }
    }
    t = relayed.translator
    assert t.state == "failed"
    assert t.error_message == CUT_MESSAGE
    assert t.finish() == b""


@st.composite
def cut_after_finish(draw: st.DrawFn) -> tuple[Upstream, int]:
    up = draw(upstreams())
    return up, draw(st.integers(up.dispatch_at[up.finish_index], len(up.payload)))


@settings(max_examples=100, deadline=None)
@given(cut_after_finish())
def test_stream_cut_after_its_finish_chunk_completes_with_one_done(case: tuple[Upstream, int]) -> None:
    up, end = case
    relayed = relay([up.payload[:end]], up.include_usage)
    events = relayed.events()
    assert events.count(DONE) == 1
    assert events[-1] == DONE
    assert relayed.translator.state == "completed"


@settings(max_examples=100, deadline=None)
@given(upstreams(), st.integers(0, 2**16))
def test_failure_reported_by_the_caller_ends_with_an_error(up: Upstream, seed: int) -> None:
    end = seed % (up.dispatch_at[up.finish_index])
    translator = _core.StreamTranslator("openai", "openai", include_usage=up.include_usage)
    body = translator.feed(up.payload[:end]) + translator.fail("connection reset")
    events = [data for _, data in _core.SseDecoder().feed(body)]
    assert json.loads(events[-1])["error"]["message"] == "connection reset"
    assert DONE not in events
    assert translator.state == "failed"
    assert translator.finish() == b""


def test_sanitised_chunk_keeps_float_values() -> None:
    logprob = -11.344658641898933
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {"content": "a"},
                "logprobs": {"content": [{"token": "a", "logprob": logprob}]},
                "finish_reason": None,
                "stop_reason": None,
            }
        ],
    }
    translator = _core.StreamTranslator("openai", "openai")
    out = translator.feed(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    relayed = json.loads(out.removeprefix(b"data: "))
    assert relayed["choices"][0]["logprobs"]["content"][0]["logprob"] == logprob
