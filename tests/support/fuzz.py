"""Building blocks of the route fuzz suite (tests/e2e/test_fuzz_routes.py).

* Hypothesis strategies for request bodies: arbitrary JSON values, a realistic body with one node
  replaced by an arbitrary value (`mutated`), encodings that break UTF-8 or JSON (`encoded`,
  `malformed`), and deep nesting.
* Checks every answer must pass: the status, the client's own error format for the route, no
  stack trace and no secret in the body or the headers.
* A raw HTTP/1.1 exchange over a socket, for what an HTTP client library refuses to send (dot
  segments, control characters, CRLF in headers, lying `content-length`).
* `LogWatcher`: the gateway log written since the last look, to pin a traceback on one case.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hypothesis import strategies as st

#: Text that must never reach a client: Python tracebacks and their frame lines.
TRACE_MARKERS = ("Traceback", 'File "', 'File \\"', '.py", line', '.py\\", line')

#: Field names of the four wire formats, so generated objects sometimes look like real parts.
FIELD_NAMES = (
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "stream",
    "max_tokens",
    "tools",
    "tool_calls",
    "tool_choice",
    "function",
    "name",
    "arguments",
    "parameters",
    "input",
    "input_schema",
    "output",
    "call_id",
    "id",
    "tool_use_id",
    "image_url",
    "url",
    "source",
    "data",
    "media_type",
    "cache_control",
    "thinking",
    "budget_tokens",
    "reasoning",
    "effort",
    "contents",
    "parts",
    "functionCall",
    "functionResponse",
    "args",
    "response",
    "inlineData",
    "mimeType",
    "systemInstruction",
    "generationConfig",
    "system",
    "instructions",
    "previous_response_id",
    "store",
    "stream_options",
    "include_usage",
    "n",
    "stop",
    "temperature",
)

#: Strings with a history of breaking parsers, routers and translators.
AWKWARD_STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff",
    "\u202e\u2066",
    "\ufeff",
    "😀" * 3,
    "../../etc/passwd",
    "..\\..\\windows",
    "%2e%2e%2f",
    "%s%s%n",
    "{{7*7}}",
    "${jndi:x}",
    "\r\nX-Injected: 1",
    "null",
    "true",
    "1e999999",
    "user",
    "assistant",
    "system",
    "tool",
    "model",
    "function",
    "text",
    "image_url",
    "input_text",
    "output_text",
    "tool_use",
    "tool_result",
    "function_call",
    "function_call_output",
    "thinking",
    "redacted_thinking",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:;base64,!!!",
    "openai/gpt-4o",
    "anthropic/claude-mock-1",
    "gemini/gemini-2.5-flash",
    "resp/gpt-5-codex",
    "openai/",
    "/gpt-4o",
    "nope/unknown-model",
    "x" * 600,
)

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from((0, -1, 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 10**40, 0.5, -0.0, 1e308)),
    st.text(max_size=30),
    st.sampled_from(AWKWARD_STRINGS),
)

_KEYS = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=10)).filter(lambda k: k != "mock")


def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars (big numbers, awkward strings), lists and objects."""
    return st.recursive(
        _SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(_KEYS, children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


Path_ = tuple[str | int, ...]


def node_paths(doc: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every node of a JSON document, the root included, as a path of keys and indexes."""
    paths: list[Path_] = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            paths.extend(node_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            paths.extend(node_paths(value, (*prefix, index)))
    return paths


def replace_at(doc: Any, path: Path_, value: Any) -> Any:
    """A copy of `doc` with the node at `path` replaced by `value`."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        copy = dict(doc)
        copy[head] = replace_at(doc[head], rest, value)  # type: ignore[index]
        return copy
    items = list(doc)
    items[head] = replace_at(doc[head], rest, value)  # type: ignore[index,call-overload]
    return items


def delete_at(doc: Any, path: Path_) -> Any:
    """A copy of `doc` without the node at `path` (the root cannot be deleted)."""
    if len(path) == 1:
        if isinstance(doc, dict):
            return {k: v for k, v in doc.items() if k != path[0]}
        return [v for i, v in enumerate(doc) if i != path[0]]
    head = path[0]
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[head] = delete_at(doc[head], path[1:])  # type: ignore[index,call-overload]
    return copy


@st.composite
def mutated(draw: st.DrawFn, doc: Any, *, mutations: int = 3) -> Any:
    """`doc` with one to `mutations` nodes replaced by arbitrary JSON values or deleted."""
    for _ in range(draw(st.integers(min_value=1, max_value=mutations))):
        paths = node_paths(doc)
        path = draw(st.sampled_from(paths))
        if path and draw(st.integers(0, 4)) == 0:
            doc = delete_at(doc, path)
        else:
            doc = replace_at(doc, path, draw(json_values()))
    return doc


_PLACEHOLDER = "\u2603FUZZ-RAW\u2603"


@st.composite
def encoded(draw: st.DrawFn, doc: Any) -> bytes:
    """`doc` as bytes: plain JSON, raw UTF-8 (lone surrogates become invalid UTF-8), or with one
    string replaced by raw bytes (invalid UTF-8, NUL, control characters) inside its quotes."""
    how = draw(st.sampled_from(("ascii", "utf8", "raw-string")))
    if how == "ascii":
        return json.dumps(doc).encode()
    if how == "utf8":
        return json.dumps(doc, ensure_ascii=False).encode("utf-8", "surrogatepass")
    strings = [p for p in node_paths(doc) if isinstance(_get(doc, p), str)]
    if not strings:
        return json.dumps(doc).encode()
    path = draw(st.sampled_from(strings))
    raw = draw(
        st.one_of(
            st.binary(max_size=16),
            st.sampled_from((b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\x00", b"a\x00b", b"\x80")),
        )
    )
    text = json.dumps(replace_at(doc, path, _PLACEHOLDER), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    return text.replace(_PLACEHOLDER.encode(), raw.replace(b'"', b"'").replace(b"\\", b"/"))


def _get(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def malformed(draw: st.DrawFn, valid: bytes) -> bytes:
    """Bytes that are not one JSON document, built from a valid one or from nothing."""
    kind = draw(
        st.sampled_from(
            ("truncate", "insert", "append", "bom", "quotes", "random", "literal", "control", "dup-keys")
        )
    )
    if kind == "truncate":
        return valid[: draw(st.integers(0, max(0, len(valid) - 1)))]
    if kind == "insert":
        at = draw(st.integers(0, len(valid)))
        return valid[:at] + draw(st.binary(min_size=1, max_size=8)) + valid[at:]
    if kind == "append":
        return valid + draw(st.sampled_from((b"}", b"]", b",", b" garbage", b"\x00", b"{}", b"\n{")))
    if kind == "bom":
        return b"\xef\xbb\xbf" + valid
    if kind == "quotes":
        return valid.replace(b'"', b"'")
    if kind == "random":
        return draw(st.binary(max_size=200))
    if kind == "control":
        return valid.replace(b'"', b'"\x01', 1)
    if kind == "dup-keys":
        return b'{"model": 1, "model": "x", ' + valid[1:] if valid.startswith(b"{") else valid + b"{"
    return draw(
        st.sampled_from(
            (
                b"",
                b" ",
                b"null",
                b"[]",
                b"{}",
                b'"text"',
                b"0",
                b"-",
                b"NaN",
                b"Infinity",
                b"1e999999",
                b"{'model': 'x'}",
                b'{"model": NaN}',
                b'{"a": 1} // comment',
                b'{"model": "\\ud800"}',
                b'{"model": "\\uZZZZ"}',
                b"\x00\x00\x00\x00",
                b"\xff\xfe{\x00}\x00",
            )
        )
    )


def nested(depth: int, *, inner: bytes = b"", wrapper: str = "list") -> bytes:
    """`depth` levels of arrays (or objects) around `inner`."""
    if wrapper == "list":
        return b"[" * depth + inner + b"]" * depth
    return b'{"a":' * depth + (inner or b"1") + b"}" * depth


def in_field(doc: Mapping[str, Any], field: str, raw: bytes) -> bytes:
    """`doc` as JSON with `field` set to the raw JSON text `raw` (built without a JSON encoder,
    so it can be deeper or larger than an encoder would allow)."""
    text = json.dumps({**doc, field: _PLACEHOLDER}).encode()
    return text.replace(json.dumps(_PLACEHOLDER).encode(), raw)


# Checks ------------------------------------------------------------------------------------------

#: The error format each route family must answer in.
ROUTE_FORMATS = ("openai", "anthropic", "gemini", "responses", "api")


def format_for_path(path: str, headers: Sequence[tuple[str, str]] = ()) -> str:
    """The client error format a path (or an absolute-form request target) belongs to; on the
    model paths a non-empty `anthropic-version` header asks for Anthropic's."""
    if path.startswith(("http://", "https://")):
        path = urlsplit(path).path
    if path == "/v1/models" or path.startswith("/v1/models/"):
        versions = [v for k, v in headers if k.lower() == "anthropic-version"]
        if versions and versions[0].strip():
            return "anthropic"
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/v1beta"):
        return "gemini"
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1/responses"):
        return "responses"
    return "openai"


def error_shape_problem(fmt: str, status: int, body: bytes) -> str | None:
    """Why `body` is not an error in format `fmt` with a non-empty message (None when it is)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return f"error body is not JSON: {body[:200]!r}"
    if not isinstance(doc, dict) or not isinstance(doc.get("error"), dict):
        return f"no error object: {body[:200]!r}"
    err = doc["error"]
    message = err.get("message")
    if not isinstance(message, str) or not message.strip():
        return f"no error message: {body[:200]!r}"
    if fmt in ("openai", "responses"):
        if not isinstance(err.get("type"), str) or "type" in doc:
            return f"not an OpenAI error: {body[:200]!r}"
    elif fmt == "anthropic":
        if doc.get("type") != "error" or not isinstance(err.get("type"), str):
            return f"not an Anthropic error: {body[:200]!r}"
    elif fmt == "gemini" and (err.get("code") != status or not isinstance(err.get("status"), str)):
        return f"not a Gemini error (code must be {status}): {body[:200]!r}"
    return None


def leak_problem(body: bytes, headers: Iterable[tuple[str, str]], secrets: Sequence[str]) -> str | None:
    """Why the answer leaks a stack trace or a secret (None when it does not)."""
    text = body.decode("utf-8", "replace")
    head = "\n".join(f"{k}: {v}" for k, v in headers)
    for where, blob in (("body", text), ("headers", head)):
        for marker in TRACE_MARKERS:
            if marker in blob:
                return f"stack trace marker {marker!r} in the {where}: {blob[:300]!r}"
        for secret in secrets:
            if secret and secret in blob:
                return f"a secret ({secret[:4]}...) in the {where}"
    return None


# Raw HTTP ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def raw_exchange(port: int, request: bytes, *, timeout: float = 5.0, head: bool = False) -> RawAnswer | None:
    """Sends `request` as is to 127.0.0.1:`port` and reads one HTTP/1.1 answer (headers only
    when `head`); None when the server closed the connection (or said nothing within `timeout`)
    without answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # the server may answer and close before reading it all
            sock.sendall(request)
        data = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                answer = _parse_answer(data, head=head)
                if answer is not None:
                    return answer
        except OSError:
            pass
    return _parse_answer(data, final=True, head=head)


def _parse_answer(data: bytes, *, final: bool = False, head: bool = False) -> RawAnswer | None:
    top, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = top.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
    names = dict(headers)
    if head:
        return RawAnswer(int(parts[1]), headers, b"")
    if "content-length" in names:
        size = int(names["content-length"])
        if len(rest) < size:
            return None
        return RawAnswer(int(parts[1]), headers, rest[:size])
    if names.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(rest)
        if body is None:
            return None
        return RawAnswer(int(parts[1]), headers, body)
    if not final:
        return None
    return RawAnswer(int(parts[1]), headers, rest)


def _dechunk(data: bytes) -> bytes | None:
    out = b""
    while True:
        line, sep, data = data.partition(b"\r\n")
        if not sep:
            return None
        size = int(line.split(b";")[0] or b"0", 16)
        if size == 0:
            return out
        if len(data) < size + 2:
            return None
        out += data[:size]
        data = data[size + 2 :]


def http_request(
    method: str, target: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
) -> bytes:
    """One HTTP/1.1 request as bytes, written exactly as given (no normalisation)."""
    lines = [f"{method} {target} HTTP/1.1", "host: 127.0.0.1", "connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


# Server log --------------------------------------------------------------------------------------


class LogWatcher:
    """Reads what the gateway logged since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def skip(self) -> None:
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def new_text(self) -> str:
        if not self.path.exists():
            return ""
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        return data.decode("utf-8", "replace")
