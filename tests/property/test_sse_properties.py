"""Properties of the incremental SSE decoder and the SSE encoder (`omniroute._core`).

The reference is the WHATWG event-stream format: lines end in LF, CRLF or a lone CR, `:`
starts a comment, the `data` lines of one event are joined with LF, one space after the colon
is dropped, a blank line dispatches the event, and an event without `data` is not dispatched.
The streams are built here, independently of the Rust code, then fed to the decoder whole and
cut at arbitrary byte positions (also inside CRLF pairs and inside UTF-8 characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute import _core

Event = tuple[str | None, str]

EVENT_NAMES = ("message", "delta", "ping", "error", "content_block_delta")
EOLS = ("\n", "\r\n", "\r")
BOM = b"\xef\xbb\xbf"

# One line of text: any Unicode scalar value except the two line-break bytes.
line_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=24)
# Fields the binding does not report and the decoder must otherwise ignore.
ignored_fields = st.sampled_from(
    ["id: 7", "id", "retry: 1500", "retry: soon", "x-unknown: 1", "dat: a", "DATA: b"]
)


@dataclass(frozen=True)
class SseStream:
    payload: bytes
    expected: list[Event]


def decode(chunks: list[bytes]) -> tuple[list[Event], bool]:
    decoder = _core.SseDecoder()
    events: list[Event] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events, decoder.has_pending


def split_at(payload: bytes, cuts: list[int]) -> list[bytes]:
    """Cuts `payload` at the given offsets (duplicates allowed: they make empty chunks)."""
    bounds = [0, *sorted(min(c, len(payload)) for c in cuts), len(payload)]
    return [payload[a:b] for a, b in pairwise(bounds)]


def join_lines(lines: list[str], eols: list[str]) -> bytes:
    """Terminates each line with its chosen end-of-line.

    A line ended by a lone CR followed by an empty line ended by LF would read back as one
    CRLF (the format cannot tell them apart), so that one combination is written as CR CRLF.
    """
    out: list[str] = []
    previous_eol = ""
    for line, eol in zip(lines, eols, strict=True):
        if previous_eol == "\r" and not line and eol == "\n":
            eol = "\r\n"
        out.append(line + eol)
        previous_eol = eol
    return "".join(out).encode("utf-8")


@st.composite
def data_line(draw: st.DrawFn, value: str) -> str:
    if value == "" and draw(st.booleans()):
        return "data"  # a field with no colon has an empty value
    if not value.startswith(" ") and draw(st.booleans()):
        return "data:" + value  # the space after the colon is optional
    return "data: " + value


@st.composite
def sse_streams(draw: st.DrawFn) -> SseStream:
    lines: list[str] = []
    expected: list[Event] = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.none() | st.sampled_from(EVENT_NAMES))
        values = draw(st.lists(line_text, max_size=4))
        block = [draw(data_line(v)) for v in values]
        if name is not None:
            spacer = draw(st.sampled_from(["event: ", "event:"]))
            block.insert(draw(st.integers(0, len(block))), spacer + name)
        for _ in range(draw(st.integers(0, 2))):
            extra = draw(st.one_of(line_text.map(lambda t: ":" + t), ignored_fields))
            block.insert(draw(st.integers(0, len(block))), extra)
        lines.extend(block)
        lines.append("")
        if values:
            expected.append((name, "\n".join(values)))
        # Blocks without data (only comments, or an event name alone) dispatch nothing.
    eols = draw(st.lists(st.sampled_from(EOLS), min_size=len(lines), max_size=len(lines)))
    payload = join_lines(lines, eols)
    if lines and draw(st.booleans()):
        payload = BOM + payload
    return SseStream(payload, expected)


@st.composite
def streams_and_cuts(draw: st.DrawFn) -> tuple[SseStream, list[int]]:
    stream = draw(sse_streams())
    cuts = draw(st.lists(st.integers(0, len(stream.payload)), max_size=12))
    return stream, cuts


@settings(max_examples=300, deadline=None)
@given(streams_and_cuts())
def test_decoding_is_independent_of_chunk_boundaries(case: tuple[SseStream, list[int]]) -> None:
    stream, cuts = case
    whole, whole_pending = decode([stream.payload])
    assert whole == stream.expected
    assert not whole_pending
    chunked, chunked_pending = decode(split_at(stream.payload, cuts))
    assert chunked == stream.expected
    assert not chunked_pending


@settings(max_examples=100, deadline=None)
@given(sse_streams())
def test_byte_by_byte_feeding_matches_whole_stream(stream: SseStream) -> None:
    one_byte_chunks = [stream.payload[i : i + 1] for i in range(len(stream.payload))]
    assert decode(one_byte_chunks)[0] == stream.expected


@settings(max_examples=150, deadline=None)
@given(streams_and_cuts())
def test_a_cut_stream_yields_a_prefix_of_the_events(case: tuple[SseStream, list[int]]) -> None:
    stream, cuts = case
    end = cuts[0] if cuts else len(stream.payload) // 2
    events, _ = decode(split_at(stream.payload[:end], cuts[1:]))
    assert events == stream.expected[: len(events)]


def normalise_line_breaks(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=300, deadline=None)
@given(
    data=st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
    | st.lists(st.sampled_from(["a", "é", "😀", "\n", "\r", "\r\n", ":", " ", "data: x", "event: e"])).map(
        "".join
    ),
    event=st.none() | st.sampled_from(EVENT_NAMES) | line_text,
    cuts=st.lists(st.integers(0, 400), max_size=6),
)
def test_encode_then_decode_round_trips(data: str, event: str | None, cuts: list[int]) -> None:
    encoded = _core.encode_sse(data, event)
    assert encoded.endswith(b"\n\n")
    # Only LF framing is written: a raw CR in the data would otherwise start a new field.
    assert b"\r" not in encoded
    want = [(event, normalise_line_breaks(data))]
    assert decode([encoded]) == (want, False)
    assert decode(split_at(encoded, cuts)) == (want, False)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.none() | st.sampled_from(EVENT_NAMES), line_text), max_size=8))
def test_encoded_event_sequences_decode_in_order(events: list[Event]) -> None:
    payload = b"".join(_core.encode_sse(data, event) for event, data in events)
    assert decode([payload]) == (events, False)


def test_empty_chunk_between_cr_and_lf_keeps_them_one_line_break() -> None:
    events, _ = decode([b"data: a\r", b"", b"\ndata: b\n\n"])
    assert events == [(None, "a\nb")]
