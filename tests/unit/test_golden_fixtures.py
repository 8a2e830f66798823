"""Golden OpenAI -> OpenAI stream fixtures, shared with rust/core/tests/golden.rs.

Each case in tests/fixtures/openai_stream is `<name>.input.sse` (upstream bytes),
`<name>.options.json` (`{"include_usage": bool}`) and `<name>.expected.sse` (the client bytes
after feed(everything) + finish()).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omniroute import _core

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openai_stream"
CASES = sorted(p.name.removesuffix(".input.sse") for p in FIXTURES.glob("*.input.sse"))
DONE_FRAME = b"data: [DONE]\n\n"


def load(name: str) -> tuple[bytes, bool, bytes]:
    options = json.loads((FIXTURES / f"{name}.options.json").read_text(encoding="utf-8"))
    assert set(options) == {"include_usage"}
    upstream = (FIXTURES / f"{name}.input.sse").read_bytes()
    expected = (FIXTURES / f"{name}.expected.sse").read_bytes()
    return upstream, bool(options["include_usage"]), expected


def relay(chunks: list[bytes], include_usage: bool) -> tuple[bytes, _core.StreamTranslator]:
    translator = _core.StreamTranslator("openai", "openai", include_usage=include_usage)
    out = b"".join(translator.feed(chunk) for chunk in chunks)
    return out + translator.finish(), translator


def test_fixture_set_is_complete() -> None:
    assert {
        "clean_with_usage",
        "groq_extras",
        "missing_done",
        "cut_mid_chunk",
        "tool_call_deltas",
    } <= set(CASES)
    for name in CASES:
        assert (FIXTURES / f"{name}.options.json").is_file(), name
        assert (FIXTURES / f"{name}.expected.sse").is_file(), name


@pytest.mark.parametrize("name", CASES)
def test_fixture_output_matches(name: str) -> None:
    upstream, include_usage, expected = load(name)
    out, translator = relay([upstream], include_usage)
    assert out.decode("utf-8") == expected.decode("utf-8")
    completed = expected.endswith(DONE_FRAME)
    assert translator.state == ("completed" if completed else "failed")
    assert expected.count(DONE_FRAME) == (1 if completed else 0)


@pytest.mark.parametrize("name", CASES)
def test_fixture_output_does_not_depend_on_chunking(name: str) -> None:
    upstream, include_usage, expected = load(name)
    one_byte_chunks = [upstream[i : i + 1] for i in range(len(upstream))]
    assert relay(one_byte_chunks, include_usage)[0] == expected
    for size in (2, 3, 7, 64):
        chunks = [upstream[i : i + size] for i in range(0, len(upstream), size)]
        assert relay(chunks, include_usage)[0] == expected
