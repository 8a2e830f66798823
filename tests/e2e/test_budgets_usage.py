"""Budgets, per-key limits, cost accounting, usage summaries and retention through a real gateway
and the official SDKs."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import apsw
import httpx
import openai
import pytest

from tests.e2e.conftest import gateway_config
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess

RPM_KEY = "sk-test-rpm-key-0123456789abcdef"
BUDGET_KEY = "sk-test-budget-key-0123456789abcd"
METER_KEY = "sk-test-meter-key-0123456789abcde"
PRICING_KEY = "sk-test-pricing-key-0123456789abc"
MESSAGES: Any = [{"role": "user", "content": "hello"}]
#: With the `[[pricing]]` override below, this usage costs 100 * 1000 + 50 * 2000 = $0.20.
USAGE_100_50 = {"mock": {"usage": {"prompt_tokens": 100, "completion_tokens": 50}}}

EXTRA = f"""
[server]
require_api_key = true

[[api_keys]]
name = "rpm"
key = "{RPM_KEY}"
rpm = 2

[[api_keys]]
name = "budget"
key = "{BUDGET_KEY}"
daily_budget = 0.5
budget_warning = 0.7

[[api_keys]]
name = "meter"
key = "{METER_KEY}"

[[api_keys]]
name = "pricing"
key = "{PRICING_KEY}"

[[pricing]]
provider = "openai"
model = "gpt-4o"
input = 1000.0
output = 2000.0
cached_input = 500.0
"""


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("budgets")
    with GatewayProcess(base / "data", gateway_config(mock, EXTRA)) as proc:
        yield proc


def sdk(gw: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=20)


def admin_get(gw: GatewayProcess, path: str, **params: str) -> Any:
    resp = httpx.get(f"{gw.url}{path}", params=params, headers=gw.admin_headers(), timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()


def raw_rows(gw: GatewayProcess, where: str = "1", params: tuple[object, ...] = ()) -> list[dict[str, Any]]:
    conn = apsw.Connection(str(gw.data_dir / "omniroute.sqlite"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        names = [row[1] for row in conn.execute("PRAGMA table_info(usage_records)")]
        rows = conn.execute(f"SELECT * FROM usage_records WHERE {where} ORDER BY id", params).fetchall()
        return [dict(zip(names, row, strict=True)) for row in rows]
    finally:
        conn.close()


def key_id(gw: GatewayProcess, name: str) -> str:
    conn = apsw.Connection(str(gw.data_dir / "omniroute.sqlite"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        row = conn.execute("SELECT id FROM api_keys WHERE name = ?", (name,)).fetchone()
    finally:
        conn.close()
    assert row is not None
    return str(row[0])


def key_rows(gw: GatewayProcess, api_key_id: str, count: int) -> list[dict[str, Any]]:
    """The key's raw usage rows once `count` exist."""
    rows: list[dict[str, Any]] = wait_for(
        lambda: (found := raw_rows(gw, "api_key_id = ?", (api_key_id,))) and len(found) >= count and found
    )
    assert rows and len(rows) == count, rows
    return rows


