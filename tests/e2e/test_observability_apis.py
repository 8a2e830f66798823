"""Request log, capture, telemetry, health and the JSON access line of a real gateway process.

One gateway (module scope) with inbound keys, an admin token, an OpenAI and an Anthropic account
on the mock, and a fallback combo. One burst of traffic through the official openai and anthropic
SDKs (success, stream, upstream errors, a fallback, captured and uncaptured calls, each with its
own `x-request-id`) feeds every test. Retention and the log level get their own gateways.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

import omniroute
from omniroute.observability.capture import REDACTED
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess

OPENAI_UPSTREAM_KEY = "sk-obs-openai-upstream-0123456789"
ANTHROPIC_UPSTREAM_KEY = "sk-ant-obs-upstream-0123456789"
ALPHA_KEY = "sk-obs-alpha-inference-0123456789"
BETA_KEY = "sk-obs-beta-inference-0123456789"
ADMIN_TOKEN = "obs-admin-token-0123456789"
SECRETS = (OPENAI_UPSTREAM_KEY, ANTHROPIC_UPSTREAM_KEY, ALPHA_KEY, BETA_KEY, ADMIN_TOKEN)
CAPTURE_MAX = 2048
CAPTURE = {"x-omniroute-capture": "1", "x-omniroute-admin-token": ADMIN_TOKEN}
OPENAI_MODEL = "openai/gpt-4o"
CLAUDE_MODEL = "anthropic/claude-sonnet-4-5"
#: A prompt that quotes every secret, so captured bodies prove redaction; long enough to be cut.
LEAKY_PROMPT = "my keys: " + " ".join(SECRETS) + " " + "padding " * 400


def observability_config(mock: MockProvider, extra: str = "") -> str:
    root = f"http://127.0.0.1:{mock.port}"
    return f"""
[server]
require_api_key = true

[routing]
max_retries = 0

[logging]
capture_max_bytes = {CAPTURE_MAX}

[[connections]]
provider = "openai"
name = "main"
api_key = "{OPENAI_UPSTREAM_KEY}"
base_url = "{root}/v1"

[[connections]]
provider = "anthropic"
name = "claude"
api_key = "{ANTHROPIC_UPSTREAM_KEY}"
base_url = "{root}/v1"

[[api_keys]]
name = "alpha"
key = "{ALPHA_KEY}"

[[api_keys]]
name = "beta"
key = "{BETA_KEY}"

[[combos]]
name = "obs-fallback"
models = ["{OPENAI_MODEL}", "{CLAUDE_MODEL}"]
{extra}
"""


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("observability")
    env = {"OMNIROUTE_ADMIN_TOKEN": ADMIN_TOKEN}
    with GatewayProcess(base / "data", observability_config(mock), env=env) as proc:
        yield proc


def oai(gw: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=20)


def claude(gw: GatewayProcess, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0, timeout=20)


def admin_get(gw: GatewayProcess, path: str, **params: Any) -> Any:
    resp = httpx.get(f"{gw.url}{path}", params=params, headers=gw.admin_headers(), timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def wait_for(condition: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


MESSAGES: Any = [{"role": "user", "content": "hello"}]


def rid(name: str) -> dict[str, str]:
    return {"x-request-id": f"obs-{name}"}


class Traffic:
    """What the module's burst of calls did, for the tests to compare the log against."""

    def __init__(self) -> None:
        self.started = time.time()
        self.between = 0.0
        self.ended = 0.0
        self.headers: dict[str, dict[str, str]] = {}


