"""`python -m bench core`: `omniroute._core` calls against plain-Python implementations of the
same job, each checked for equal output before it is timed.

Jobs (the gateway's hot path for a same-dialect OpenAI call):
    sse-decode      SSE bytes in network-sized pieces -> (event, data) pairs
    relay           OpenAI stream -> OpenAI stream with usage extracted (what the gateway relays)
    rewrite         request body with the model replaced (and stream usage forced on)
    inspect         model / stream / include_usage / max_tokens / tools / temperature of a request
    injection, pii  the prompt guard's detectors on a user message or a tool result
                    (tests/fixtures/guard); the references are the plain-Python detectors they
                    replaced, kept as the tests' oracles in tests/support/ (importable because
                    `python -m bench` runs from the repository root)

Timings are per call, the best of several repeats of a timed loop (the least disturbed one), so
they say what each implementation costs on this machine, not what a loaded server sees.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tests.support.guard_reference import find_injection as py_find_injection
from tests.support.pii_reference import find_pii as py_find_pii

from omniroute import _core
from omniroute.security.detectors import find_injection
from omniroute.security.pii import find_pii

from .mock_upstream import stream_parts
from .scenarios import image_body
from .targets import REPO

# ---- plain-Python references -----------------------------------------------------------------


class PySseDecoder:
    """The SSE event-stream algorithm (WHATWG): lines, `event:` / `data:` fields, blank line ends."""

    def __init__(self) -> None:
        self._buf = b""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        out: list[tuple[str | None, str]] = []
        self._buf += chunk
        lines = self._buf.split(b"\n")
        self._buf = lines.pop()
        for raw in lines:
            line = raw[:-1] if raw.endswith(b"\r") else raw
            if not line:
                if self._data:
                    out.append((self._event, "\n".join(self._data)))
                self._event, self._data = None, []
                continue
            if line.startswith(b":"):
                continue
            name, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if name == b"data":
                self._data.append(value.decode())
            elif name == b"event":
                self._event = value.decode()
        return out


class PyOpenAIRelay:
    """OpenAI stream in, the same events out; usage taken from the chunk that carries it."""

    def __init__(self) -> None:
        self._buf = b""
        self.usage: tuple[int, int] | None = None
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        self._buf += chunk
        out = []
        while True:
            end = self._buf.find(b"\n\n")
            if end < 0:
                break
            event, self._buf = self._buf[: end + 2], self._buf[end + 2 :]
            data = event[6:-2] if event.startswith(b"data: ") else b""
            if data == b"[DONE]":
                self.done = True
            elif data:
                usage = json.loads(data).get("usage")
                if usage:
                    self.usage = (usage["prompt_tokens"], usage["completion_tokens"])
            out.append(event)
        return b"".join(out)


def py_rewrite(body: bytes, model: str, force_stream_usage: bool) -> bytes:
    obj = json.loads(body)
    obj["model"] = model
    if force_stream_usage and obj.get("stream"):
        obj["stream_options"] = {"include_usage": True}
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def py_inspect(body: bytes) -> tuple[Any, ...]:
    obj = json.loads(body)
    options = obj.get("stream_options") or {}
    return (
        obj.get("model"),
        bool(obj.get("stream")),
        bool(options.get("include_usage")),
        obj.get("max_tokens"),
        bool(obj.get("tools")),
        obj.get("temperature") == 0,
    )


# ---- the `_core` side ---------------------------------------------------------------------------


def core_inspect(body: bytes) -> tuple[Any, ...]:
    info = _core.inspect_request(body, "openai")
    return (
        info.model,
        info.stream,
        info.include_usage,
        info.max_tokens,
        info.has_tools,
        info.temperature_zero,
    )


def core_relay(pieces: Iterable[bytes]) -> tuple[bytes, tuple[int, int] | None]:
    translator = _core.StreamTranslator("openai", "openai", include_usage=True)
    out = b"".join(translator.feed(p) for p in pieces) + translator.finish()
    usage = translator.usage
    return out, (usage.input_tokens, usage.output_tokens) if usage else None


def py_relay(pieces: Iterable[bytes]) -> tuple[bytes, tuple[int, int] | None]:
    relay = PyOpenAIRelay()
    out = b"".join(relay.feed(p) for p in pieces)
    return out, relay.usage


def core_decode(pieces: Iterable[bytes]) -> list[tuple[str | None, str]]:
    decoder = _core.SseDecoder()
    return [ev for p in pieces for ev in decoder.feed(p)]


def py_decode(pieces: Iterable[bytes]) -> list[tuple[str | None, str]]:
    decoder = PySseDecoder()
    return [ev for p in pieces for ev in decoder.feed(p)]


# ---- data and timing ------------------------------------------------------------------------------


def openai_stream(events: int) -> bytes:
    """The mock upstream's stream body, de-chunked (what the gateway's SSE layer receives)."""
    _, frames = stream_parts(f"bench-s{events}", events)
    out = []
    for frame in frames:
        size_end = frame.index(b"\r\n")
        size = int(frame[:size_end], 16)
        out.append(frame[size_end + 2 : size_end + 2 + size])
    return b"".join(out)


def pieces_of(data: bytes, size: int = 1400) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def per_call_us(fn: Callable[[], object], budget: float) -> float:
    """Best-of-5 time per call in µs, each repeat running for about `budget` / 5 seconds."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= budget / 25 or calls >= 1 << 22:
            break
        calls *= 2
    best = elapsed / calls
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e6


