"""Properties of cross-dialect translation (`omniroute._core`) over all 16 client/upstream pairs.

Four families, each over every pairing of openai / anthropic / gemini / responses:

- robustness: arbitrary JSON, and realistic bodies, answers and streams broken at random
  places, give either well-formed output or an `OmnirouteError`, never another exception;
  a finished stream is completed or failed, ends cleanly exactly once or not at all;
- chunking: feeding an upstream stream cut at arbitrary byte positions gives the same client
  bytes as feeding it whole;
- request semantics: a canonical conversation rendered in the client dialect (by the small
  renderers here, written from the wire formats, not from the Rust code) and translated keeps
  its system text, the text of its turns in order, its tool calls (names and argument objects)
  and the link from every tool result to its call, as read back by per-dialect readers here;
- stream semantics: an upstream stream with text T, optional reasoning R and tool calls with
  arguments A reads, on the client side, as T, R and A, and completes.

Example counts are kept small (the file runs in seconds); the last section holds regression
tests for core defects this suite found.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import pairwise, product, zip_longest
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omniroute import _core

DIALECTS = ("openai", "anthropic", "gemini", "responses")
# (client, upstream) for requests; streams and answers run (upstream, client) over the same set.
PAIRS = list(product(DIALECTS, DIALECTS))
PAIR_IDS = [f"{a}-{b}" for a, b in PAIRS]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CREATED = 1_700_000_000
RESPONSE_ID = "resp_prop"
UPSTREAM_MODEL = "m-up"

FAST = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MEDIUM = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Event = tuple[str | None, str]


# ---------------------------------------------------------------------------------------------
# Fixture seeds: realistic bodies, answers and streams of each dialect.


def decode_sse(payload: bytes) -> list[Event]:
    return list(_core.SseDecoder().feed(payload))


def encode_sse(events: list[Event]) -> bytes:
    out = []
    for name, data in events:
        if name is not None:
            out.append(f"event: {name}\n")
        out.extend(f"data: {line}\n" for line in data.split("\n"))
        out.append("\n")
    return "".join(out).encode("utf-8")


def _load_json(name: str) -> Any:
    return json.loads((FIXTURES / "dialects" / name).read_text(encoding="utf-8"))


REQUEST_SEEDS = {
    "openai": _load_json("openai/request_full.json"),
    "anthropic": _load_json("anthropic/request_claude_code.json"),
    "gemini": _load_json("gemini/request_gemini_cli.json"),
    "responses": _load_json("responses/codex_request.json"),
}
RESPONSE_SEEDS = {
    "openai": [_load_json("openai/response_think.json"), _load_json("openai/response_tools.json")],
    "anthropic": [_load_json("anthropic/response_thinking_tool.json")],
    "gemini": [_load_json("gemini/response_tool_calls.json")],
    "responses": [_load_json("responses/reasoning_tools.json")],
}
STREAM_SEEDS: dict[str, list[bytes]] = {
    dialect: sorted(p.read_bytes() for p in (FIXTURES / "dialects" / dialect).glob("*.sse"))
    for dialect in DIALECTS
}
STREAM_SEEDS["openai"] += sorted(p.read_bytes() for p in (FIXTURES / "openai_stream").glob("*.input.sse"))


def _vocabulary() -> tuple[list[str], list[str]]:
    """Every key and short string of the fixtures: random JSON built from them hits real fields."""
    keys: set[str] = set()
    strings: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                keys.add(key)
                walk(sub)
        elif isinstance(value, list):
            for sub in value:
                walk(sub)
        elif isinstance(value, str) and len(value) <= 32:
            strings.add(value)

    for seed in REQUEST_SEEDS.values():
        walk(seed)
    for seeds in RESPONSE_SEEDS.values():
        for seed in seeds:
            walk(seed)
    for streams in STREAM_SEEDS.values():
        for stream in streams:
            for _, data in decode_sse(stream):
                with contextlib.suppress(ValueError):
                    walk(json.loads(data))
    return sorted(keys), sorted(strings)


KEYS, STRINGS = _vocabulary()
EVENT_NAMES = sorted(
    {name for streams in STREAM_SEEDS.values() for s in streams for name, _ in decode_sse(s) if name}
)

# ---------------------------------------------------------------------------------------------
# Random JSON, and realistic documents broken at random places.

json_keys = st.sampled_from(KEYS) | st.text(max_size=6)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(STRINGS)
    | st.text(max_size=10)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4),
    max_leaves=16,
)
json_objects = st.dictionaries(json_keys, json_values, max_size=6)

JsonPath = tuple[Any, ...]


def json_paths(value: Any, prefix: JsonPath = ()) -> Iterator[JsonPath]:
    yield prefix
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from json_paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from json_paths(sub, (*prefix, i))


def _set(doc: Any, path: JsonPath, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return doc


def _get(doc: Any, path: JsonPath) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@st.composite
def broken(draw: st.DrawFn, seeds: st.SearchStrategy[Any], max_edits: int = 4) -> Any:
    """A seed document with 1..max_edits random edits: a subtree replaced, removed, emptied,
    wrapped in a list, duplicated, or a member added."""
    doc = copy.deepcopy(draw(seeds))
    for _ in range(draw(st.integers(1, max_edits))):
        path = draw(st.sampled_from(list(json_paths(doc))))
        node = _get(doc, path)
        edit = draw(st.sampled_from(["replace", "remove", "empty", "wrap", "grow", "type"]))
        if edit == "replace":
            doc = _set(doc, path, draw(json_values))
        elif edit == "remove" and path:
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        elif edit == "empty":
            doc = _set(doc, path, draw(st.sampled_from([None, "", 0, [], {}, False])))
        elif edit == "wrap":
            doc = _set(doc, path, [node])
        elif edit == "grow" and isinstance(node, dict):
            node[draw(json_keys)] = draw(json_values)
        elif edit == "grow" and isinstance(node, list):
            extra = copy.deepcopy(node[0]) if node and draw(st.booleans()) else draw(json_values)
            node.insert(draw(st.integers(0, len(node))), extra)
        elif edit == "type":
            # The same value with another JSON type (number as string, string as number...).
            doc = _set(doc, path, json.dumps(node) if not isinstance(node, str) else len(node))
    return doc


def split_at(payload: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(c % (len(payload) + 1) for c in cuts), len(payload)]
    return [payload[a:b] for a, b in pairwise(bounds)]


cut_lists = st.lists(st.integers(0, 2**20), max_size=16)


def translator(upstream: str, client: str, include_usage: bool = True) -> _core.StreamTranslator:
    return _core.StreamTranslator(
        upstream, client, include_usage=include_usage, created=CREATED, response_id=RESPONSE_ID
    )


def relay(upstream: str, client: str, chunks: list[bytes], include_usage: bool = True) -> tuple[bytes, Any]:
    t = translator(upstream, client, include_usage)
    out = b"".join(t.feed(chunk) for chunk in chunks)
    return out + t.finish(), t


# ---------------------------------------------------------------------------------------------
# Robustness: requests.


def translated_or_rejected(body: bytes, client: str, upstream: str, **options: Any) -> dict[str, Any] | None:
    """The upstream body as an object, or None when the core rejected the request cleanly."""
    try:
        out = _core.translate_request(body, client, upstream, **options)
    except _core.OmnirouteError:
        return None
    parsed = json.loads(out)
    assert isinstance(parsed, dict), out
    return parsed


request_options = st.fixed_dictionaries(
    {},
    optional={
        "model": st.none() | st.text(max_size=8),
        "force_stream_usage": st.booleans(),
        "merge_system": st.booleans(),
        "stream": st.none() | st.booleans(),
    },
)


@pytest.mark.parametrize(("client", "upstream"), PAIRS, ids=PAIR_IDS)
@FAST
@given(body=json_values | json_objects, options=request_options)
def test_arbitrary_json_request_translates_or_is_rejected(
    client: str, upstream: str, body: Any, options: dict[str, Any]
) -> None:
    raw = json.dumps(body).encode("utf-8")
    out = translated_or_rejected(raw, client, upstream, **options)
    if not isinstance(body, dict):
        assert out is None


def conversation_bodies(client: str) -> st.SearchStrategy[Any]:
    return st.just(REQUEST_SEEDS[client]) | conversations().map(lambda conv: render(client, conv))


@pytest.mark.parametrize(("client", "upstream"), PAIRS, ids=PAIR_IDS)
@MEDIUM
@given(data=st.data(), options=request_options)
def test_broken_chat_request_translates_or_is_rejected(
    client: str, upstream: str, data: st.DataObject, options: dict[str, Any]
) -> None:
    body = data.draw(broken(conversation_bodies(client)))
    translated_or_rejected(json.dumps(body).encode("utf-8"), client, upstream, **options)


# ---------------------------------------------------------------------------------------------
# Robustness: non-stream answers.


def translated_answer(body: bytes, upstream: str, client: str) -> bytes | None:
    try:
        out, usage = _core.translate_response(
            body, upstream, client, created=CREATED, response_id=RESPONSE_ID, model=None
        )
    except _core.OmnirouteError:
        return None
    assert isinstance(json.loads(out), dict), out
    if usage is not None:
        for name in ("input_tokens", "output_tokens", "cached_tokens", "cache_creation_tokens"):
            assert getattr(usage, name) >= 0
    if upstream == client != "openai":
        assert out == body  # same dialect: the upstream's bytes are forwarded
    return out


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
@MEDIUM
@given(data=st.data())
def test_arbitrary_or_broken_answer_translates_or_is_rejected(
    upstream: str, client: str, data: st.DataObject
) -> None:
    seeds = st.sampled_from(RESPONSE_SEEDS[upstream])
    body = data.draw(json_values | json_objects | broken(seeds) | seeds)
    out = translated_answer(json.dumps(body).encode("utf-8"), upstream, client)
    if not isinstance(body, dict):
        assert out is None


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
def test_fixture_answers_translate(upstream: str, client: str) -> None:
    for seed in RESPONSE_SEEDS[upstream]:
        assert translated_answer(json.dumps(seed).encode("utf-8"), upstream, client) is not None


# ---------------------------------------------------------------------------------------------
# Robustness: streams.


def clean_endings(client: str, events: list[Event]) -> int:
    """How many events of the client stream are its dialect's clean ending."""
    count = 0
    for name, data in events:
        if client == "openai":
            count += data == "[DONE]"
        elif client == "anthropic":
            count += name == "message_stop"
        elif client == "responses":
            count += name in ("response.completed", "response.incomplete")
        else:
            payload = json.loads(data)
            candidates = payload.get("candidates") or [{}]
            count += "finishReason" in candidates[0]
    return count


