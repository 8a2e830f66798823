"""Golden cross-dialect fixtures, shared with rust/core/tests/golden_pairs.rs.

Each case is a directory `tests/fixtures/pairs/<client>_to_<upstream>/<case>/` holding either
- a request: `request.json` (the client's body), `upstream_request.json` (the translated body,
  compared as parsed JSON) and an optional `options.json` (`model`, `merge_system`, `stream`,
  `force_stream_usage`: what the gateway decided); or
- a stream: `upstream.sse` (the upstream's bytes), `options.json` (`created`, `response_id`,
  `include_usage`, optional `model`) and `client.sse` (the client's bytes after feeding
  everything and calling finish(), compared exactly).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from omniroute import _core

PAIRS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "pairs"
CASES = sorted(p for p in PAIRS_DIR.glob("*_to_*/*") if p.is_dir())
REQUEST_CASES = [c for c in CASES if (c / "request.json").is_file()]
STREAM_CASES = [c for c in CASES if (c / "upstream.sse").is_file()]
REQUEST_OPTIONS = {"model", "merge_system", "stream", "force_stream_usage"}
STREAM_OPTIONS = {"created", "response_id", "include_usage", "model"}


def case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


def dialects(case: Path) -> tuple[str, str]:
    """(client, upstream) from the directory name."""
    client, upstream = case.parent.name.split("_to_")
    return client, upstream


def options(case: Path) -> dict[str, Any]:
    path = case / "options.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def relay(case: Path, chunks: list[bytes]) -> tuple[bytes, _core.StreamTranslator]:
    client, upstream = dialects(case)
    translator = _core.StreamTranslator(upstream, client, **options(case))
    out = b"".join(translator.feed(chunk) for chunk in chunks)
    return out + translator.finish(), translator


def test_fixture_set_covers_the_required_pairs() -> None:
    requests = {dialects(c) for c in REQUEST_CASES}
    streams = {dialects(c) for c in STREAM_CASES}
    for pair in [
        ("openai", "anthropic"),
        ("anthropic", "openai"),
        ("openai", "gemini"),
        ("responses", "openai"),
        ("gemini", "anthropic"),
    ]:
        assert pair in requests, pair
    # (client, upstream): anthropic -> openai client, openai -> anthropic client,
    # gemini -> responses client, responses -> anthropic client.
    for pair in [
        ("openai", "anthropic"),
        ("anthropic", "openai"),
        ("responses", "gemini"),
        ("anthropic", "responses"),
    ]:
        assert pair in streams, pair
    for case in CASES:
        client, upstream = dialects(case)
        assert client in ("openai", "anthropic", "gemini", "responses"), case
        assert upstream in ("openai", "anthropic", "gemini", "responses"), case
        if case in REQUEST_CASES:
            assert (case / "upstream_request.json").is_file(), case
            assert set(options(case)) <= REQUEST_OPTIONS, case
        else:
            assert case in STREAM_CASES, f"{case} is neither a request nor a stream case"
            assert (case / "client.sse").is_file(), case
            assert set(options(case)) <= STREAM_OPTIONS, case
            assert {"created", "response_id", "include_usage"} <= set(options(case)), case


@pytest.mark.parametrize("case", REQUEST_CASES, ids=case_id)
def test_request_translates_to_the_golden_upstream_body(case: Path) -> None:
    client, upstream = dialects(case)
    out = _core.translate_request((case / "request.json").read_bytes(), client, upstream, **options(case))
    expected = json.loads((case / "upstream_request.json").read_text(encoding="utf-8"))
    assert json.loads(out) == expected


@pytest.mark.parametrize("case", STREAM_CASES, ids=case_id)
def test_stream_translates_to_the_golden_client_bytes(case: Path) -> None:
    upstream = (case / "upstream.sse").read_bytes()
    expected = (case / "client.sse").read_bytes()
    out, translator = relay(case, [upstream])
    assert out.decode("utf-8") == expected.decode("utf-8")
    assert translator.state == "completed"
    client, _ = dialects(case)
    if client == "responses":
        completed = translator.completed_response
        assert completed is not None
        assert json.loads(completed)["type"] == "response.completed"


@pytest.mark.parametrize("case", STREAM_CASES, ids=case_id)
def test_stream_golden_does_not_depend_on_chunking(case: Path) -> None:
    upstream = (case / "upstream.sse").read_bytes()
    expected = (case / "client.sse").read_bytes()
    for size in (1, 2, 3, 7, 64):
        chunks = [upstream[i : i + size] for i in range(0, len(upstream), size)]
        assert relay(case, chunks)[0] == expected, size
