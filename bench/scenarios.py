"""The scenarios and the probes each runs, with their request bodies.

A probe is one load shape against one target:
    max     closed loop at `concurrency` connections (50): throughput and CPU per request (wrk
            when available, else the built-in generator)
    c1      one connection, one request at a time: latency and time to first byte (built-in)
    rate    open loop at a fixed request rate: latency under moderate load (built-in)
    burst   every connection sends one slow stream at once: memory and CPU (built-in)
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    name: str
    concurrency: int = 1
    rate: float = 0.0
    per_connection: int = 0
    #: wrk may run it (closed loop, no TTFB needed).
    wrk_ok: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    path: str
    body: bytes
    #: Every 2xx response must contain this in its last bytes (checked by the built-in generator).
    expect_tail: bytes
    probes: tuple[Probe, ...]
    #: Needs a gateway that translates Anthropic Messages to the OpenAI upstream.
    translated: bool = False
    extra_headers: tuple[tuple[str, str], ...] = ()
    model: str = ""


@dataclass(frozen=True)
class Plan:
    duration: float
    rounds: int
    warmup: float
    rate: float
    slow_streams: int
    slow_events: int
    slow_gap_ms: int
    #: Seconds of light traffic (small chats at LIGHT_RATE) after a burst, before RSS is read again:
    #: allocators that purge as they work (Granian's jemalloc) give memory back only then.
    light_after: float = 10.0
    max_concurrency: int = 50


FULL = Plan(duration=5.0, rounds=3, warmup=0.5, rate=1000, slow_streams=1000, slow_events=20, slow_gap_ms=250)
QUICK = Plan(
    duration=0.2,
    rounds=1,
    warmup=0.05,
    rate=200,
    slow_streams=50,
    slow_events=10,
    slow_gap_ms=20,
    light_after=0.3,
)
#: Requests per second of the light traffic after a burst.
LIGHT_RATE = 10.0

MESSAGES = [{"role": "user", "content": "Say hello in one short sentence."}]
CHAT_TEXT = b"Hello from the benchmark upstream."


def _json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def image_body(size: int = 1024 * 1024) -> bytes:
    """A chat request carrying `size` bytes of base64 image data (random, so nothing compresses)."""
    data = base64.b64encode(os.urandom(size * 3 // 4)).decode()
    content = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
    ]
    return _json(
        {"model": "openai/bench-chat", "messages": [{"role": "user", "content": content}], "stream": False}
    )


def build(plan: Plan) -> list[Scenario]:
    c = plan.max_concurrency
    slow_model = f"openai/bench-s{plan.slow_events}-d{plan.slow_gap_ms}"
    stream_probes = (Probe("max", c, wrk_ok=True), Probe("c1"))
    # `"stream": false` spelt out: the Node OmniRoute streams upstream when `stream` is absent.
    chat = {"model": "openai/bench-chat", "messages": MESSAGES, "stream": False}
    return [
        Scenario(
            "chat",
            "Non-streaming small chat",
            "/v1/chat/completions",
            _json(chat),
            CHAT_TEXT,
            (Probe("max", c, wrk_ok=True), Probe("c1"), Probe("rate", rate=plan.rate)),
            model="openai/bench-chat",
        ),
        Scenario(
            "stream20",
            "Streaming, 20 events",
            "/v1/chat/completions",
            _json({"model": "openai/bench-s20", "messages": MESSAGES, "stream": True}),
            b"[DONE]",
            stream_probes,
            model="openai/bench-s20",
        ),
        Scenario(
            "stream200",
            "Streaming, 200 events",
            "/v1/chat/completions",
            _json({"model": "openai/bench-s200", "messages": MESSAGES, "stream": True}),
            b"[DONE]",
            stream_probes,
            model="openai/bench-s200",
        ),
        Scenario(
            "anthropic",
            "Anthropic client -> OpenAI upstream, streaming 20 events (translated)",
            "/v1/messages",
            _json({"model": "openai/bench-s20", "max_tokens": 64, "messages": MESSAGES, "stream": True}),
            b"message_stop",
            stream_probes,
            translated=True,
            extra_headers=(("anthropic-version", "2023-06-01"),),
            model="openai/bench-s20",
        ),
        Scenario(
            "slow",
            f"{plan.slow_streams} concurrent slow streams ({plan.slow_events} events, {plan.slow_gap_ms} ms apart)",
            "/v1/chat/completions",
            _json({"model": slow_model, "messages": MESSAGES, "stream": True}),
            b"[DONE]",
            (Probe("burst", plan.slow_streams, per_connection=1),),
            model=slow_model,
        ),
        Scenario(
            "image",
            "1 MB base64 image request (non-streaming)",
            "/v1/chat/completions",
            image_body(),
            CHAT_TEXT,
            (Probe("max", 10, wrk_ok=True), Probe("c1")),
            model="openai/bench-chat",
        ),
    ]


NAMES = ("chat", "stream20", "stream200", "anthropic", "slow", "image")