def is_error_event(client: str, event: Event) -> bool:
    name, data = event
    if client == "anthropic":
        return name == "error"
    if client == "responses":
        return name in ("response.failed", "error")
    payload = json.loads(data)
    return isinstance(payload, dict) and "error" in payload


def check_finished_stream(upstream: str, client: str, out: bytes, t: _core.StreamTranslator) -> list[Event]:
    """The properties every finished stream has: a final state, and (when translated) JSON
    payloads with one clean ending when completed and an error, never a clean ending, when not."""
    assert t.state in ("completed", "failed")
    assert t.finish() == b""
    assert t.fail("late") == b""
    events = decode_sse(out)
    if upstream == client:
        return events
    for _, data in events:
        if not (client == "openai" and data == "[DONE]"):
            assert isinstance(json.loads(data), dict), data
    if t.state == "completed":
        assert clean_endings(client, events) == 1, out
        assert t.error_message is None
    else:
        assert clean_endings(client, events) == 0, out
        assert events and is_error_event(client, events[-1]), out
        assert t.error_message
    if client == "responses" and t.state == "completed":
        assert t.completed_response is not None
        assert json.loads(t.completed_response)["response"]["status"] in ("completed", "incomplete")
    return events


garbage_data = (
    json_values.map(json.dumps)
    | st.just("[DONE]")
    | st.text(max_size=20)
    | st.sampled_from(["{", '{"type":', "null", "[]", '"x"', ""])
)
frames = st.lists(
    st.tuples(st.none() | st.sampled_from(EVENT_NAMES) | st.text(max_size=8), garbage_data), max_size=8
)