def wait_for(condition: Any, timeout: float = 5.0) -> Any:
    """Polls until `condition()` is truthy (the usage writer commits every 0.25 s)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_key_with_rpm_2_gets_429_with_retry_after_on_the_third_call(gw: GatewayProcess) -> None:
    client = sdk(gw, RPM_KEY)
    for _ in range(2):
        assert client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES).choices
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES)
    assert info.value.status_code == 429
    assert info.value.code == "key_rate_limited"
    assert 55 <= int(info.value.response.headers["retry-after"]) <= 60
    assert info.value.response.headers["x-should-retry"] == "false"
    # Anthropic clients get the same refusal in their own error format.
    claude = anthropic.Anthropic(base_url=gw.url, api_key=RPM_KEY, max_retries=0, timeout=20)
    with pytest.raises(anthropic.RateLimitError) as claude_info:
        claude.messages.create(model="openai/gpt-4o", max_tokens=10, messages=MESSAGES)
    assert claude_info.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert "requests per minute" in claude_info.value.message
    assert int(claude_info.value.response.headers["retry-after"]) >= 1


def test_tiny_daily_budget_allows_calls_until_the_recorded_cost_passes_it(gw: GatewayProcess) -> None:
    client = sdk(gw, BUDGET_KEY)
    warnings: list[str | None] = []
    refusal: openai.RateLimitError | None = None
    for _ in range(6):
        try:
            raw = client.chat.completions.with_raw_response.create(
                model="openai/gpt-4o",
                messages=MESSAGES,
                extra_body=USAGE_100_50,
            )
        except openai.RateLimitError as exc:
            refusal = exc
            break
        assert raw.parse().usage is not None
        warnings.append(raw.headers.get("x-omniroute-budget-warning"))
    # $0.20 per call against $0.50: calls at $0, $0.20 and $0.40 run; the fourth is refused.
    assert len(warnings) == 3
    assert refusal is not None and refusal.code == "budget_exceeded"
    assert "daily budget" in refusal.message
    # The third call started at $0.40 >= 70 % of the budget: it ran with a warning.
    assert warnings[:2] == [None, None]
    assert warnings[2] == "daily; spent=0.400000; budget=0.500000"
    midnight = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    expected = math.ceil(midnight.timestamp() - time.time())
    assert abs(int(refusal.response.headers["retry-after"]) - expected) <= 5
    budget = key_id(gw, "budget")
    rows = key_rows(gw, budget, 4)
    assert [r["cost_usd"] for r in rows[:3]] == [0.2, 0.2, 0.2]
    assert rows[3]["status"] == 429 and rows[3]["cost_usd"] is None  # refused before routing


def test_streams_and_failed_calls_are_recorded_with_cost_and_summed_in_usage(gw: GatewayProcess) -> None:
    client = sdk(gw, METER_KEY)
    client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES, extra_body=USAGE_100_50)
    stream_usage = {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "cached_tokens": 40,
        "reasoning_tokens": 10,
    }
    stream = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=MESSAGES,
        stream=True,
        extra_body={"mock": {"usage": stream_usage, "chunks": 3}},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="openai/gpt-4o", messages=MESSAGES, extra_body={"mock": {"status": 400}}
        )
    client.chat.completions.create(
        model="groq/llama-3.3-70b-versatile", messages=MESSAGES, extra_body=USAGE_100_50
    )
    broken = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=MESSAGES,
        stream=True,
        extra_body={"mock": {"fail_midstream": True, "chunks": 2}},
    )
    with pytest.raises(openai.APIError):
        for _ in broken:
            pass

    meter = key_id(gw, "meter")
    rows = key_rows(gw, meter, 5)
    assert [(r["stream"], r["outcome"], r["status"], r["model"]) for r in rows] == [
        (0, "success", 200, "gpt-4o"),
        (1, "success", 200, "gpt-4o"),
        (0, "error", 400, "gpt-4o"),
        (0, "success", 200, "llama-3.3-70b-versatile"),
        (1, "stream_failed", 200, "gpt-4o"),
    ]
    # Stream: 60 plain * 1000 + 40 cached * 500 + 50 * 2000 (10 reasoning inside the 50) = $0.18.
    # Groq at its default $0.59 / $0.79: 100 * 0.59 + 50 * 0.79 = $0.0000985. Failures cost $0.
    assert [r["cost_usd"] for r in rows] == [0.2, 0.18, 0.0, 0.0000985, 0.0]
    assert (rows[1]["cached_tokens"], rows[1]["reasoning_tokens"]) == (40, 10)

    def meter_rollup() -> list[dict[str, Any]]:
        found = admin_get(gw, "/api/usage", group_by="key")["rows"]
        return [r for r in found if r["api_key_id"] == meter and r["requests"] >= 5]

    (by_key,) = wait_for(meter_rollup)
    assert by_key == {
        "api_key_id": meter,
        "api_key_name": "meter",
        "requests": 5,
        "errors": 2,
        "input_tokens": 300,
        "output_tokens": 150,
        "cached_tokens": 40,
        "cache_creation_tokens": 0,
        "reasoning_tokens": 10,
        "cost_usd": 0.3800985,
    }
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    by_day = admin_get(gw, "/api/usage", group_by="day", api_key=meter, since=today, until=today)
    assert [(r["day"], r["requests"], r["cost_usd"]) for r in by_day["rows"]] == [(today, 5, 0.3800985)]
    assert by_day["totals"]["requests"] == 5
    by_model = admin_get(gw, "/api/usage", group_by="model", api_key=meter)["rows"]
    assert [(r["provider"], r["model"], r["requests"], r["errors"], r["cost_usd"]) for r in by_model] == [
        ("groq", "llama-3.3-70b-versatile", 1, 0, 0.0000985),
        ("openai", "gpt-4o", 4, 2, 0.38),
    ]


def test_usage_by_day_matches_the_raw_rows(gw: GatewayProcess) -> None:
    def consistent() -> tuple[list[Any], list[Any]] | None:
        raw = raw_rows(gw)
        rows = admin_get(gw, "/api/usage", group_by="day")["rows"]
        return (raw, rows) if sum(r["requests"] for r in rows) == len(raw) else None

    found = wait_for(consistent)
    assert found is not None
    raw, rows = found
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert rows[-1]["day"] == today
    assert rows[-1]["input_tokens"] == sum(r["input_tokens"] for r in raw)
    assert rows[-1]["cost_usd"] == pytest.approx(sum(r["cost_usd"] or 0 for r in raw))
    assert rows[-1]["errors"] == sum(r["outcome"] != "success" for r in raw)


def test_bad_usage_queries_are_refused(gw: GatewayProcess) -> None:
    for params in ({"group_by": "week"}, {"since": "yesterday"}, {"until": "2025-13-01"}):
        resp = httpx.get(f"{gw.url}/api/usage", params=params, headers=gw.admin_headers())
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_query"


def test_pricing_api_lists_overrides_and_changes_costs(gw: GatewayProcess) -> None:
    prices = {(p["provider"], p["model"]): p for p in admin_get(gw, "/api/pricing")["prices"]}
    assert prices[("openai", "gpt-4o")]["source"] == "override"
    assert prices[("openai", "gpt-4o")]["input"] == 1000.0
    assert prices[("anthropic", "claude-sonnet-4-5")]["source"] == "default"

    entry = {"provider": "groq", "model": "llama-3.3-70b-versatile", "input": 10.0, "output": 20.0}
    resp = httpx.put(f"{gw.url}/api/pricing", json=entry, headers=gw.admin_headers())
    assert resp.status_code == 200, resp.text
    assert resp.json()["source"] == "override"
    bad = httpx.put(f"{gw.url}/api/pricing", json={**entry, "input": -1}, headers=gw.admin_headers())
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_price"

    client = sdk(gw, PRICING_KEY)
    client.chat.completions.create(
        model="groq/llama-3.3-70b-versatile", messages=MESSAGES, extra_body=USAGE_100_50
    )
    resp = httpx.delete(f"{gw.url}/api/pricing/groq/llama-3.3-70b-versatile", headers=gw.admin_headers())
    assert resp.status_code == 200
    assert (
        httpx.delete(
            f"{gw.url}/api/pricing/groq/llama-3.3-70b-versatile", headers=gw.admin_headers()
        ).status_code
        == 404
    )
    client.chat.completions.create(
        model="groq/llama-3.3-70b-versatile", messages=MESSAGES, extra_body=USAGE_100_50
    )

    pricing_key = key_id(gw, "pricing")
    rows = key_rows(gw, pricing_key, 2)
    # 100 * 10 + 50 * 20 = $0.002 with the override; the default price once it is deleted.
    assert [r["cost_usd"] for r in rows] == [0.002, 0.0000985]


@pytest.fixture
def seeded_gateway(mock: MockProvider, tmp_path: Path) -> Iterator[tuple[GatewayProcess, float]]:
    """A data directory holding raw rows and rollups 40 and 10 days old, before the gateway starts."""
    from omniroute.store.db import open_database

    data = tmp_path / "data"
    conn = open_database(data)
    now = time.time()
    try:
        with conn:
            for age in (40, 40, 10):
                ts = now - age * 86400
                conn.execute(
                    """INSERT INTO usage_records (ts, request_id, api_key_id, route, client_dialect, provider,
                       model, stream, status, outcome, latency_ms, input_tokens, output_tokens, cost_usd)
                       VALUES (?, 'req_old', NULL, '/v1/chat/completions', 'openai', 'openai', 'gpt-4o',
                               0, 200, 'success', 5.0, 100, 50, 0.2)""",
                    (ts,),
                )
            old_day = datetime.fromtimestamp(now - 40 * 86400, UTC).strftime("%Y-%m-%d")
            conn.execute(
                """INSERT INTO usage_daily (day, provider, model, requests, input_tokens, output_tokens, cost_usd)
                   VALUES (?, 'openai', 'gpt-4o', 2, 200, 100, 0.4)""",
                (old_day,),
            )
    finally:
        conn.close()
    config = gateway_config(mock, "[usage]\nretention_days = 30\n")
    with GatewayProcess(data, config) as proc:
        yield proc, now


def test_retention_deletes_old_raw_rows_at_start_and_keeps_rollups(
    seeded_gateway: tuple[GatewayProcess, float],
) -> None:
    gw, now = seeded_gateway
    remaining = wait_for(lambda: (rows := raw_rows(gw)) and len(rows) == 1 and rows)
    assert remaining and abs(remaining[0]["ts"] - (now - 10 * 86400)) < 1
    old_day = datetime.fromtimestamp(now - 40 * 86400, UTC).strftime("%Y-%m-%d")
    rows = admin_get(gw, "/api/usage", group_by="day", until=old_day)["rows"]
    assert rows == [
        {
            "day": old_day,
            "requests": 2,
            "errors": 0,
            "input_tokens": 200,
            "output_tokens": 100,
            "cached_tokens": 0,
            "cache_creation_tokens": 0,
            "reasoning_tokens": 0,
            "cost_usd": 0.4,
        }
    ]
    # An old row that appears later goes with the next pass (forced here through the API).
    conn = apsw.Connection(str(gw.data_dir / "omniroute.sqlite"))
    try:
        conn.set_busy_timeout(5000)
        conn.execute(
            """INSERT INTO usage_records (ts, request_id, route, client_dialect, stream, status, outcome,
               latency_ms) VALUES (?, 'req_late', '/v1/chat/completions', 'openai', 0, 200, 'success', 1.0)""",
            (now - 31 * 86400,),
        )
    finally:
        conn.close()
    resp = httpx.post(f"{gw.url}/api/usage/purge", headers=gw.admin_headers())
    assert resp.status_code == 200 and resp.json() == {"deleted": 1, "retention_days": 30}
    assert len(raw_rows(gw)) == 1