def cases() -> list[tuple[str, Callable[[], object], Callable[[], object]]]:
    s20 = pieces_of(openai_stream(20))
    s200 = pieces_of(openai_stream(200))
    small = json.dumps(
        {"model": "openai/bench-chat", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        separators=(",", ":"),
    ).encode()
    image = image_body()
    guard = REPO / "tests" / "fixtures" / "guard"
    short = "Why does this test fail on CI?"
    message = (guard / "message.txt").read_text(encoding="utf-8")
    tool_result = (guard / "tool_result.txt").read_text(encoding="utf-8")
    return [
        ("sse-decode, 20-event stream", lambda: core_decode(s20), lambda: py_decode(s20)),
        ("sse-decode, 200-event stream", lambda: core_decode(s200), lambda: py_decode(s200)),
        ("relay, 20-event stream", lambda: core_relay(s20), lambda: py_relay(s20)),
        ("relay, 200-event stream", lambda: core_relay(s200), lambda: py_relay(s200)),
        (
            "rewrite model, small request",
            lambda: _core.translate_request(
                small, "openai", "openai", model="bench-chat", force_stream_usage=True, stream=True
            ),
            lambda: py_rewrite(small, "bench-chat", True),
        ),
        (
            "rewrite model, 1 MB image request",
            lambda: _core.translate_request(image, "openai", "openai", model="bench-chat", stream=False),
            lambda: py_rewrite(image, "bench-chat", False),
        ),
        (
            "rewrite model, 1 MB image request, as parts (what the gateway sends)",
            lambda: _core.translate_request(
                image, "openai", "openai", model="bench-chat", stream=False, parts=True
            ),
            lambda: py_rewrite(image, "bench-chat", False),
        ),
        ("inspect, small request", lambda: core_inspect(small), lambda: py_inspect(small)),
        ("inspect, 1 MB image request", lambda: core_inspect(image), lambda: py_inspect(image)),
        ("injection, 30-char message", lambda: find_injection(short), lambda: py_find_injection(short)),
        ("injection, 545-char message", lambda: find_injection(message), lambda: py_find_injection(message)),
        (
            "injection, 48 KB tool result",
            lambda: find_injection(tool_result, user_authored=False),
            lambda: py_find_injection(tool_result, user_authored=False),
        ),
        ("pii, 30-char message", lambda: find_pii(short), lambda: py_find_pii(short)),
        ("pii, 545-char message", lambda: find_pii(message), lambda: py_find_pii(message)),
        ("pii, 48 KB tool result", lambda: find_pii(tool_result), lambda: py_find_pii(tool_result)),
    ]


def comparable(output: object) -> object:
    """An upstream body given as parts (bytes and memoryviews) compares as the bytes it makes."""
    if isinstance(output, tuple) and output and all(isinstance(p, bytes | memoryview) for p in output):
        return b"".join(output)
    return output


def main(quick: bool = False, out: Path | None = None) -> int:
    budget = 0.05 if quick else 1.0
    rows = []
    for name, core_fn, py_fn in cases():
        core_out, py_out = comparable(core_fn()), comparable(py_fn())
        if core_out != py_out:
            raise SystemExit(f"bench core: outputs differ for {name!r}; refusing to time different jobs")
        core_us, py_us = per_call_us(core_fn, budget), per_call_us(py_fn, budget)
        rows.append({"job": name, "core_us": core_us, "python_us": py_us, "speedup": py_us / core_us})
    lines = [
        "| job | _core µs/call | plain Python µs/call | Python ÷ _core |",
        "|---|---|---|---|",
        *[
            f"| {r['job']} | {r['core_us']:,.2f} | {r['python_us']:,.2f} | {r['speedup']:.1f}× |"
            for r in rows
        ],
    ]
    text = "\n".join(lines)
    print(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "core.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
        (out / "core.md").write_text(text + "\n", encoding="utf-8")
    return 0