@st.composite
def broken_streams(draw: st.DrawFn, upstream: str) -> bytes:
    """A fixture stream with a few events altered, dropped, repeated or cut short."""
    events = decode_sse(draw(st.sampled_from(STREAM_SEEDS[upstream])))
    for _ in range(draw(st.integers(1, 3))):
        if not events:
            break
        i = draw(st.integers(0, len(events) - 1))
        name, data = events[i]
        edit = draw(st.sampled_from(["data", "data", "drop", "repeat", "rename", "garbage"]))
        if edit == "data":
            try:
                value = json.loads(data)
            except ValueError:
                continue
            events[i] = (name, json.dumps(draw(broken(st.just(value), max_edits=2))))
        elif edit == "drop":
            del events[i]
        elif edit == "repeat":
            events.insert(i, events[i])
        elif edit == "rename":
            events[i] = (draw(st.none() | st.sampled_from(EVENT_NAMES)), data)
        else:
            events[i] = (name, draw(garbage_data))
    payload = encode_sse(events)
    if draw(st.booleans()):
        payload = payload[: draw(st.integers(0, len(payload)))]
    return payload


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
@MEDIUM
@given(data=st.data(), cuts=cut_lists, include_usage=st.booleans())
def test_arbitrary_or_broken_stream_ends_completed_or_failed(
    upstream: str, client: str, data: st.DataObject, cuts: list[int], include_usage: bool
) -> None:
    payload = data.draw(frames.map(encode_sse) | broken_streams(upstream))
    out, t = relay(upstream, client, split_at(payload, cuts), include_usage)
    check_finished_stream(upstream, client, out, t)


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
def test_fixture_streams_end_completed_or_failed_whatever_the_chunking(upstream: str, client: str) -> None:
    for payload in STREAM_SEEDS[upstream]:
        out, t = relay(upstream, client, [payload])
        check_finished_stream(upstream, client, out, t)
        for size in (5, 61):
            chunks = [payload[i : i + size] for i in range(0, len(payload), size)]
            assert relay(upstream, client, chunks)[0] == out
        cut, t = relay(upstream, client, [payload[: len(payload) // 2]])
        check_finished_stream(upstream, client, cut, t)


# ---------------------------------------------------------------------------------------------
# Canonical answers and the upstream streams that carry them.

# Texts that every dialect keeps verbatim: not empty, not only whitespace.
texts = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=16).filter(str.strip)
pieces = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=8)
tool_names = st.from_regex(r"[a-z_]{1,12}", fullmatch=True)
arg_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
arg_objects = st.dictionaries(st.text(max_size=8), arg_values, max_size=4)


@st.composite
def split_text(draw: st.DrawFn, text: str) -> list[str]:
    """`text` in non-empty pieces cut at random character positions."""
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=4))))
    bounds = [0, *(c for c in cuts if 0 < c < len(text)), len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]


@dataclass(frozen=True)
class StreamCall:
    id: str
    name: str
    args: dict[str, Any]
    pieces: list[str]


@dataclass(frozen=True)
class Answer:
    reasoning: list[str]
    text: list[str]
    calls: list[StreamCall]
    usage: tuple[int, int]
    id: str = "a1"
    model: str = "up-model"
    # Wire variations providers use (see the writers).
    style: frozenset[str] = frozenset()

    @property
    def full_text(self) -> str:
        return "".join(self.text)

    @property
    def full_reasoning(self) -> str:
        return "".join(self.reasoning)


STYLES = (
    "first_args",  # openai: the first tool-call delta already carries arguments
    "interleave",  # openai: parallel calls' argument deltas interleaved
    "usage_on_finish",  # openai: usage rides on the finish chunk
    "no_done",  # openai: no [DONE] after the finish chunk
    "pings",  # anthropic: a ping between every two events
    "one_chunk",  # gemini: the whole answer in the final chunk
    "running_usage",  # gemini: usageMetadata on every chunk
    "only_done",  # responses: no delta events, only the .done ones
)


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    calls = []
    for i, (name, args) in enumerate(draw(st.lists(st.tuples(tool_names, arg_objects), max_size=2))):
        encoded = json.dumps(args, ensure_ascii=draw(st.booleans()))
        calls.append(StreamCall(f"call_{i}x", name, args, draw(split_text(encoded))))
    text = draw(texts.filter(lambda t: "<" not in t)) if not calls or draw(st.booleans()) else ""
    reasoning = draw(texts) if draw(st.booleans()) else ""
    return Answer(
        reasoning=draw(split_text(reasoning)) if reasoning else [],
        text=draw(split_text(text)) if text else [],
        calls=calls,
        usage=(draw(st.integers(1, 10**6)), draw(st.integers(1, 10**6))),
        id=draw(st.from_regex(r"[A-Za-z0-9]{1,10}", fullmatch=True)),
        style=frozenset(draw(st.sets(st.sampled_from(STYLES)))),
    )


def openai_stream(a: Answer) -> bytes:
    base = {"id": f"chatcmpl-{a.id}", "object": "chat.completion.chunk", "created": 1, "model": a.model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    def args(i: int, piece: str) -> dict[str, Any]:
        return chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"reasoning_content": p}) for p in a.reasoning]
    chunks += [chunk({"content": p}) for p in a.text]
    rest: list[list[dict[str, Any]]] = []
    for i, call in enumerate(a.calls):
        first_piece = call.pieces[0] if "first_args" in a.style else ""
        function = {"name": call.name, "arguments": first_piece}
        chunks.append(
            chunk({"tool_calls": [{"index": i, "id": call.id, "type": "function", "function": function}]})
        )
        later = [args(i, p) for p in call.pieces[1 if first_piece else 0 :]]
        if "interleave" in a.style:
            rest.append(later)
        else:
            chunks += later
    for group in zip_longest(*rest):  # round-robin over the calls
        chunks += [c for c in group if c is not None]
    finish = chunk({}, "tool_calls" if a.calls else "stop")
    prompt, completion = a.usage
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if "usage_on_finish" in a.style:
        chunks.append({**finish, "usage": usage})
    else:
        chunks += [finish, {**base, "choices": [], "usage": usage}]
    done = [] if "no_done" in a.style else [(None, "[DONE]")]
    return encode_sse([(None, json.dumps(c)) for c in chunks] + done)