@pytest.fixture(scope="module")
def traffic(gw: GatewayProcess, mock: MockProvider) -> Traffic:
    done = Traffic()
    alpha, beta = oai(gw, ALPHA_KEY), oai(gw, BETA_KEY)
    # 1. OpenAI SDK, non-stream success, captured (the prompt quotes every secret).
    raw = alpha.chat.completions.with_raw_response.create(
        model=OPENAI_MODEL,
        messages=[{"role": "user", "content": LEAKY_PROMPT}],
        extra_headers={**rid("oai-ok"), **CAPTURE},
        extra_body={"mock": {"usage": {"prompt_tokens": 100, "completion_tokens": 50, "cached_tokens": 20}}},
    )
    done.headers["oai-ok"] = dict(raw.headers)
    assert raw.parse().choices[0].message.content
    # 2. OpenAI SDK, stream success, not captured.
    stream = alpha.chat.completions.create(
        model=OPENAI_MODEL,
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers=rid("oai-stream"),
        extra_body={"mock": {"chunks": 3, "chunk_delay_ms": 20}},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    # 3. Anthropic SDK, non-stream success (key beta).
    message = claude(gw, BETA_KEY).messages.create(
        model=CLAUDE_MODEL, max_tokens=64, messages=MESSAGES, extra_headers=rid("claude-ok")
    )
    assert message.content
    time.sleep(0.05)
    done.between = time.time()
    time.sleep(0.05)
    # 4. Anthropic SDK, stream success, captured (the raw upstream SSE and the client's SSE).
    with claude(gw, BETA_KEY).messages.stream(
        model=CLAUDE_MODEL,
        max_tokens=64,
        messages=[{"role": "user", "content": f"stream please {BETA_KEY}"}],
        extra_headers={**rid("claude-stream"), **CAPTURE},
    ) as s:
        assert s.get_final_message().content
    # 5. OpenAI SDK, upstream 400 (key beta), captured.
    with pytest.raises(openai.BadRequestError):
        beta.chat.completions.create(
            model=OPENAI_MODEL,
            messages=MESSAGES,
            extra_headers={**rid("oai-400"), **CAPTURE},
            extra_body={"mock": {"status": 400, "error_message": "bad things"}},
        )
    # 6. Anthropic SDK, upstream 400 (key alpha).
    with pytest.raises(anthropic.BadRequestError):
        claude(gw, ALPHA_KEY).messages.create(
            model=CLAUDE_MODEL,
            max_tokens=64,
            messages=MESSAGES,
            extra_headers=rid("claude-400"),
            extra_body={"mock": {"status": 400}},
        )
    # 7. Capture asked for without the admin token: not captured.
    alpha.chat.completions.create(
        model=OPENAI_MODEL,
        messages=MESSAGES,
        extra_headers={**rid("no-token"), "x-omniroute-capture": "1", "x-omniroute-admin-token": "guess"},
    )
    # 8. Fallback through the combo: OpenAI answers 503, Anthropic answers (captured).
    mock.enqueue({"status": 503, "error_message": "overloaded upstream"})
    raw = alpha.chat.completions.with_raw_response.create(
        model="obs-fallback", messages=MESSAGES, extra_headers={**rid("fallback"), **CAPTURE}
    )
    done.headers["fallback"] = dict(raw.headers)
    assert raw.parse().choices[0].message.content
    done.ended = time.time()
    # Rows are written in batches off the request path.
    assert wait_for(lambda: len(admin_get(gw, "/api/logs", limit=50)["logs"]) >= 8)
    return done


ALL = ["fallback", "no-token", "claude-400", "oai-400", "claude-stream", "claude-ok", "oai-stream", "oai-ok"]


def ids(gw: GatewayProcess, **params: Any) -> list[str]:
    rows = admin_get(gw, "/api/logs", **params)["logs"]
    return [r["request_id"].removeprefix("obs-") for r in rows if r["request_id"].startswith("obs-")]


def by_id(gw: GatewayProcess) -> dict[str, dict[str, Any]]:
    rows = admin_get(gw, "/api/logs", limit=500)["logs"]
    return {r["request_id"].removeprefix("obs-"): r for r in rows}


def key_id(gw: GatewayProcess, name: str) -> str:
    keys = admin_get(gw, "/api/keys")
    items = keys["keys"] if isinstance(keys, dict) else keys
    return str(next(k["id"] for k in items if k["name"] == name))


def test_logs_list_every_call_newest_first_with_its_fields(gw: GatewayProcess, traffic: Traffic) -> None:
    assert ids(gw) == ALL
    rows = by_id(gw)
    ok = rows["oai-ok"]
    assert ok["method"] == "POST" and ok["route"] == "/v1/chat/completions"
    assert (ok["client_dialect"], ok["upstream_dialect"], ok["provider"], ok["account"]) == (
        "openai",
        "openai",
        "openai",
        "main",
    )
    assert (ok["requested_model"], ok["model"], ok["combo"], ok["stream"]) == (
        OPENAI_MODEL,
        "gpt-4o",
        None,
        False,
    )
    assert (ok["status"], ok["outcome"], ok["attempts"], ok["error"]) == (200, "success", 1, None)
    assert (ok["input_tokens"], ok["output_tokens"], ok["cached_tokens"]) == (100, 50, 20)
    assert ok["cost_usd"] is not None and ok["cost_usd"] > 0
    assert ok["api_key_id"] == key_id(gw, "alpha")
    assert ok["has_capture"] is True and "capture" not in ok
    # Latency phases: upstream wait and overhead split the total; first byte before the end.
    for row in rows.values():
        assert row["latency_ms"] > 0
        assert row["upstream_ms"] >= 0 and row["overhead_ms"] >= 0
        assert abs(row["upstream_ms"] + row["overhead_ms"] - row["latency_ms"]) < 0.01
    assert 0 < ok["ttfb_ms"] <= ok["latency_ms"] and ok["ttft_ms"] is None
    stream = rows["oai-stream"]
    assert stream["stream"] is True and stream["has_capture"] is False
    assert 0 < stream["ttfb_ms"] <= stream["ttft_ms"] <= stream["latency_ms"]
    # Three chunks 20 ms apart: most of the stream was spent waiting on the upstream.
    assert stream["upstream_ms"] >= 30
    claude_stream = rows["claude-stream"]
    assert (claude_stream["client_dialect"], claude_stream["upstream_dialect"]) == ("anthropic", "anthropic")
    assert claude_stream["route"] == "/v1/messages" and claude_stream["account"] == "claude"
    error = rows["oai-400"]
    assert (error["status"], error["outcome"]) == (400, "error") and "bad things" in error["error"]
    assert error["attempt_log"][0]["status"] == 400
    fallback = rows["fallback"]
    assert (fallback["combo"], fallback["provider"], fallback["model"]) == (
        "obs-fallback",
        "anthropic",
        "claude-sonnet-4-5",
    )
    assert (fallback["client_dialect"], fallback["upstream_dialect"], fallback["attempts"]) == (
        "openai",
        "anthropic",
        2,
    )
    assert [(a["provider"], a["account"], a["status"]) for a in fallback["attempt_log"]] == [
        ("openai", "main", 503),
        ("anthropic", "claude", 200),
    ]
    assert "overloaded upstream" in fallback["attempt_log"][0]["error"]
    assert rows["no-token"]["has_capture"] is False


def test_each_filter_returns_the_right_rows(gw: GatewayProcess, traffic: Traffic) -> None:
    assert ids(gw, status="400") == ["claude-400", "oai-400"]
    assert ids(gw, status="4xx") == ["claude-400", "oai-400"]
    assert ids(gw, status="2xx") == [
        "fallback",
        "no-token",
        "claude-stream",
        "claude-ok",
        "oai-stream",
        "oai-ok",
    ]
    assert ids(gw, outcome="error") == ["claude-400", "oai-400"]
    assert ids(gw, provider="anthropic") == ["fallback", "claude-400", "claude-stream", "claude-ok"]
    assert ids(gw, provider="openai") == ["no-token", "oai-400", "oai-stream", "oai-ok"]
    assert ids(gw, model="claude-sonnet-4-5") == ["fallback", "claude-400", "claude-stream", "claude-ok"]
    assert ids(gw, model="obs-fallback") == ["fallback"]  # the model asked for
    alpha = ["fallback", "no-token", "claude-400", "oai-stream", "oai-ok"]
    assert ids(gw, key="alpha") == alpha  # by name
    assert ids(gw, key=key_id(gw, "alpha")) == alpha  # by id
    assert ids(gw, key="beta") == ["oai-400", "claude-stream", "claude-ok"]
    assert ids(gw, key="beta", status="400") == ["oai-400"]
    assert ids(gw, since=traffic.between) == [
        "fallback",
        "no-token",
        "claude-400",
        "oai-400",
        "claude-stream",
    ]
    assert ids(gw, since=traffic.started, until=traffic.between) == ["claude-ok", "oai-stream", "oai-ok"]
    iso = datetime.fromtimestamp(traffic.between, UTC).isoformat()
    assert ids(gw, until=iso) == ["claude-ok", "oai-stream", "oai-ok"]
    assert ids(gw, since=traffic.ended + 60) == []


def test_pages_follow_the_cursor_without_gaps_or_repeats(gw: GatewayProcess, traffic: Traffic) -> None:
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = admin_get(gw, "/api/logs", **params)
        assert len(page["logs"]) <= 3
        seen += [r["request_id"].removeprefix("obs-") for r in page["logs"]]
        cursor = page["next_cursor"]
        pages += 1
        if cursor is None:
            break
    assert pages == 3 and seen == ALL


def test_bad_log_queries_are_refused(gw: GatewayProcess, traffic: Traffic) -> None:
    for params in (
        {"status": "abc"},
        {"status": "9xx"},
        {"limit": "0"},
        {"limit": "501"},
        {"since": "yesterday"},
        {"cursor": "x"},
    ):
        resp = httpx.get(f"{gw.url}/api/logs", params=params, headers=gw.admin_headers())
        assert resp.status_code == 400, params
        assert resp.json()["error"]["code"] == "invalid_query"
    missing = httpx.get(f"{gw.url}/api/logs/obs-nope", headers=gw.admin_headers())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_observability_apis_are_admin_only(gw: GatewayProcess, traffic: Traffic) -> None:
    for path in ("/api/logs", "/api/logs/obs-oai-ok", "/api/telemetry", "/api/health"):
        assert httpx.get(f"{gw.url}{path}").status_code == 401, path
        inference = httpx.get(f"{gw.url}{path}", headers={"authorization": f"Bearer {ALPHA_KEY}"})
        assert inference.status_code == 401, path


def capture_of(gw: GatewayProcess, name: str) -> dict[str, Any]:
    detail = admin_get(gw, f"/api/logs/obs-{name}")
    assert detail["request_id"] == f"obs-{name}" and detail["has_capture"] is True
    text = json.dumps(detail)
    for secret in SECRETS:
        assert secret not in text, f"{secret} leaked into the capture of {name}"
    capture: dict[str, Any] = detail["capture"]
    assert capture["max_bytes"] == CAPTURE_MAX
    for part in ("client_request", "upstream_request", "upstream_response", "client_response"):
        assert capture[part] is not None, part
        assert len(capture[part]["body"].encode()) <= CAPTURE_MAX + 3, part  # + one replacement char
    return capture


def test_capture_of_a_call_holds_the_four_parts_redacted_and_bounded(
    gw: GatewayProcess, traffic: Traffic
) -> None:
    capture = capture_of(gw, "oai-ok")
    client_request = capture["client_request"]
    assert client_request["method"] == "POST" and client_request["url"] == "/v1/chat/completions"
    assert client_request["headers"]["authorization"] == f"Bearer {REDACTED}"
    assert client_request["headers"]["x-omniroute-admin-token"] == REDACTED
    assert f"my keys: {REDACTED} {REDACTED} {REDACTED} {REDACTED} {REDACTED}" in client_request["body"]
    assert client_request["truncated"] is True and client_request["bytes"] > CAPTURE_MAX
    upstream_request = capture["upstream_request"]
    assert upstream_request["url"].endswith("/v1/chat/completions")
    assert upstream_request["headers"]["authorization"] == f"Bearer {REDACTED}"
    assert '"model":"gpt-4o"' in upstream_request["body"].replace(" ", "")
    assert f"my keys: {REDACTED}" in upstream_request["body"] and upstream_request["truncated"] is True
    upstream_response = capture["upstream_response"]
    assert upstream_response["status"] == 200
    assert json.loads(upstream_response["body"])["object"] == "chat.completion"
    client_response = capture["client_response"]
    assert client_response["status"] == 200
    assert client_response["headers"]["x-request-id"] == "obs-oai-ok"
    assert client_response["headers"]["x-omniroute-capture"] == "stored"
    assert json.loads(client_response["body"])["choices"][0]["message"]["content"]
    assert traffic.headers["oai-ok"]["x-omniroute-capture"] == "stored"


def test_capture_of_a_stream_holds_the_raw_upstream_and_client_events(
    gw: GatewayProcess, traffic: Traffic
) -> None:
    capture = capture_of(gw, "claude-stream")
    sent = capture["client_request"]["headers"]
    assert sent.get("x-api-key", REDACTED) == REDACTED
    assert sent.get("authorization", f"Bearer {REDACTED}") == f"Bearer {REDACTED}"
    assert "x-api-key" in sent or "authorization" in sent
    assert f"stream please {REDACTED}" in capture["client_request"]["body"]
    assert capture["upstream_request"]["headers"]["x-api-key"] == REDACTED
    assert "/v1/messages" in capture["upstream_request"]["url"]
    upstream = capture["upstream_response"]["body"]
    assert "event: message_start" in upstream and "event: message_stop" in upstream
    client = capture["client_response"]
    assert client["headers"]["content-type"].startswith("text/event-stream")
    assert "event: message_start" in client["body"] and "event: message_stop" in client["body"]


def test_capture_of_an_upstream_error_and_of_a_fallback(gw: GatewayProcess, traffic: Traffic) -> None:
    error = capture_of(gw, "oai-400")
    assert error["upstream_response"]["status"] == 400 and "bad things" in error["upstream_response"]["body"]
    assert error["client_response"]["status"] == 400 and "bad things" in error["client_response"]["body"]
    fallback = capture_of(gw, "fallback")
    # The answering (last) attempt: the OpenAI request translated for Anthropic.
    assert "/v1/messages" in fallback["upstream_request"]["url"]
    assert json.loads(fallback["upstream_request"]["body"])["model"] == "claude-sonnet-4-5"
    assert fallback["upstream_response"]["status"] == 200
    assert json.loads(fallback["upstream_response"]["body"])["type"] == "message"
    assert json.loads(fallback["client_response"]["body"])["object"] == "chat.completion"
    uncaptured = admin_get(gw, "/api/logs/obs-no-token")
    assert uncaptured["capture"] is None and uncaptured["has_capture"] is False


def test_telemetry_has_percentiles_for_the_providers_used(gw: GatewayProcess, traffic: Traffic) -> None:
    telemetry = admin_get(gw, "/api/telemetry")
    assert telemetry["window_seconds"] == 300 and telemetry["max_samples"] == 1000
    assert telemetry["scope"] == "worker" and telemetry["pid"] > 0
    providers = telemetry["providers"]
    rows = by_id(gw)
    # The provider that answered: successes are timed, failures counted.
    expected = {
        "openai": (["oai-ok", "oai-stream", "no-token"], 1, "oai-stream"),
        "anthropic": (["claude-ok", "claude-stream", "fallback"], 1, "claude-stream"),
    }
    assert set(providers) == set(expected)
    for provider, (successes, errors, stream) in expected.items():
        stats = providers[provider]
        assert (stats["requests"], stats["errors"]) == (len(successes) + errors, errors)
        for series in ("latency_ms", "overhead_ms"):
            values = sorted(rows[name][series] for name in successes)
            name = "total_ms" if series == "latency_ms" else series
            # Nearest rank over three samples: p50 is the middle one, p95 and p99 the largest.
            assert stats[name] == {"count": 3, "p50": values[1], "p95": values[2], "p99": values[2]}
        ttft = rows[stream]["ttft_ms"]
        assert stats["ttft_ms"] == {"count": 1, "p50": ttft, "p95": ttft, "p99": ttft}


def test_health_answers_with_real_data(gw: GatewayProcess, traffic: Traffic) -> None:
    oai(gw, ALPHA_KEY).chat.completions.create(model=OPENAI_MODEL, messages=MESSAGES)
    health = admin_get(gw, "/api/health")
    assert health["status"] == "ok" and health["version"] == omniroute.__version__
    assert health["uptime_s"] > 0 and health["workers"] == 1 and health["pid"] > 0
    assert health["memory"]["rss_bytes"] > 10 * 1024 * 1024
    database = health["database"]
    on_disk = (gw.data_dir / "omniroute.sqlite").stat().st_size
    assert database["ok"] is True and database["main_bytes"] == on_disk
    assert database["size_bytes"] >= database["main_bytes"] > 0
    assert isinstance(health["breakers"], list) and isinstance(health["cooldowns"], list)
    assert health["limits"]["openai/main"]["admitted_last_minute"] >= 1
    assert health["cache"]["enabled"] is False and "no response cache" in health["cache"]["note"]
    requests = health["requests"]
    assert (
        requests["total"] >= 9
        and requests["by_status"]["4xx"] >= 2
        and requests["by_outcome"]["success"] >= 6
    )
    assert health["request_log"]["enabled"] is True and health["request_log"]["written"] >= 8
    assert health["usage_writer"]["written"] >= 8


ACCESS_FIELDS = (
    "request_id",
    "method",
    "route",
    "client_dialect",
    "upstream_dialect",
    "provider",
    "account",
    "api_key_id",
    "requested_model",
    "model",
    "combo",
    "stream",
    "status",
    "outcome",
    "latency_ms",
    "upstream_ms",
    "overhead_ms",
    "ttfb_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_creation_tokens",
    "reasoning_tokens",
    "cost_usd",
    "attempts",
    "error",
)


def access_lines(gw: GatewayProcess) -> dict[str, dict[str, Any]]:
    lines: dict[str, dict[str, Any]] = {}
    for raw in gw.logs().splitlines():
        if not raw.startswith("{"):
            continue
        line = json.loads(raw)
        if line.get("logger") == "omniroute.access":
            lines[line["request_id"]] = line
    return lines


def test_json_access_line_parses_and_has_the_fields(gw: GatewayProcess, traffic: Traffic) -> None:
    lines = access_lines(gw)
    for name in ALL:
        line = lines[f"obs-{name}"]
        assert (line["level"], line["msg"]) == ("info", "request")
        for field in ACCESS_FIELDS:
            assert field in line, (name, field)
        assert "capture" not in line
    rows = by_id(gw)
    ok = lines["obs-oai-ok"]
    assert {k: ok[k] for k in ACCESS_FIELDS if k != "error"} == {
        k: rows["oai-ok"][k] for k in ACCESS_FIELDS if k != "error"
    }
    fallback = lines["obs-fallback"]
    assert fallback["combo"] == "obs-fallback" and fallback["attempts"] == 2
    assert [a["status"] for a in fallback["attempt_log"]] == [503, 200]
    assert "bad things" in lines["obs-oai-400"]["error"]
    text = gw.logs()
    for secret in SECRETS:
        assert secret not in text


# Retention and log level: a gateway of their own ---------------------------------------------------
def seed_request_logs(data: Path, now: float) -> None:
    from omniroute.store.db import open_database

    conn = open_database(data)
    try:
        with conn:
            for request_id, age_days in (("seed-40d", 40), ("seed-31d", 31), ("seed-10d", 10)):
                conn.execute(
                    """INSERT INTO request_logs (ts, request_id, method, route, client_dialect, provider,
                       model, stream, status, outcome, latency_ms, capture)
                       VALUES (?, ?, 'POST', '/v1/chat/completions', 'openai', 'openai', 'gpt-4o', 0, 200,
                               'success', 5.0, '{"max_bytes": 1}')""",
                    (now - age_days * 86400, request_id),
                )
    finally:
        conn.close()


@pytest.fixture
def seeded(mock: MockProvider, tmp_path: Path) -> Iterator[GatewayProcess]:
    data = tmp_path / "data"
    seed_request_logs(data, time.time())
    config = observability_config(mock, "").replace("[logging]\n", "[logging]\nretention_days = 30\n")
    proc = GatewayProcess(data, config, env={"OMNIROUTE_ADMIN_TOKEN": ADMIN_TOKEN, "LOG_LEVEL": "warning"})
    with proc:
        yield proc


def test_retention_deletes_old_rows_at_start_and_log_level_env_silences_access_lines(
    seeded: GatewayProcess,
) -> None:
    def remaining() -> list[str] | None:
        found = ids_any(seeded)
        return found if found == ["seed-10d"] else None

    assert wait_for(remaining) == ["seed-10d"]
    # LOG_LEVEL=warning: calls are logged to the database, not as access lines.
    oai(seeded, ALPHA_KEY).chat.completions.create(
        model=OPENAI_MODEL, messages=MESSAGES, extra_headers=rid("quiet")
    )
    assert wait_for(lambda: "obs-quiet" in ids_any(seeded))
    assert access_lines(seeded) == {}
    assert '"level":"info"' not in seeded.logs()


def ids_any(gw: GatewayProcess) -> list[str]:
    return [r["request_id"] for r in admin_get(gw, "/api/logs")["logs"]]


def test_log_level_flag_beats_the_environment_and_the_log_can_be_off(
    mock: MockProvider, tmp_path: Path
) -> None:
    env = {"OMNIROUTE_ADMIN_TOKEN": ADMIN_TOKEN, "LOG_LEVEL": "warning"}
    config = observability_config(mock, "").replace("[logging]\n", "[logging]\nrequest_log = false\n")
    with GatewayProcess(tmp_path / "data", config, env=env, extra_args=("--log-level", "info")) as proc:
        oai(proc, ALPHA_KEY).chat.completions.create(
            model=OPENAI_MODEL, messages=MESSAGES, extra_headers=rid("loud")
        )
        assert wait_for(lambda: "obs-loud" in access_lines(proc))
        # request_log = false: nothing is stored, but the access line and telemetry still are.
        assert admin_get(proc, "/api/logs")["logs"] == []
        assert admin_get(proc, "/api/health")["request_log"]["enabled"] is False
        assert "openai" in admin_get(proc, "/api/telemetry")["providers"]
