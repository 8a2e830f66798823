"""Request log: capture (redaction of every secret form, truncation, the client and upstream hooks),
the batched writer, `/api/logs` queries with cursors, retention, the entry and the access line,
and the `[logging]` settings."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from omniroute.config_file import parse_config
from omniroute.errors import ConfigError
from omniroute.http.request import Request
from omniroute.observability import logging as obs_logging
from omniroute.observability.capture import (
    ADMIN_TOKEN_HEADER,
    REDACTED,
    Capture,
    CapturingUpstreamResponse,
    Redactor,
    capture_requested,
    known_secrets,
    start_client_capture,
)
from omniroute.observability.logging import JsonFormatter, log_access
from omniroute.observability.request_log import CallTrace, RequestLog
from omniroute.observability.timing import RequestTiming, TimedProtocol
from omniroute.providers.registry import BY_NAME
from omniroute.routing.catalog import Account, Catalog
from omniroute.security.api_keys import hash_key
from omniroute.settings import Settings, build_settings
from omniroute.store.db import DB_FILE, connect, open_database
from omniroute.store.records import UsageRecord
from omniroute.store.request_log_repo import (
    LogQuery,
    RequestLogEntry,
    RequestLogRepository,
    RequestLogWriter,
    decode_cursor,
    encode_cursor,
    purge_expired_logs,
)
from omniroute.upstream.client import UpstreamResponse
from omniroute.upstream.h1 import H1Response

UPSTREAM_KEY = "sk-upstream-secret-0123456789"
INFERENCE_KEY = "sk-inference-key-abcdef0123456789"
GENERATED_KEY = "sk-omr-abcdefghij12-" + "A1b2C3d4E5f6G7h8I9j0K1l2" + "Zz9Yy8Xx"
ADMIN_TOKEN = "admin-token-0123456789"
REDACT = Redactor([UPSTREAM_KEY, INFERENCE_KEY])


# Redaction ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Authorization", f"Bearer {INFERENCE_KEY}", f"Bearer {REDACTED}"),
        ("authorization", f"bearer {UPSTREAM_KEY}", f"bearer {REDACTED}"),
        ("authorization", UPSTREAM_KEY, REDACTED),
        ("Proxy-Authorization", "Basic dXNlcjpwYXNz", f"Basic {REDACTED}"),
        ("x-api-key", UPSTREAM_KEY, REDACTED),
        ("X-Goog-Api-Key", "AIzaSyShortButSecret", REDACTED),
        (ADMIN_TOKEN_HEADER, ADMIN_TOKEN, REDACTED),
        ("cookie", "omniroute_session=abc", REDACTED),
        ("set-cookie", "omniroute_session=abc; HttpOnly", REDACTED),
    ],
)
def test_secret_headers_are_redacted_by_name(name: str, value: str, expected: str) -> None:
    assert REDACT.headers([(name, value)]) == {name.lower(): expected}


def test_known_secret_text_in_any_other_header_is_redacted() -> None:
    headers = REDACT.headers([("x-forwarded-key", f"k={UPSTREAM_KEY}"), ("content-type", "application/json")])
    assert headers == {"x-forwarded-key": f"k={REDACTED}", "content-type": "application/json"}


@pytest.mark.parametrize("param", ["key", "api_key", "API_KEY", "apikey", "access_token", "token"])
def test_secret_query_parameters_are_redacted(param: str) -> None:
    url = Redactor().url(f"/v1beta/models/gemini:generateContent?alt=sse&{param}=AIzaSy-anything")
    assert "AIzaSy-anything" not in url
    assert f"{param}={REDACTED}" in url and "alt=sse" in url


def test_known_secret_in_a_url_path_is_redacted() -> None:
    assert REDACT.url(f"https://host/{UPSTREAM_KEY}/v1") == f"https://host/{REDACTED}/v1"


def test_upstream_inference_and_generated_keys_in_bodies_are_redacted() -> None:
    body = json.dumps(
        {"messages": [{"content": f"a {UPSTREAM_KEY} b {INFERENCE_KEY} c {GENERATED_KEY} d"}]}
    ).encode()
    text, truncated = REDACT.body(body, 10_000)
    assert not truncated
    for secret in (UPSTREAM_KEY, INFERENCE_KEY, GENERATED_KEY):
        assert secret not in text
    assert text.count(REDACTED) == 3
    assert json.loads(text)["messages"][0]["content"] == f"a {REDACTED} b {REDACTED} c {REDACTED} d"


def test_the_longest_secret_wins_when_one_contains_another() -> None:
    short = "sk-secret-12345"
    long = "sk-secret-12345-and-more"
    text, _ = Redactor([short, long]).body(f"x {long} y".encode(), 1000)
    assert text == f"x {REDACTED} y"


def test_other_stored_inference_keys_are_recognised_by_their_digest() -> None:
    other = "sk-someone-elses-key-0123456789"
    redactor = Redactor([], {hash_key(other), hash_key("unrelated")})
    text, _ = redactor.body(f'{{"content": "{other} and sk-not-a-stored-key-0123456789"}}'.encode(), 1000)
    assert text == f'{{"content": "{REDACTED} and sk-not-a-stored-key-0123456789"}}'
    assert redactor.url(f"/x?alt=sse&q={other}") == f"/x?alt=sse&q={REDACTED}"


def test_short_strings_are_not_treated_as_secrets() -> None:
    capture = Capture(1000)
    capture.client_request.body.add(b'{"model": "abc"}')
    rendered = capture.render(["abc", ""])
    assert rendered["client_request"]["body"] == '{"model": "abc"}'


def test_truncation_keeps_max_bytes_and_reports_the_full_size() -> None:
    capture = Capture(300)
    for _ in range(10):
        capture.upstream_response.body.add(b"x" * 100)
    capture.upstream_response.status = 200
    part = capture.render([])["upstream_response"]
    assert part["body"] == "x" * 300
    assert part["bytes"] == 1000 and part["truncated"] is True


def test_a_secret_straddling_the_cut_is_redacted_before_cutting() -> None:
    capture = Capture(300)
    capture.client_request.body.add(b"y" * 290 + UPSTREAM_KEY.encode() + b"z" * 50)
    part = capture.render([UPSTREAM_KEY])["client_request"]
    assert UPSTREAM_KEY[:10] not in part["body"]
    assert part["body"] == "y" * 290 + REDACTED
    assert part["truncated"] is True


def test_a_secret_split_across_stream_chunks_is_redacted() -> None:
    capture = Capture(1000)
    capture.upstream_response.status = 200
    capture.upstream_response.body.add(b"data: " + UPSTREAM_KEY[:9].encode())
    capture.upstream_response.body.add(UPSTREAM_KEY[9:].encode() + b"\n\n")
    assert capture.render([UPSTREAM_KEY])["upstream_response"]["body"] == f"data: {REDACTED}\n\n"


def test_truncation_inside_a_multibyte_character_stays_valid_text() -> None:
    text, truncated = Redactor().body("é".encode() * 10, 5)
    assert truncated and text.startswith("éé") and len(text.encode()) <= 8


def test_every_part_is_bounded_separately() -> None:
    capture = Capture(256)
    capture.client_request.body.add(b"a" * 1000)
    capture.note_upstream_request("POST", "http://u/v1/chat", {"authorization": "Bearer x"}, b"b" * 1000)
    capture.upstream_response.status = 200
    capture.upstream_response.body.add(b"c" * 1000)
    capture.client_response.status = 200
    capture.client_response.body.add(b"d" * 1000)
    rendered = capture.render([])
    for name in ("client_request", "upstream_request", "upstream_response", "client_response"):
        assert len(rendered[name]["body"]) == 256 and rendered[name]["truncated"], name
        assert rendered[name]["bytes"] == 1000
    assert rendered["upstream_request"]["headers"]["authorization"] == f"Bearer {REDACTED}"


def test_a_retried_attempt_replaces_the_previous_upstream_parts() -> None:
    capture = Capture(1000)
    capture.note_upstream_request("POST", "http://first/v1", {}, b"first")
    capture.upstream_response.status = 503
    capture.note_upstream_request("POST", "http://second/v1", {}, b"second")
    rendered = capture.render([])
    assert rendered["upstream_request"]["url"] == "http://second/v1"
    assert rendered["upstream_request"]["body"] == "second"
    assert rendered["upstream_response"] is None  # the second attempt's answer never came


# The capture decision ---------------------------------------------------------------------------
class FakeProtocol:
    def __init__(self, body: bytes = b"", chunks: tuple[bytes, ...] = ()) -> None:
        self.body = body
        self.chunks = chunks
        self.answers: list[tuple[str, int, list[tuple[str, str]], Any]] = []
        self.sent: list[bytes] = []

    async def __call__(self) -> bytes:
        return self.body

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk

    async def client_disconnect(self) -> None:
        await asyncio.sleep(3600)

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.answers.append(("bytes", status, headers, body))

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> Any:
        self.answers.append(("stream", status, headers, None))
        sent = self.sent

        class Transport:
            async def send_bytes(self, data: bytes) -> None:
                sent.append(data)

        return Transport()


def make_request(
    headers: dict[str, str], *, path: str = "/v1/chat/completions", query: str = "", protocol: Any = None
) -> Request:
    scope = SimpleNamespace(method="POST", path=path, query_string=query, headers=headers, client="127.0.0.1")
    return Request(scope, protocol or FakeProtocol())


@pytest.mark.parametrize(
    ("headers", "token", "expected"),
    [
        ({"x-omniroute-capture": "1", ADMIN_TOKEN_HEADER: ADMIN_TOKEN}, ADMIN_TOKEN, True),
        ({"x-omniroute-capture": "true", ADMIN_TOKEN_HEADER: ADMIN_TOKEN}, ADMIN_TOKEN, True),
        ({"x-omniroute-capture": "1"}, ADMIN_TOKEN, False),
        ({"x-omniroute-capture": "1", ADMIN_TOKEN_HEADER: "wrong-token"}, ADMIN_TOKEN, False),
        ({"x-omniroute-capture": "1", "authorization": f"Bearer {INFERENCE_KEY}"}, ADMIN_TOKEN, False),
        ({"x-omniroute-capture": "0", ADMIN_TOKEN_HEADER: ADMIN_TOKEN}, ADMIN_TOKEN, False),
        ({"x-omniroute-capture": "1", ADMIN_TOKEN_HEADER: ADMIN_TOKEN}, None, False),
    ],
)
def test_capture_header_counts_only_with_the_admin_token(
    headers: dict[str, str], token: str | None, expected: bool
) -> None:
    assert capture_requested(make_request(headers), token) is expected


def test_request_log_traces_without_capture_by_default(tmp_path: Path) -> None:
    log = RequestLog(Settings(data_dir=str(tmp_path)), tmp_path / DB_FILE)
    req = make_request({"x-omniroute-capture": "1"})
    protocol = req.protocol
    trace = log.trace(req)
    assert trace.capture is None and req.protocol is protocol and req.extra_headers == []


def test_request_log_captures_every_call_when_configured(tmp_path: Path) -> None:
    settings = build_settings(
        flags={"data_dir": str(tmp_path)}, environ={}, sections={"logging": {"capture": True}}
    )
    log = RequestLog(settings, tmp_path / DB_FILE)
    req = make_request({})
    trace = log.trace(req)
    assert trace.capture is not None
    assert ("x-omniroute-capture", "stored") in req.extra_headers


def test_capture_needs_the_request_log(tmp_path: Path) -> None:
    settings = build_settings(
        flags={"data_dir": str(tmp_path)},
        environ={},
        sections={"logging": {"capture": True, "request_log": False}},
    )
    assert RequestLog(settings, tmp_path / DB_FILE).trace(make_request({})).capture is None


# Client and upstream hooks ---------------------------------------------------------------------------
def test_client_capture_keeps_request_and_answer_bodies() -> None:
    protocol = FakeProtocol(body=b'{"q": 1}')
    req = make_request(
        {"content-length": "8", "x-api-key": INFERENCE_KEY}, protocol=protocol, query="key=zzz"
    )
    capture = Capture(1000)
    start_client_capture(req, capture)

    async def run() -> None:
        assert await req.read_body(1000) == b'{"q": 1}'
        req.respond(200, b'{"a": 2}')

    asyncio.run(run())
    assert protocol.answers[0][3] == b'{"a": 2}'
    rendered = capture.render([INFERENCE_KEY])
    assert rendered["client_request"]["url"] == f"/v1/chat/completions?key={REDACTED}"
    assert rendered["client_request"]["headers"]["x-api-key"] == REDACTED
    assert rendered["client_request"]["body"] == '{"q": 1}'
    assert rendered["client_response"]["status"] == 200
    assert rendered["client_response"]["body"] == '{"a": 2}'


def test_client_capture_keeps_chunked_request_bodies_and_streamed_answers() -> None:
    protocol = FakeProtocol(chunks=(b'{"q"', b": 1}"))
    req = make_request({}, protocol=protocol)
    capture = Capture(1000)
    start_client_capture(req, capture)

    async def run() -> None:
        assert await req.read_body(1000) == b'{"q": 1}'
        transport = req.start_stream(200, [])
        await transport.send_bytes(b"data: one\n\n")
        await transport.send_bytes(b"data: two\n\n")

    asyncio.run(run())
    assert protocol.sent == [b"data: one\n\n", b"data: two\n\n"]
    rendered = capture.render([])
    assert rendered["client_request"]["body"] == '{"q": 1}'
    assert rendered["client_response"]["body"] == "data: one\n\ndata: two\n\n"
    assert rendered["client_response"]["headers"]["content-type"].startswith("text/event-stream")


def upstream_response(chunks: list[bytes], content_type: str) -> UpstreamResponse:
    """A real upstream response whose whole body already arrived, in `chunks`."""
    resp = H1Response(None, 200, {"content-type": content_type})
    for chunk in chunks:
        resp._feed(chunk)
    resp._finish()
    return UpstreamResponse(resp, idle_timeout=1.0)


def test_upstream_capture_keeps_raw_stream_bytes_and_bodies() -> None:
    capture = Capture(1000)
    capture.note_upstream_request("POST", "http://u/v1/messages", {"x-api-key": UPSTREAM_KEY}, b"{}")
    resp = capture.note_upstream_response(
        upstream_response([b"event: a\n", b"data: {}\n\n"], "text/event-stream")
    )
    assert isinstance(resp, CapturingUpstreamResponse)

    async def run() -> list[bytes]:
        return [chunk async for chunk in resp.chunks()]

    # Chunks already buffered come out together.
    assert asyncio.run(run()) == [b"event: a\ndata: {}\n\n"]
    rendered = capture.render([UPSTREAM_KEY])
    assert rendered["upstream_response"] == {
        "status": 200,
        "headers": {"content-type": "text/event-stream"},
        "body": "event: a\ndata: {}\n\n",
        "bytes": 19,
        "truncated": False,
    }
    assert rendered["upstream_request"]["headers"]["x-api-key"] == REDACTED
    capture.note_upstream_request("POST", "http://u/v1/messages", {}, b"{}")
    whole = capture.note_upstream_response(upstream_response([b'{"ok": 1}'], "application/json"))
    assert asyncio.run(whole.read(timeout=1)) == b'{"ok": 1}'
    assert capture.render([])["upstream_response"]["body"] == '{"ok": 1}'


def test_known_secrets_cover_accounts_the_presented_key_and_gateway_secrets() -> None:
    spec = BY_NAME["openai"]
    account = Account(
        connection_id=1,
        name="main",
        provider=spec,
        base_url="http://u",
        api_key=UPSTREAM_KEY,
        priority=1,
        models=(),
    )
    catalog = Catalog(accounts={"openai": (account,)}, providers={"openai": spec}, keys={})
    settings = Settings(admin_token=ADMIN_TOKEN, api_key_secret="hmac-secret-0123456789")
    req = make_request({}, path="/v1beta/models/x:generateContent", query=f"key={INFERENCE_KEY}")
    found = known_secrets(req, catalog, settings)
    assert {UPSTREAM_KEY, INFERENCE_KEY, ADMIN_TOKEN, "hmac-secret-0123456789"} <= set(found)
    bearer = make_request({"authorization": f"Bearer {INFERENCE_KEY}"})
    assert INFERENCE_KEY in known_secrets(bearer, catalog, Settings())


# Trace and entry --------------------------------------------------------------------------------------
def usage_record(**overrides: Any) -> UsageRecord:
    fields: dict[str, Any] = {
        "ts": 1_700_000_000.0,
        "request_id": "req_1",
        "api_key_id": "key_1",
        "route": "/v1/chat/completions",
        "client_dialect": "openai",
        "provider": "anthropic",
        "connection_id": 3,
        "requested_model": "combo-a",
        "model": "claude-sonnet-4-5",
        "stream": True,
        "status": 200,
        "outcome": "success",
        "latency_ms": 120.0,
        "ttft_ms": 80.0,
        "input_tokens": 10,
        "output_tokens": 20,
        "cached_tokens": 3,
        "cache_creation_tokens": 2,
        "reasoning_tokens": 5,
        "attempts": 2,
        "combo": "combo-a",
        "cost_usd": 0.25,
    }
    fields.update(overrides)
    return UsageRecord(**fields)


def test_trace_notes_each_attempt_and_the_answering_upstream() -> None:
    trace = CallTrace(time.perf_counter())
    trace.begin_attempt("openai", "gpt-4o", "main", "openai")
    trace.first_byte(503)
    trace.end_attempt("upstream said 503")
    trace.begin_attempt("xai", "grok-4", "x", "openai")
    trace.end_attempt("connection refused")  # no answer at all
    trace.begin_attempt("anthropic", "claude-sonnet-4-5", "claude", "anthropic")
    trace.first_byte(200)
    trace.end_attempt()
    assert [(a["provider"], a["status"], a.get("error")) for a in trace.attempt_log] == [
        ("openai", 503, "upstream said 503"),
        ("xai", None, "connection refused"),
        ("anthropic", 200, None),
    ]
    assert (trace.upstream_dialect, trace.account) == ("anthropic", "claude")
    assert trace.ttfb_ms is not None and all(a["ms"] >= 0 for a in trace.attempt_log)


def test_finish_builds_the_entry_with_phases_and_queues_nothing_when_disabled(tmp_path: Path) -> None:
    settings = build_settings(
        flags={"data_dir": str(tmp_path)}, environ={}, sections={"logging": {"request_log": False}}
    )
    log = RequestLog(settings, tmp_path / DB_FILE)
    trace = CallTrace(time.perf_counter())
    trace.begin_attempt("anthropic", "claude-sonnet-4-5", "claude", "anthropic")
    trace.first_byte(200)
    trace.end_attempt()
    catalog = Catalog(accounts={}, providers={}, keys={})
    req = make_request({})
    # Upstream wait is the metrics' per-request timing (one measurement for both).
    timing = RequestTiming(req.path, req.started)
    timing.upstream_wait = 0.1
    req.protocol = TimedProtocol(req.protocol, timing, None)  # type: ignore[arg-type]
    entry = log.finish(req, usage_record(), trace, catalog)
    assert log.writer is None
    assert (entry.upstream_ms, entry.overhead_ms) == (100.0, 20.0)
    assert (entry.upstream_dialect, entry.account, entry.method) == ("anthropic", "claude", "POST")
    assert (entry.attempts, entry.combo, entry.cost_usd, entry.capture) == (2, "combo-a", 0.25, None)
    refused = log.finish(make_request({}), usage_record(provider=None, status=401), None, catalog)
    assert (refused.attempts, refused.upstream_ms, refused.overhead_ms) == (0, 0.0, 120.0)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def access_records(level: int, entry: RequestLogEntry) -> list[logging.LogRecord]:
    access = logging.getLogger("omniroute.access")
    collect = Collect()
    previous = access.level
    access.addHandler(collect)
    access.setLevel(level)
    try:
        log_access(entry)
    finally:
        access.removeHandler(collect)
        access.setLevel(previous)
    return collect.records


def test_access_line_is_one_json_object_with_the_entry_fields() -> None:
    entry = entry_at(5.0, attempt_log=[{"provider": "openai"}, {"provider": "anthropic"}], error="boom")
    (record,) = access_records(logging.INFO, entry)
    line = json.loads(JsonFormatter().format(record))
    for name in RequestLogEntry.__struct_fields__:
        if name not in ("capture", "ts"):
            assert name in line, name
    assert line["logger"] == "omniroute.access" and line["msg"] == "request"
    assert line["error"] == "boom" and len(line["attempt_log"]) == 2
    assert "capture" not in line


def test_access_line_is_skipped_above_info() -> None:
    assert access_records(logging.WARNING, entry_at(1.0)) == []


def test_access_line_fast_path_writes_the_same_line_as_the_logging_path() -> None:
    """With only the gateway's handler installed, the line skips logging's record machinery;
    it must be the line the logging path writes, and go through logging when a handler is added."""
    entry = entry_at(7.0, attempt_log=[{"provider": "openai"}, {"provider": "anthropic"}], error="boom")
    (record,) = access_records(logging.INFO, entry)
    expected = json.loads(JsonFormatter().format(record))
    root = logging.getLogger("omniroute")
    saved = (root.handlers[:], root.level, root.propagate, obs_logging._deferred)
    root.handlers.clear()
    try:
        obs_logging.configure_logging("info")
        handler = obs_logging._deferred
        assert handler is not None
        out = io.StringIO()
        handler.stream = out
        log_access(entry)
        handler.flush()
        line = json.loads(out.getvalue())
        assert line.pop("ts") == pytest.approx(time.time(), abs=5)
        expected.pop("ts")
        assert line == expected
        # A handler on the access logger (as here) takes the logging path, and still gets the line.
        assert len(access_records(logging.INFO, entry)) == 1
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        root.propagate = saved[2]
        obs_logging._deferred = saved[3]


# Writer, queries, retention ----------------------------------------------------------------------------
def entry_at(ts: float, **overrides: Any) -> RequestLogEntry:
    fields: dict[str, Any] = {
        "ts": ts,
        "request_id": f"req_{ts:g}",
        "method": "POST",
        "route": "/v1/chat/completions",
        "client_dialect": "openai",
        "upstream_dialect": "openai",
        "provider": "openai",
        "account": "main",
        "model": "gpt-4o",
        "requested_model": "openai/gpt-4o",
        "status": 200,
        "outcome": "success",
        "latency_ms": 10.0,
        "attempts": 1,
    }
    fields.update(overrides)
    return RequestLogEntry(**fields)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    open_database(tmp_path).close()
    return tmp_path / DB_FILE


def write(db_path: Path, entries: list[RequestLogEntry]) -> RequestLogWriter:
    writer = RequestLogWriter(db_path, interval=0.01)
    writer.start()
    for entry in entries:
        assert writer.put(entry)
    writer.close()
    return writer


def query(db_path: Path, **filters: Any) -> tuple[list[dict[str, Any]], str | None]:
    conn = connect(db_path, readonly=True)
    try:
        return RequestLogRepository(conn).list(LogQuery(**filters))
    finally:
        conn.close()


def test_writer_stores_every_field_and_the_capture(db_path: Path) -> None:
    capture = {"client_request": {"body": "{}"}, "max_bytes": 10}
    entry = entry_at(
        100.0,
        api_key_id="key_a",
        combo="c",
        stream=True,
        ttfb_ms=3.0,
        ttft_ms=4.0,
        upstream_ms=6.0,
        overhead_ms=4.0,
        input_tokens=1,
        output_tokens=2,
        cached_tokens=3,
        cache_creation_tokens=4,
        reasoning_tokens=5,
        cost_usd=0.5,
        attempt_log=[{"provider": "openai", "status": 200}],
        capture=capture,
    )
    writer = write(db_path, [entry, entry_at(101.0)])
    assert (writer.written, writer.dropped) == (2, 0)
    rows, cursor = query(db_path)
    assert cursor is None and [r["request_id"] for r in rows] == ["req_101", "req_100"]
    stored = rows[1]
    expected = msgspec.to_builtins(entry)
    del expected["capture"]
    assert {k: stored[k] for k in expected} == expected
    assert stored["has_capture"] is True and rows[0]["has_capture"] is False
    conn = connect(db_path, readonly=True)
    try:
        detail = RequestLogRepository(conn).get("req_100")
        assert RequestLogRepository(conn).get("req_nope") is None
        plain = RequestLogRepository(conn).get("req_101")
    finally:
        conn.close()
    assert detail is not None and detail["capture"] == capture
    assert plain is not None and plain["capture"] is None and plain["has_capture"] is False


def test_writer_drops_and_counts_when_its_queue_is_full(db_path: Path) -> None:
    writer = RequestLogWriter(db_path, max_queue=2)
    assert writer.put(entry_at(1.0)) and writer.put(entry_at(2.0))
    assert not writer.put(entry_at(3.0))
    assert writer.dropped == 1


def test_captures_are_shed_while_the_writer_is_backlogged(db_path: Path) -> None:
    writer = RequestLogWriter(db_path, capture_backlog=2)  # not started: the queue only grows
    for i in range(4):
        assert writer.put(entry_at(float(i), capture={"max_bytes": 1}))
    assert writer.captures_dropped == 2
    writer.start()
    writer.close()
    rows, _ = query(db_path)
    assert [r["has_capture"] for r in rows] == [False, False, True, True]


def test_filters_select_the_right_rows(db_path: Path) -> None:
    write(
        db_path,
        [
            entry_at(1.0, status=200),
            entry_at(2.0, status=429, outcome="error", provider="anthropic", model="claude-x"),
            entry_at(3.0, status=502, outcome="error", api_key_id="key_b"),
            entry_at(4.0, status=200, provider="anthropic", model="claude-x", api_key_id="key_b"),
            entry_at(5.0, status=200, requested_model="combo-a", model="gpt-4o-mini"),
        ],
    )

    def ids(**filters: Any) -> list[str]:
        return [r["request_id"] for r in query(db_path, **filters)[0]]

    assert ids() == ["req_5", "req_4", "req_3", "req_2", "req_1"]
    assert ids(status=200) == ["req_5", "req_4", "req_1"]
    assert ids(status_class=4) == ["req_2"]
    assert ids(status_class=5) == ["req_3"]
    assert ids(outcome="error") == ["req_3", "req_2"]
    assert ids(provider="anthropic") == ["req_4", "req_2"]
    assert ids(model="claude-x") == ["req_4", "req_2"]
    assert ids(model="combo-a") == ["req_5"]
    assert ids(api_key_id="key_b") == ["req_4", "req_3"]
    assert ids(since=2.0, until=4.0) == ["req_3", "req_2"]
    assert ids(provider="anthropic", status=200) == ["req_4"]


def test_cursor_pages_through_everything_once_even_with_equal_timestamps(db_path: Path) -> None:
    write(db_path, [entry_at(float(i // 3), request_id=f"r{i}") for i in range(10)])
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        rows, cursor = query(db_path, limit=4, after=after)
        seen += [r["request_id"] for r in rows]
        pages += 1
        if cursor is None:
            break
        after = decode_cursor(cursor)
    assert pages == 3
    assert sorted(seen) == sorted(f"r{i}" for i in range(10)) and len(seen) == 10
    everything, _ = query(db_path, limit=500)
    assert [r["request_id"] for r in everything] == seen


def test_cursor_round_trips_and_rejects_garbage() -> None:
    assert decode_cursor(encode_cursor(1700000000.123456, 42)) == (1700000000.123456, 42)
    assert decode_cursor("nonsense") is None


def test_retention_deletes_rows_older_than_the_window_only(db_path: Path) -> None:
    now = 1_800_000_000.0
    day = 86400.0
    write(
        db_path,
        [
            entry_at(now - 40 * day, request_id="old", capture={"max_bytes": 1}),
            entry_at(now - 31 * day, request_id="older-than-30"),
            entry_at(now - 29 * day, request_id="recent"),
            entry_at(now, request_id="now"),
        ],
    )
    assert purge_expired_logs(db_path.parent, 0, now=now) == 0  # 0 = keep forever
    assert purge_expired_logs(db_path.parent, 30, now=now) == 2
    assert [r["request_id"] for r in query(db_path)[0]] == ["now", "recent"]
    assert purge_expired_logs(db_path.parent, 30, now=now) == 0


def test_retention_runs_in_chunks(db_path: Path) -> None:
    write(db_path, [entry_at(float(i)) for i in range(25)])
    conn = connect(db_path)
    try:
        assert RequestLogRepository(conn).purge(20.0, chunk=7) == 20
    finally:
        conn.close()
    assert len(query(db_path)[0]) == 5


# Settings --------------------------------------------------------------------------------------------
def test_logging_section_of_the_config_file_reaches_settings() -> None:
    config = parse_config(
        Path("c.toml"),
        "[logging]\nrequest_log = false\nretention_days = 7\ncapture = true\ncapture_max_bytes = 1024\n",
    )
    settings = build_settings(flags={}, environ={}, sections=config.settings_sections())
    assert (
        settings.logging.request_log,
        settings.logging.retention_days,
        settings.logging.capture,
        settings.logging.capture_max_bytes,
    ) == (False, 7, True, 1024)
    assert Settings().logging.request_log is True and Settings().logging.capture is False
    assert (Settings().logging.retention_days, Settings().logging.capture_max_bytes) == (30, 65536)


@pytest.mark.parametrize("section", [{"retention_days": -1}, {"capture_max_bytes": 10}])
def test_bad_logging_settings_are_refused(section: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match="logging"):
        build_settings(flags={}, environ={}, sections={"logging": section})


def test_unknown_logging_key_names_its_line() -> None:
    with pytest.raises(ConfigError, match=r"c.toml:2: logging.capture_bytes: unknown key"):
        parse_config(Path("c.toml"), "[logging]\ncapture_bytes = 5\n")


@pytest.mark.parametrize(
    ("environ", "flags"), [({"LOG_LEVEL": "WARNING"}, {}), ({}, {"log_level": "warning"})]
)
def test_log_level_comes_from_the_environment_or_the_flag(
    environ: dict[str, str], flags: dict[str, str]
) -> None:
    assert build_settings(flags=flags, environ=environ).log_level == "warning"