def anthropic_stream(a: Answer) -> bytes:
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": f"msg_{a.id}",
                "type": "message",
                "role": "assistant",
                "model": a.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": a.usage[0], "output_tokens": 1},
            },
        },
        {"type": "ping"},
    ]

    def block(index: int, start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
        events.append({"type": "content_block_stop", "index": index})

    index = 0
    if a.reasoning:
        deltas = [{"type": "thinking_delta", "thinking": p} for p in a.reasoning]
        block(
            index,
            {"type": "thinking", "thinking": "", "signature": ""},
            [*deltas, {"type": "signature_delta", "signature": "c2ln"}],
        )
        index += 1
    if a.text:
        block(index, {"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in a.text])
        index += 1
    for call in a.calls:
        start = {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}
        block(index, start, [{"type": "input_json_delta", "partial_json": p} for p in call.pieces])
        index += 1
    stop = "tool_use" if a.calls else "end_turn"
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": a.usage[1]},
        }
    )
    events.append({"type": "message_stop"})
    if "pings" in a.style:
        events = [e for event in events for e in (event, {"type": "ping"})]
    return encode_sse([(e["type"], json.dumps(e)) for e in events])


def gemini_stream(a: Answer) -> bytes:
    prompt, completion = a.usage

    def chunk(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        out: dict[str, Any] = {"candidates": [candidate]}
        if finish is not None:
            candidate["finishReason"] = finish
        if finish is not None or "running_usage" in a.style:
            total = prompt + completion
            out["usageMetadata"] = {
                "promptTokenCount": prompt,
                "candidatesTokenCount": completion,
                "totalTokenCount": total,
            }
        return {**out, "modelVersion": a.model, "responseId": a.id}

    parts = [{"text": p, "thought": True} for p in a.reasoning]
    parts += [{"text": p} for p in a.text]
    parts += [{"functionCall": {"name": c.name, "args": c.args}} for c in a.calls]
    if "one_chunk" in a.style:
        chunks = [chunk(parts, "STOP")]
    else:
        chunks = [*(chunk([part]) for part in parts), chunk([{"text": ""}], "STOP")]
    return encode_sse([(None, json.dumps(c)) for c in chunks])


def responses_stream(a: Answer) -> bytes:
    events: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        if "only_done" in a.style and kind.endswith(".delta"):
            return
        events.append({"type": kind, "sequence_number": len(events), **fields})

    response = {"id": f"resp_{a.id}", "object": "response", "created_at": 1, "model": a.model}
    emit("response.created", response={**response, "status": "in_progress", "output": []})
    emit("response.in_progress", response={**response, "status": "in_progress", "output": []})
    output: list[dict[str, Any]] = []
    if a.reasoning:
        item_id, oi, full = "rs_1", len(output), a.full_reasoning
        emit(
            "response.output_item.added",
            output_index=oi,
            item={"id": item_id, "type": "reasoning", "summary": []},
        )
        part = {"item_id": item_id, "output_index": oi, "summary_index": 0}
        emit("response.reasoning_summary_part.added", **part, part={"type": "summary_text", "text": ""})
        for p in a.reasoning:
            emit("response.reasoning_summary_text.delta", **part, delta=p)
        emit("response.reasoning_summary_text.done", **part, text=full)
        emit("response.reasoning_summary_part.done", **part, part={"type": "summary_text", "text": full})
        item = {"id": item_id, "type": "reasoning", "summary": [{"type": "summary_text", "text": full}]}
        emit("response.output_item.done", output_index=oi, item=item)
        output.append(item)
    if a.text:
        item_id, oi, full = "msg_1", len(output), a.full_text
        message = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        emit("response.output_item.added", output_index=oi, item=message)
        part = {"item_id": item_id, "output_index": oi, "content_index": 0}
        emit(
            "response.content_part.added", **part, part={"type": "output_text", "text": "", "annotations": []}
        )
        for p in a.text:
            emit("response.output_text.delta", **part, delta=p, logprobs=[])
        emit("response.output_text.done", **part, text=full, logprobs=[])
        done_part = {"type": "output_text", "text": full, "annotations": []}
        emit("response.content_part.done", **part, part=done_part)
        item = {**message, "status": "completed", "content": [done_part]}
        emit("response.output_item.done", output_index=oi, item=item)
        output.append(item)
    for n, call in enumerate(a.calls):
        item_id, oi, full = f"fc_{n}", len(output), "".join(call.pieces)
        item = {"id": item_id, "type": "function_call", "status": "in_progress", "call_id": call.id}
        item |= {"name": call.name, "arguments": ""}
        emit("response.output_item.added", output_index=oi, item=item)
        for p in call.pieces:
            emit("response.function_call_arguments.delta", item_id=item_id, output_index=oi, delta=p)
        emit("response.function_call_arguments.done", item_id=item_id, output_index=oi, arguments=full)
        item = {**item, "status": "completed", "arguments": full}
        emit("response.output_item.done", output_index=oi, item=item)
        output.append(item)
    prompt, completion = a.usage
    usage = {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}
    emit("response.completed", response={**response, "status": "completed", "output": output, "usage": usage})
    return encode_sse([(e["type"], json.dumps(e)) for e in events])


STREAM_WRITERS: dict[str, Callable[[Answer], bytes]] = {
    "openai": openai_stream,
    "anthropic": anthropic_stream,
    "gemini": gemini_stream,
    "responses": responses_stream,
}


# ---------------------------------------------------------------------------------------------
# Chunking invariance.


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
@MEDIUM
@given(data=st.data(), cuts=cut_lists, include_usage=st.booleans())
def test_stream_output_does_not_depend_on_chunking(
    upstream: str, client: str, data: st.DataObject, cuts: list[int], include_usage: bool
) -> None:
    payload = data.draw(answers().map(STREAM_WRITERS[upstream]) | st.sampled_from(STREAM_SEEDS[upstream]))
    whole, t_whole = relay(upstream, client, [payload], include_usage)
    if data.draw(st.booleans()):
        size = data.draw(st.integers(1, 9))
        chunks = [payload[i : i + size] for i in range(0, len(payload), size)]
    else:
        chunks = split_at(payload, cuts)
    pieces, t_pieces = relay(upstream, client, chunks, include_usage)
    assert pieces == whole
    assert (t_pieces.state, t_pieces.error_message) == (t_whole.state, t_whole.error_message)
    assert t_pieces.completed_response == t_whole.completed_response
    usage = [
        None if u is None else (u.input_tokens, u.output_tokens, u.cached_tokens, u.reasoning_tokens)
        for u in (t_whole.usage, t_pieces.usage)
    ]
    assert usage[0] == usage[1]


# ---------------------------------------------------------------------------------------------
# Stream semantics: what a client of each dialect reads.


@dataclass
class ClientView:
    text: str = ""
    reasoning: str = ""
    # Per call, in order: name and the argument text.
    calls: list[list[str]] = field(default_factory=list)
    endings: int = 0
    errors: int = 0

    def call_objects(self) -> list[tuple[str, Any]]:
        return [(name, json.loads(args or "{}")) for name, args in self.calls]


def read_openai_stream(events: list[Event]) -> ClientView:
    view = ClientView()
    by_index: dict[int, list[str]] = {}
    for _, data in events:
        if data == "[DONE]":
            view.endings += 1
            continue
        chunk = json.loads(data)
        if "error" in chunk:
            view.errors += 1
            continue
        for choice in chunk["choices"]:
            delta = choice["delta"]
            view.text += delta.get("content") or ""
            view.reasoning += delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls") or []:
                if "id" in call:
                    by_index[call["index"]] = [call["function"]["name"], ""]
                    view.calls.append(by_index[call["index"]])
                by_index[call["index"]][1] += call["function"].get("arguments") or ""
    return view


def read_anthropic_stream(events: list[Event]) -> ClientView:
    view = ClientView()
    blocks: dict[int, list[str]] = {}
    for name, data in events:
        payload = json.loads(data)
        assert payload["type"] == name
        if name == "content_block_start" and payload["content_block"]["type"] == "tool_use":
            blocks[payload["index"]] = [payload["content_block"]["name"], ""]
            view.calls.append(blocks[payload["index"]])
        elif name == "content_block_delta":
            delta = payload["delta"]
            if delta["type"] == "text_delta":
                view.text += delta["text"]
            elif delta["type"] == "thinking_delta":
                view.reasoning += delta["thinking"]
            elif delta["type"] == "input_json_delta":
                blocks[payload["index"]][1] += delta["partial_json"]
        elif name == "message_stop":
            view.endings += 1
        elif name == "error":
            view.errors += 1
    return view


def read_gemini_stream(events: list[Event]) -> ClientView:
    view = ClientView()
    for _, data in events:
        chunk = json.loads(data)
        if "error" in chunk:
            view.errors += 1
            continue
        candidate = chunk["candidates"][0]
        for part in candidate.get("content", {}).get("parts", []):
            if "functionCall" in part:
                call = part["functionCall"]
                view.calls.append([call["name"], json.dumps(call.get("args", {}))])
            elif part.get("thought"):
                view.reasoning += part.get("text", "")
            else:
                view.text += part.get("text", "")
        view.endings += "finishReason" in candidate
    return view


def read_responses_stream(events: list[Event]) -> ClientView:
    """Deltas accumulate per item; a `.done` event gives the whole text (which must match the
    deltas when there were any: an upstream may send only the `.done` events)."""
    view = ClientView()
    buffers: dict[tuple[str, int], str] = {}
    calls: dict[int, list[str]] = {}

    def settle(key: tuple[str, int], text: str) -> None:
        assert buffers.get(key, text) == text
        buffers[key] = text

    for name, data in events:
        payload = json.loads(data)
        assert payload["type"] == name
        oi = payload.get("output_index", -1)
        if name == "response.output_text.delta":
            buffers[("text", oi)] = buffers.get(("text", oi), "") + payload["delta"]
        elif name == "response.output_text.done":
            settle(("text", oi), payload["text"])
        elif name == "response.reasoning_summary_text.delta":
            buffers[("reasoning", oi)] = buffers.get(("reasoning", oi), "") + payload["delta"]
        elif name == "response.reasoning_summary_text.done":
            settle(("reasoning", oi), payload["text"])
        elif name == "response.output_item.added" and payload["item"]["type"] == "function_call":
            calls[oi] = [payload["item"]["name"], ""]
        elif name == "response.function_call_arguments.delta":
            buffers[("args", oi)] = buffers.get(("args", oi), "") + payload["delta"]
        elif name == "response.function_call_arguments.done":
            settle(("args", oi), payload["arguments"])
        elif name in ("response.completed", "response.incomplete"):
            view.endings += 1
        elif name in ("response.failed", "error"):
            view.errors += 1
    for (kind, oi), text in sorted(buffers.items(), key=lambda kv: kv[0][1]):
        if kind == "text":
            view.text += text
        elif kind == "reasoning":
            view.reasoning += text
        else:
            calls[oi][1] = text
    view.calls = [calls[oi] for oi in sorted(calls)]
    return view


STREAM_READERS: dict[str, Callable[[list[Event]], ClientView]] = {
    "openai": read_openai_stream,
    "anthropic": read_anthropic_stream,
    "gemini": read_gemini_stream,
    "responses": read_responses_stream,
}


def completed_items(completed: str) -> tuple[str, list[tuple[str, Any]]]:
    """Text and calls of a Responses `response.completed` payload."""
    response = json.loads(completed)["response"]
    text = ""
    calls = []
    for item in response["output"]:
        if item["type"] == "message":
            text += "".join(part.get("text", "") for part in item["content"])
        elif item["type"] == "function_call":
            calls.append((item["name"], json.loads(item["arguments"])))
    return text, calls


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=PAIR_IDS)
@MEDIUM
@given(answer=answers(), cuts=cut_lists)
def test_stream_keeps_text_reasoning_and_tool_calls(
    upstream: str, client: str, answer: Answer, cuts: list[int]
) -> None:
    payload = STREAM_WRITERS[upstream](answer)
    out, t = relay(upstream, client, split_at(payload, cuts))
    assert t.state == "completed", (t.error_message, out)
    view = STREAM_READERS[client](decode_sse(out))
    assert (view.endings, view.errors) == (1, 0)
    assert view.text == answer.full_text
    assert view.reasoning == answer.full_reasoning
    assert view.call_objects() == [(c.name, c.args) for c in answer.calls]
    assert t.usage is not None
    assert (t.usage.input_tokens, t.usage.output_tokens) == answer.usage
    if client == "responses":
        assert t.completed_response is not None
        text, calls = completed_items(t.completed_response)
        assert text == answer.full_text
        assert calls == [(c.name, c.args) for c in answer.calls]


# ---------------------------------------------------------------------------------------------
# Request semantics: canonical conversations, rendered per client dialect, read per upstream.


@dataclass(frozen=True)
class Call:
    id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    role: str  # user | assistant | tool
    texts: tuple[str, ...] = ()
    calls: tuple[Call, ...] = ()
    results: tuple[tuple[str, str], ...] = ()  # (call id, text)


@dataclass(frozen=True)
class Conversation:
    system: tuple[str, ...]
    turns: tuple[Turn, ...]

    def call_names(self) -> list[str]:
        return sorted({c.name for turn in self.turns for c in turn.calls})

    def call(self, call_id: str) -> Call:
        return next(c for turn in self.turns for c in turn.calls if c.id == call_id)


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


result_texts = texts.filter(lambda t: not _is_json_object(t))
turn_texts = st.lists(texts, min_size=1, max_size=2).map(tuple)


@st.composite
def conversations(draw: st.DrawFn) -> Conversation:
    turns = [Turn("user", draw(turn_texts))]
    n_calls = 0
    for _ in range(draw(st.integers(0, 3))):
        calls = []
        for name, args in draw(st.lists(st.tuples(tool_names, arg_objects), max_size=2)):
            calls.append(Call(f"call_{n_calls}", name, args))
            n_calls += 1
        said = draw(turn_texts) if not calls or draw(st.booleans()) else ()
        turns.append(Turn("assistant", said, tuple(calls)))
        if calls:
            turns.append(Turn("tool", results=tuple((c.id, draw(result_texts)) for c in calls)))
        if not calls or draw(st.booleans()):
            turns.append(Turn("user", draw(turn_texts)))
    if turns[-1].role != "user":
        turns.append(Turn("user", draw(turn_texts)))
    return Conversation(tuple(draw(st.lists(texts, max_size=2))), tuple(turns))


def _merge_runs(items: list[tuple[str, list[Any]]]) -> list[tuple[str, list[Any]]]:
    runs: list[tuple[str, list[Any]]] = []
    for role, content in items:
        if runs and runs[-1][0] == role:
            runs[-1][1].extend(content)
        else:
            runs.append((role, list(content)))
    return runs


def render_openai(conv: Conversation) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [
        {"role": "system" if i % 2 == 0 else "developer", "content": text}
        for i, text in enumerate(conv.system)
    ]

    def content(texts: tuple[str, ...]) -> Any:
        return texts[0] if len(texts) == 1 else [{"type": "text", "text": t} for t in texts]

    for turn in conv.turns:
        if turn.role == "user":
            messages.append({"role": "user", "content": content(turn.texts)})
        elif turn.role == "assistant":
            message: dict[str, Any] = {
                "role": "assistant",
                "content": content(turn.texts) if turn.texts else None,
            }
            if turn.calls:
                message["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(c.args)},
                    }
                    for c in turn.calls
                ]
            messages.append(message)
        else:
            messages += [{"role": "tool", "tool_call_id": cid, "content": text} for cid, text in turn.results]
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
        for n in conv.call_names()
    ]
    body: dict[str, Any] = {"model": "client-model", "messages": messages}
    if tools:
        body["tools"] = tools
    return body


