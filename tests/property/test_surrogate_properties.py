"""The core's lone-surrogate scan (`_core.has_lone_surrogate`) against JSON's own reading of the
same text. (The regular expressions it replaced are no oracle: they remove escaped backslashes
and pairs first, and the removals join what stood around them into escapes that were never
there, or pairs that were not.) Invalid escapes are covered case by case in
tests/unit/test_fuzz_regressions.py and in the core's own tests."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute import _core

# Valid pieces of a JSON string: escaped backslashes and quotes, \u escapes of every surrogate
# range and case, and text that looks like the rest of an escape.
VALID = st.sampled_from(
    [
        b"\\\\", b"\\\"", b"\\n", b"\\u0041", b"\\ud7ff", b"\\ue000", b"\\ud83d", b"\\uD83D",
        b"\\ude00", b"\\uDE00", b"\\udbff", b"\\udfff", b"\\ud800", b"\\udc00", b"u", b"ud800",
        b"d8", b"00", b"x", b" ", b"\xc3\xa9",
    ]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(VALID, max_size=12))
def test_scan_agrees_with_the_json_decoder(pieces: list[bytes]) -> None:
    body = b'"' + b"".join(pieces) + b'"'
    decoded = json.loads(body)  # joins proper pairs; keeps lone halves as surrogate code points
    lone = any(0xD800 <= ord(ch) <= 0xDFFF for ch in decoded)
    assert _core.has_lone_surrogate(body) is lone


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_json_of_any_text_has_a_lone_surrogate_exactly_when_the_text_does(text: str) -> None:
    # json.dumps writes non-ASCII as \u escapes, astral characters as surrogate pairs.
    body = json.dumps({"content": text}).encode()
    lone_in_text = any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)
    assert _core.has_lone_surrogate(body) is lone_in_text
