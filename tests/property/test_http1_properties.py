"""Properties of the HTTP/1.1 response codec (`_core.parse_response_head`, `_core.ChunkedDecoder`).

Chunked bodies and response heads are built here, independently of the Rust code, with the
freedom RFC 9112 gives a sender (chunk sizes, hex case, leading zeros, extensions, trailers,
bare-LF line ends, optional whitespace, header-name case), then parsed whole and cut at
arbitrary byte positions. Whatever the input, the only exception is `UpstreamProtocolError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from omniroute import _core

TCHAR = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~"
FRAMING_NAMES = {"content-length", "transfer-encoding", "connection"}
EOLS = (b"\r\n", b"\n")

token = st.text(alphabet=TCHAR, min_size=1, max_size=12)
# Header values: visible characters (any Unicode, sent as UTF-8) with inner spaces and tabs.
visible = st.characters(codec="utf-8", min_codepoint=0x21, exclude_categories=["Cc", "Cs", "Zl", "Zp"])
field_value = st.text(alphabet=st.one_of(visible, st.sampled_from(" \t")), max_size=20).map(
    lambda v: v.strip(" \t")
)
ows = st.sampled_from(["", " ", "  ", "\t", " \t "])


def split_at(payload: bytes, cuts: list[int]) -> list[bytes]:
    """Cuts `payload` at the given offsets (duplicates allowed: they make empty pieces)."""
    bounds = [0, *sorted(min(c, len(payload)) for c in cuts), len(payload)]
    return [payload[a:b] for a, b in pairwise(bounds)]


# ---------------------------------------------------------------- chunked bodies


@dataclass(frozen=True)
class ChunkedBody:
    encoded: bytes
    payload: bytes


@st.composite
def chunk_size_line(draw: st.DrawFn, size: int) -> bytes:
    digits = f"{size:x}"
    digits = "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in digits)
    digits = "0" * draw(st.integers(0, 3)) + digits
    extensions = ""
    for _ in range(draw(st.integers(0, 2))):
        name = draw(token)
        value = draw(
            st.none()
            | token
            | st.text(alphabet=TCHAR + ' ;=,\\"', max_size=10).map(
                lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'
            )
        )
        extensions += draw(ows) + ";" + name + ("" if value is None else "=" + value)
    return (digits + extensions).encode() + draw(st.sampled_from(EOLS))


@st.composite
def chunked_bodies(draw: st.DrawFn) -> ChunkedBody:
    payload = draw(st.binary(max_size=600))
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(payload) - 1)), max_size=8))))
    pieces = [p for p in split_at(payload, cuts) if p]
    out = bytearray()
    for piece in pieces:
        out += draw(chunk_size_line(len(piece))) + piece + b"\r\n"
    out += draw(chunk_size_line(0))
    for _ in range(draw(st.integers(0, 3))):
        out += f"{draw(token)}:{draw(ows)}{draw(field_value)}".encode() + draw(st.sampled_from(EOLS))
    out += draw(st.sampled_from(EOLS))
    return ChunkedBody(bytes(out), payload)


def decode(pieces: list[bytes]) -> tuple[bytes, int, bool]:
    """Feeds the pieces in order: (payload, consumed, done)."""
    decoder = _core.ChunkedDecoder()
    payload = bytearray()
    consumed = 0
    for piece in pieces:
        was_done = decoder.done
        data, n = decoder.feed(piece)
        assert 0 <= n <= len(piece)
        assert n == len(piece) or decoder.done
        if was_done:
            assert (data, n) == (b"", 0)
        payload += data
        consumed += n
    return bytes(payload), consumed, decoder.done


@settings(max_examples=300, deadline=None)
@given(
    body=chunked_bodies(),
    garbage=st.binary(max_size=40),
    cuts=st.lists(st.integers(0, 2000), max_size=12),
)
def test_chunked_decoding_is_exact_wherever_the_stream_is_cut(
    body: ChunkedBody, garbage: bytes, cuts: list[int]
) -> None:
    stream = body.encoded + garbage
    expected = (body.payload, len(body.encoded), True)
    assert decode([stream]) == expected
    assert decode(split_at(stream, cuts)) == expected


@settings(max_examples=60, deadline=None)
@given(chunked_bodies())
def test_chunked_byte_by_byte_equals_whole(body: ChunkedBody) -> None:
    whole = decode([body.encoded])
    assert decode([body.encoded[i : i + 1] for i in range(len(body.encoded))]) == whole


@settings(max_examples=150, deadline=None)
@given(body=chunked_bodies(), data=st.data())
def test_truncated_chunked_body_is_not_done(body: ChunkedBody, data: st.DataObject) -> None:
    end = data.draw(st.integers(0, len(body.encoded) - 1))
    payload, consumed, done = decode([body.encoded[:end]])
    assert not done
    assert consumed == end
    assert body.payload.startswith(payload)


@settings(max_examples=100, deadline=None)
@given(chunked_bodies())
def test_bytearray_input_decodes_like_bytes(body: ChunkedBody) -> None:
    decoder = _core.ChunkedDecoder()
    payload, consumed = decoder.feed(bytearray(body.encoded))
    assert (payload, consumed, decoder.done) == (body.payload, len(body.encoded), True)


@settings(max_examples=150, deadline=None)
@given(body=chunked_bodies(), data=st.data())
def test_data_not_followed_by_crlf_is_an_error(body: ChunkedBody, data: st.DataObject) -> None:
    # Replace the CR or LF after the first chunk's data with another byte.
    assume(body.payload)
    line_end = body.encoded.index(b"\n") + 1
    size = int(body.encoded[:line_end].split(b";")[0].strip(), 16)
    at = line_end + size + data.draw(st.integers(0, 1))
    bad = data.draw(st.integers(0, 255).filter(lambda b: b != body.encoded[at]))
    broken = body.encoded[:at] + bytes([bad]) + body.encoded[at + 1 :]
    with pytest.raises(_core.UpstreamProtocolError, match="CRLF"):
        _core.ChunkedDecoder().feed(broken)


# ---------------------------------------------------------------- response heads


@dataclass(frozen=True)
class Head:
    raw: bytes
    status: int
    headers: list[tuple[str, str]]
    framing: int
    content_length: int
    keep_alive: bool


def random_case(draw: st.DrawFn, name: str) -> str:
    return "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in name)


@st.composite
def heads(draw: st.DrawFn) -> Head:
    http11 = draw(st.booleans())
    status = draw(
        st.sampled_from([100, 103, 200, 201, 204, 206, 304, 400, 404, 429, 500, 503]) | st.integers(100, 599)
    )
    reason = draw(st.text(alphabet=TCHAR + " ", max_size=20))
    fields = [
        (name, value)
        for name, value in draw(st.lists(st.tuples(token, field_value), max_size=25))
        if name.lower() not in FRAMING_NAMES
    ]
    framing_choice = draw(st.sampled_from(["length", "chunked", "none"]))
    connection = draw(st.sampled_from([None, "close", "keep-alive", "Keep-Alive", "Upgrade, close"]))
    length = draw(st.integers(0, 2**63))
    if framing_choice == "length":
        fields.insert(draw(st.integers(0, len(fields))), ("Content-Length", str(length)))
    elif framing_choice == "chunked":
        fields.insert(draw(st.integers(0, len(fields))), ("Transfer-Encoding", "chunked"))
    if connection is not None:
        fields.insert(draw(st.integers(0, len(fields))), ("Connection", connection))

    lines = [f"HTTP/1.{int(http11)} {status} {reason}".encode()]
    for name, value in fields:
        lines.append(f"{random_case(draw, name)}:{draw(ows)}{value}{draw(ows)}".encode())
    raw = b"\r\n".join(lines) + b"\r\n\r\n"

    tokens = {t.strip().lower() for t in (connection or "").split(",")}
    keep_alive = "close" not in tokens and (http11 or "keep-alive" in tokens)
    if status < 200 or status in (204, 304):
        framing, content_length = _core.FRAMING_EMPTY, 0
    elif framing_choice == "length":
        framing, content_length = _core.FRAMING_LENGTH, length
    elif framing_choice == "chunked":
        framing, content_length = _core.FRAMING_CHUNKED, 0
        keep_alive = keep_alive and http11
    else:
        framing, content_length, keep_alive = _core.FRAMING_UNTIL_CLOSE, 0, False
    expected_headers = [(name.lower(), value) for name, value in fields]
    return Head(raw, status, expected_headers, framing, content_length, keep_alive)


@settings(max_examples=300, deadline=None)
@given(head=heads(), body=st.binary(max_size=40))
def test_random_heads_round_trip(head: Head, body: bytes) -> None:
    parsed = _core.parse_response_head(head.raw + body)
    assert parsed == (
        head.status,
        head.headers,
        len(head.raw),
        head.framing,
        head.content_length,
        head.keep_alive,
    )
    assert _core.parse_response_head(bytearray(head.raw)) == parsed


@settings(max_examples=150, deadline=None)
@given(head=heads(), data=st.data())
def test_truncated_heads_are_incomplete(head: Head, data: st.DataObject) -> None:
    end = data.draw(st.integers(0, len(head.raw) - 1))
    assert _core.parse_response_head(head.raw[:end]) is None


def parse_or_protocol_error(buf: bytes) -> object:
    try:
        return _core.parse_response_head(buf)
    except _core.UpstreamProtocolError:
        return "error"


def feed_or_protocol_error(pieces: list[bytes]) -> None:
    decoder = _core.ChunkedDecoder()
    try:
        for piece in pieces:
            _, n = decoder.feed(piece)
            assert 0 <= n <= len(piece)
    except _core.UpstreamProtocolError:
        return


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300) | st.binary(max_size=300).map(lambda b: b"HTTP/1.1 200 OK\r\n" + b))
def test_arbitrary_bytes_never_panic(data: bytes) -> None:
    parse_or_protocol_error(data)
    feed_or_protocol_error([data])
    feed_or_protocol_error([b"5\r\nhello\r\n", data])
    feed_or_protocol_error([b"0\r\n", data])


@settings(max_examples=300, deadline=None)
@given(
    head=heads(),
    body=chunked_bodies(),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_corrupted_messages_never_panic(head: Head, body: ChunkedBody, edits: list[tuple[int, int]]) -> None:
    raw_head, raw_body = bytearray(head.raw), bytearray(body.encoded)
    for at, value in edits:
        raw_head[at % len(raw_head)] = value
        raw_body[at % len(raw_body)] = value
    parse_or_protocol_error(bytes(raw_head))
    feed_or_protocol_error([bytes(raw_body)])


def test_framing_constants_are_distinct() -> None:
    kinds = (_core.FRAMING_LENGTH, _core.FRAMING_CHUNKED, _core.FRAMING_UNTIL_CLOSE, _core.FRAMING_EMPTY)
    assert kinds == (0, 1, 2, 3)


def test_oversized_head_is_an_error() -> None:
    raw = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * (64 * 1024)
    with pytest.raises(_core.UpstreamProtocolError, match="larger than"):
        _core.parse_response_head(raw)