def render_anthropic(conv: Conversation) -> dict[str, Any]:
    items: list[tuple[str, list[Any]]] = []
    for turn in conv.turns:
        if turn.role == "user":
            items.append(("user", [{"type": "text", "text": t} for t in turn.texts]))
        elif turn.role == "assistant":
            blocks: list[Any] = [{"type": "text", "text": t} for t in turn.texts]
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.args} for c in turn.calls]
            items.append(("assistant", blocks))
        else:
            items.append(
                (
                    "user",
                    [
                        {"type": "tool_result", "tool_use_id": cid, "content": text}
                        for cid, text in turn.results
                    ],
                )
            )
    messages = []
    for role, blocks in _merge_runs(items):
        plain = len(blocks) == 1 and blocks[0]["type"] == "text"
        messages.append({"role": role, "content": blocks[0]["text"] if plain else blocks})
    body: dict[str, Any] = {"model": "client-model", "max_tokens": 1024, "messages": messages}
    if conv.system:
        body["system"] = (
            conv.system[0] if len(conv.system) == 1 else [{"type": "text", "text": t} for t in conv.system]
        )
    tools = [{"name": n, "input_schema": {"type": "object", "properties": {}}} for n in conv.call_names()]
    if tools:
        body["tools"] = tools
    return body


