"""Circuit-breaker state outlives the gateway process: an open breaker is still open after a
SIGTERM and a fresh start on the same data directory and configuration, and a breaker reset
through the admin API stays reset.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import apsw
import httpx
import openai
import pytest

from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess

MESSAGES: Any = [{"role": "user", "content": "hello"}]
XAI_KEY = "sk-xai-restart-0123456789"
OPENAI_KEY = "sk-openai-restart-0123456789"
BREAKERS = ("provider:xai", "target:xai/grok-4")
# A 1 ms retry hint keeps the account's own cooldown out of the way: only the breaker decides.
FAILING = {"status": 500, "headers": {"retry-after-ms": "1"}}


def restart_config(mock: MockProvider) -> str:
    root = f"http://127.0.0.1:{mock.port}/v1"
    return f"""
[routing]
max_retries = 1
retry_delay = 0.05

[breakers]
failure_threshold = 3
reset_timeout = 60.0

[[connections]]
provider = "xai"
name = "only"
api_key = "{XAI_KEY}"
base_url = "{root}"

[[connections]]
provider = "openai"
name = "spare"
api_key = "{OPENAI_KEY}"
base_url = "{root}"

[[combos]]
name = "grok-then-gpt"
models = ["xai/grok-4", "openai/gpt-4o"]
"""


def client_for(gw: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="unused", max_retries=0, timeout=10)


def breakers(gw: GatewayProcess) -> dict[str, dict[str, Any]]:
    resp = httpx.get(f"{gw.url}/api/health/resilience", timeout=5)
    assert resp.status_code == 200, resp.text
    return {b["key"]: b for b in resp.json()["breakers"]}


def stored_breakers(data_dir: Path) -> dict[str, tuple[str, int]]:
    conn = apsw.Connection(str(data_dir / "omniroute.sqlite"), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        rows = conn.execute("SELECT key, state, failures FROM circuit_breakers").fetchall()
    finally:
        conn.close()
    return {str(key): (str(state), int(failures)) for key, state, failures in rows}


def trip(gw: GatewayProcess, mock: MockProvider) -> None:
    mock.script_for_key(XAI_KEY, FAILING)
    client = client_for(gw)
    for _ in range(2):  # 2 x (try + retry): the third failure opens the breaker
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="xai/grok-4", messages=MESSAGES)
    state = breakers(gw)
    assert all(state[key]["state"] == "open" for key in BREAKERS), state
    mock.clear()


def restart(gw: GatewayProcess, mock: MockProvider) -> GatewayProcess:
    assert gw.stop(20) == 0, gw.logs()  # SIGTERM: a graceful shutdown
    return GatewayProcess(gw.data_dir, restart_config(mock)).start()


def test_open_breaker_survives_a_restart(mock: MockProvider, tmp_path: Path) -> None:
    first = GatewayProcess(tmp_path / "data", restart_config(mock)).start()
    second: GatewayProcess | None = None
    try:
        trip(first, mock)
        before = breakers(first)["provider:xai"]["retry_in_s"]
        second = restart(first, mock)

        state = breakers(second)
        for key in BREAKERS:
            assert state[key]["state"] == "open", state
        # Still counting down from when it opened, not from the restart.
        assert 50 < state["provider:xai"]["retry_in_s"] <= before

        with pytest.raises(openai.InternalServerError) as info:
            client_for(second).chat.completions.create(model="xai/grok-4", messages=MESSAGES)
        assert info.value.status_code == 503 and "circuit breaker open" in info.value.message
        answer = client_for(second).chat.completions.create(model="grok-then-gpt", messages=MESSAGES)
        assert answer.choices[0].message.content
        keys = [r.headers.get("authorization") for r in mock.requests if r.method == "POST"]
        assert keys == [f"Bearer {OPENAI_KEY}"]  # xai refused without an upstream request
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_breaker_reset_through_the_api_stays_reset_after_a_restart(
    mock: MockProvider, tmp_path: Path
) -> None:
    first = GatewayProcess(tmp_path / "data", restart_config(mock)).start()
    second: GatewayProcess | None = None
    try:
        # The reset's own write of the breaker and the API's delete of its row race (both land
        # within milliseconds): repeat until a round leaves a row behind, so the restart below
        # loads whatever that write stored (it must not carry the old failures).
        for _ in range(3):
            trip(first, mock)
            resp = httpx.post(f"{first.url}/api/health/resilience/reset", json={"breakers": True}, timeout=5)
            assert resp.status_code == 200, resp.text
            assert breakers(first) == {}
            time.sleep(0.1)  # let the background breaker writer run
            if stored_breakers(first.data_dir):
                break
        second = restart(first, mock)
        assert breakers(second) == {}
        # A fresh breaker needs three failures; one failing call (try + retry) must not reopen it.
        mock.script_for_key(XAI_KEY, FAILING)
        with pytest.raises(openai.InternalServerError):
            client_for(second).chat.completions.create(model="xai/grok-4", messages=MESSAGES)
        assert breakers(second).get("provider:xai", {}).get("state") != "open"
    finally:
        first.stop()
        if second is not None:
            second.stop()