def render_gemini(conv: Conversation) -> dict[str, Any]:
    items: list[tuple[str, list[Any]]] = []
    for turn in conv.turns:
        if turn.role == "user":
            items.append(("user", [{"text": t} for t in turn.texts]))
        elif turn.role == "assistant":
            parts: list[Any] = [{"text": t} for t in turn.texts]
            parts += [{"functionCall": {"name": c.name, "args": c.args}} for c in turn.calls]
            items.append(("model", parts))
        else:
            responses = [
                {"functionResponse": {"name": conv.call(cid).name, "response": {"result": text}}}
                for cid, text in turn.results
            ]
            items.append(("user", responses))
    body: dict[str, Any] = {"contents": [{"role": r, "parts": p} for r, p in _merge_runs(items)]}
    if conv.system:
        body["systemInstruction"] = {"parts": [{"text": t} for t in conv.system]}
    if conv.call_names():
        body["tools"] = [{"functionDeclarations": [{"name": n} for n in conv.call_names()]}]
    return body


def render_responses(conv: Conversation) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "client-model"}
    items: list[dict[str, Any]] = []
    if conv.system:
        body["instructions"] = conv.system[0]
        items += [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": t}]}
            for t in conv.system[1:]
        ]
    for turn in conv.turns:
        if turn.role == "user":
            content = [{"type": "input_text", "text": t} for t in turn.texts]
            items.append({"type": "message", "role": "user", "content": content})
        elif turn.role == "assistant":
            if turn.texts:
                content = [{"type": "output_text", "text": t, "annotations": []} for t in turn.texts]
                items.append({"type": "message", "role": "assistant", "content": content})
            items += [
                {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": json.dumps(c.args)}
                for c in turn.calls
            ]
        else:
            items += [
                {"type": "function_call_output", "call_id": cid, "output": t} for cid, t in turn.results
            ]
    body["input"] = items
    tools = [
        {"type": "function", "name": n, "parameters": {"type": "object", "properties": {}}}
        for n in conv.call_names()
    ]
    if tools:
        body["tools"] = tools
    return body


RENDERERS: dict[str, Callable[[Conversation], dict[str, Any]]] = {
    "openai": render_openai,
    "anthropic": render_anthropic,
    "gemini": render_gemini,
    "responses": render_responses,
}


def render(client: str, conv: Conversation) -> dict[str, Any]:
    return RENDERERS[client](conv)


@dataclass
class Reading:
    """A request body read back: system texts, then a flat, ordered list of
    ("text", role, text), ("call", name, args, key) and ("result", key, text) items; `key` links
    a result to its call. Tools are the declared function names."""

    system: list[str] = field(default_factory=list)
    items: list[tuple[Any, ...]] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)

    def text(self, role: str, text: str) -> None:
        self.items.append(("text", role, text))


def _texts_of(content: Any, kinds: tuple[str, ...]) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [block["text"] for block in content or [] if block.get("type") in kinds]


def read_openai(body: dict[str, Any]) -> Reading:
    r = Reading(tools=[t["function"]["name"] for t in body.get("tools", [])])
    for m in body["messages"]:
        if m["role"] in ("system", "developer"):
            r.system += _texts_of(m["content"], ("text",))
        elif m["role"] == "user":
            for t in _texts_of(m["content"], ("text",)):
                r.text("user", t)
        elif m["role"] == "assistant":
            for t in _texts_of(m.get("content"), ("text",)):
                r.text("assistant", t)
            for c in m.get("tool_calls") or []:
                r.items.append(
                    ("call", c["function"]["name"], json.loads(c["function"]["arguments"]), c["id"])
                )
        else:
            assert m["role"] == "tool", m
            r.items.append(("result", m["tool_call_id"], "".join(_texts_of(m["content"], ("text",)))))
    return r


def read_anthropic(body: dict[str, Any]) -> Reading:
    r = Reading(
        system=_texts_of(body.get("system"), ("text",)), tools=[t["name"] for t in body.get("tools", [])]
    )
    for m in body["messages"]:
        blocks = [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else m["content"]
        for b in blocks:
            if b["type"] == "text":
                r.text(m["role"], b["text"])
            elif b["type"] == "tool_use":
                assert m["role"] == "assistant"
                r.items.append(("call", b["name"], b["input"], b["id"]))
            elif b["type"] == "tool_result":
                assert m["role"] == "user"
                r.items.append(("result", b["tool_use_id"], "".join(_texts_of(b.get("content"), ("text",)))))
    return r


def read_gemini(body: dict[str, Any]) -> Reading:
    """Gemini has no call ids on the wire: a response answers the earliest unanswered call of
    its function name (the order Gemini itself returns them in)."""
    system = body.get("systemInstruction", {}).get("parts", [])
    declarations = [d for tool in body.get("tools", []) for d in tool.get("functionDeclarations", [])]
    r = Reading(system=[p["text"] for p in system if "text" in p], tools=[d["name"] for d in declarations])
    pending: list[tuple[str, int]] = []
    for content in body["contents"]:
        role = {"user": "user", "model": "assistant"}[content["role"]]
        for part in content["parts"]:
            if "functionCall" in part:
                assert role == "assistant"
                key = len([i for i in r.items if i[0] == "call"])
                r.items.append(
                    ("call", part["functionCall"]["name"], part["functionCall"].get("args", {}), key)
                )
                pending.append((part["functionCall"]["name"], key))
            elif "functionResponse" in part:
                assert role == "user"
                name, response = part["functionResponse"]["name"], part["functionResponse"]["response"]
                match = next((p for p in pending if p[0] == name), None)
                if match is not None:
                    pending.remove(match)
                text = response["result"] if list(response) == ["result"] else json.dumps(response)
                r.items.append(("result", None if match is None else match[1], text))
            elif "text" in part and not part.get("thought"):
                r.text(role, part["text"])
    return r


def read_responses(body: dict[str, Any]) -> Reading:
    r = Reading(tools=[t["name"] for t in body.get("tools", []) if t.get("type") == "function"])
    if body.get("instructions"):
        r.system.append(body["instructions"])
    items = body["input"]
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    for item in items:
        kind = item.get("type", "message")
        if kind == "message" and item["role"] in ("system", "developer"):
            r.system += _texts_of(item["content"], ("input_text",))
        elif kind == "message":
            for t in _texts_of(item["content"], ("input_text", "output_text")):
                r.text(item["role"], t)
        elif kind == "function_call":
            r.items.append(("call", item["name"], json.loads(item["arguments"]), item["call_id"]))
        elif kind == "function_call_output":
            output = item["output"]
            text = output if isinstance(output, str) else "".join(_texts_of(output, ("input_text",)))
            r.items.append(("result", item["call_id"], text))
    return r


READERS: dict[str, Callable[[dict[str, Any]], Reading]] = {
    "openai": read_openai,
    "anthropic": read_anthropic,
    "gemini": read_gemini,
    "responses": read_responses,
}


def expected_reading(conv: Conversation, merge_system: bool) -> Reading:
    r = Reading(system=[] if merge_system else list(conv.system), tools=conv.call_names())
    first_user = True
    for turn in conv.turns:
        if turn.role == "user" and first_user and merge_system and conv.system:
            r.text("user", "\n\n".join(conv.system))
        first_user = first_user and turn.role != "user"
        for t in turn.texts:
            r.text(turn.role, t)
        r.items += [("call", c.name, c.args, c.id) for c in turn.calls]
        r.items += [("result", cid, text) for cid, text in turn.results]
    return r


def text_runs(reading: Reading) -> list[tuple[str, str]]:
    """Turn texts by role, consecutive turns of one role merged (tool calls and results do not
    separate them), each run's texts concatenated."""
    runs = _merge_runs([(i[1], [i[2]]) for i in reading.items if i[0] == "text"])
    return [(role, "".join(parts)) for role, parts in runs]


def calls_and_links(reading: Reading) -> tuple[list[tuple[str, Any]], list[tuple[int | None, str]]]:
    """The calls in order, and each result as (position of its call, text). Only calls read
    before the result count: a result placed before its call is linked to nothing (None)."""
    calls: list[tuple[str, Any]] = []
    keys: list[Any] = []
    results: list[tuple[int | None, str]] = []
    for item in reading.items:
        if item[0] == "call":
            calls.append((item[1], item[2]))
            keys.append(item[3])
        elif item[0] == "result":
            position = keys.index(item[1]) if item[1] in keys else None
            results.append((position, item[2]))
    return calls, results


def same_result_text(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    try:
        return json.loads(expected) == json.loads(actual)
    except ValueError:
        return False


def check_upstream_structure(upstream: str, body: dict[str, Any]) -> None:
    """The structural rules each API enforces on a request, which the translation must meet."""
    if upstream == "anthropic":
        roles = [m["role"] for m in body["messages"]]
        assert roles[:1] == ["user"] and all(a != b for a, b in pairwise(roles)), roles
        for m in body["messages"]:
            blocks = m["content"] if isinstance(m["content"], list) else []
            kinds = [b["type"] for b in blocks]
            # tool_result blocks lead their user turn; no empty text block anywhere.
            assert kinds == sorted(kinds, key=lambda k: k != "tool_result"), kinds
            assert all(b["text"] for b in blocks if b["type"] == "text")
            for b in blocks:
                assert re.fullmatch(r"[a-zA-Z0-9_-]+", b.get("id", b.get("tool_use_id", "x"))), b
    elif upstream == "gemini":
        assert "model" not in body
        assert all(c["role"] in ("user", "model") and c["parts"] for c in body["contents"])
    elif upstream == "openai":
        assert body.get("tools") or not {"tool_choice", "parallel_tool_calls"} & set(body)
    else:
        assert body["store"] is False and isinstance(body["input"], list)


@pytest.mark.parametrize(("client", "upstream"), PAIRS, ids=PAIR_IDS)
@MEDIUM
@given(conv=conversations(), merge_system=st.booleans())
def test_request_keeps_system_turns_calls_and_results(
    client: str, upstream: str, conv: Conversation, merge_system: bool
) -> None:
    body = json.dumps(render(client, conv)).encode("utf-8")
    out = json.loads(
        _core.translate_request(body, client, upstream, model=UPSTREAM_MODEL, merge_system=merge_system)
    )
    if upstream in ("openai", "anthropic", "responses"):
        assert out["model"] == UPSTREAM_MODEL
    if client != upstream or merge_system:
        check_upstream_structure(upstream, out)
    actual = READERS[upstream](out)
    expected = expected_reading(conv, merge_system)

    joined_system = "\n\n".join(actual.system)
    for text in expected.system:
        assert text in joined_system
    if merge_system:
        assert actual.system == []
    assert text_runs(actual) == text_runs(expected)
    want_calls, want_results = calls_and_links(expected)
    got_calls, got_results = calls_and_links(actual)
    assert got_calls == want_calls
    assert [pos for pos, _ in got_results] == [pos for pos, _ in want_results]
    for (_, want), (_, got) in zip(want_results, got_results, strict=True):
        assert same_result_text(want, got), (want, got)
    assert sorted(actual.tools) == expected.tools


# ---------------------------------------------------------------------------------------------
# Regression tests for core defects found by this suite (now fixed).

LATE_EVENTS = {
    "openai": ("openai_stream/clean_with_usage.input.sse", 'data: {"error": {"message": "late"}}\n\n'),
    "anthropic": (
        "dialects/anthropic/text_tool_use.sse",
        'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "late"}}\n\n',
    ),
    "gemini": (
        "dialects/gemini/stream_thinking_text.sse",
        'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "late"}]}, "index": 0}]}\n\n',
    ),
    "responses": (
        "dialects/responses/text.sse",
        'event: error\ndata: {"type": "error", "sequence_number": 99, "message": "late"}\n\n',
    ),
}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_same_dialect_stream_ends_at_the_upstream_terminal_event(dialect: str) -> None:
    # Every cross-dialect pairing, and the OpenAI relay, stop reading at the terminal event.
    path, late = LATE_EVENTS[dialect]
    stream = (FIXTURES / path).read_bytes()
    clean, t = relay(dialect, dialect, [stream])
    assert t.state == "completed"
    for client in DIALECTS:
        if client != dialect:
            assert relay(dialect, client, [stream + late.encode()])[0] == relay(dialect, client, [stream])[0]
    assert relay(dialect, dialect, [stream + late.encode()])[0] == clean


FORCED_BUILTIN_TOOL = {
    # Anthropic client forcing its server tool (web search): the IR drops server tools.
    "anthropic": {
        "model": "m",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "tool", "name": "web_search"},
    },
    # OpenAI client requiring a call while its only tool is a custom one (dropped too).
    "openai": {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "custom", "custom": {"name": "x"}}],
        "tool_choice": "required",
    },
}


@pytest.mark.parametrize(
    ("client", "upstream"),
    [pytest.param(c, u, id=f"{c}-{u}") for c in FORCED_BUILTIN_TOOL for u in DIALECTS if u != c],
)
def test_tool_choice_goes_upstream_only_with_tools(client: str, upstream: str) -> None:
    # The only tools are built-in ones the IR drops: a forced choice has nothing left to name.
    body = json.dumps(FORCED_BUILTIN_TOOL[client]).encode("utf-8")
    out = json.loads(_core.translate_request(body, client, upstream, model="m"))
    assert "tools" not in out
    assert not {"tool_choice", "toolConfig"} & set(out), out
