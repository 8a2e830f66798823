"""Routing and resilience of a real gateway process: accounts, cooldowns, retries, combos,
breakers, outbound limits, aliases and the admin API.

One gateway (module scope) with several accounts per provider, every one pointing at the mock
with its own upstream key, so each test can say WHO was called, in WHAT order (by key) and WHAT
the client got. Timings are short (`first_byte_timeout` 1 s, `retry_delay` 0.05 s, breakers
open after 3 failures for 1 s, outbound queue timeout 0.2 s) so every test stays within seconds.
The session's autouse fixture clears the mock and resets breakers and cooldowns between tests.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.mock_provider import MockProvider, RecordedRequest
from tests.support.gateway_process import GatewayProcess

MESSAGES: Any = [{"role": "user", "content": "hello"}]

# Upstream key of every account, by account name (names are unique across providers here).
KEYS = {
    "oa-a": "sk-oa-a-0123456789",
    "oa-b": "sk-oa-b-0123456789",
    "an-a": "sk-ant-a-0123456789",
    "gm-a": "gm-key-a-0123456789",
    "resp": "sk-resp-node-0123456789",
    "rr-1": "sk-rr-1-0123456789",
    "rr-2": "sk-rr-2-0123456789",
    "rr-3": "sk-rr-3-0123456789",
    "lim-a": "sk-lim-a-0123456789",
    "lim-b": "sk-lim-b-0123456789",
    "brk": "sk-xai-brk-0123456789",
}
NAME_OF_KEY = {key: name for name, key in KEYS.items()}
INFERENCE_KEY = "sk-routing-inference-key-0123456789"
ADMIN_TOKEN = "admin-token-routing-0123456789"

CHAT = "/v1/chat/completions"
MESSAGES_PATH = "/v1/messages"
GEMINI_FLASH = "/v1beta/models/gemini-2.5-flash:generateContent"
RESPONSES = "/v1/responses"

RATE_LIMIT_2S = {"status": 429, "headers": {"retry-after": "2"}}
QUOTA = {
    "status": 429,
    "error_message": "You exceeded your current quota, please check your plan and billing details.",
    "error_type": "insufficient_quota",
    "error_code": "insufficient_quota",
}


def routing_config(mock: MockProvider, *, breaker_reset: float = 1.0) -> str:
    root = f"http://127.0.0.1:{mock.port}"
    return f"""
[server]
first_byte_timeout = 1.0

[routing]
max_retries = 1
retry_delay = 0.05

[routing.providers.deepseek]
account_strategy = "round-robin"
sticky_limit = 3

[limits]
queue_timeout = 0.2

[breakers]
failure_threshold = 3
reset_timeout = {breaker_reset}

[[connections]]
provider = "openai"
name = "oa-a"
api_key = "{KEYS["oa-a"]}"
base_url = "{root}/v1"
priority = 1

[[connections]]
provider = "openai"
name = "oa-b"
api_key = "{KEYS["oa-b"]}"
base_url = "{root}/v1"
priority = 2

[[connections]]
provider = "anthropic"
name = "an-a"
api_key = "{KEYS["an-a"]}"
base_url = "{root}/v1"

[[connections]]
provider = "gemini"
name = "gm-a"
api_key = "{KEYS["gm-a"]}"
base_url = "{root}/v1beta"

[[nodes]]
id = "codex-like"
prefix = "resp"
dialect = "responses"
base_url = "{root}/v1"
api_key = "{KEYS["resp"]}"
models = ["gpt-5-codex"]

[[connections]]
provider = "deepseek"
name = "rr-1"
api_key = "{KEYS["rr-1"]}"
base_url = "{root}/v1"

[[connections]]
provider = "deepseek"
name = "rr-2"
api_key = "{KEYS["rr-2"]}"
base_url = "{root}/v1"

[[connections]]
provider = "deepseek"
name = "rr-3"
api_key = "{KEYS["rr-3"]}"
base_url = "{root}/v1"

[[connections]]
provider = "mistral"
name = "lim-a"
api_key = "{KEYS["lim-a"]}"
base_url = "{root}/v1"
priority = 1
rpm = 2

[[connections]]
provider = "mistral"
name = "lim-b"
api_key = "{KEYS["lim-b"]}"
base_url = "{root}/v1"
priority = 2

[[connections]]
provider = "xai"
name = "brk"
api_key = "{KEYS["brk"]}"
base_url = "{root}/v1"

[[api_keys]]
name = "routing"
key = "{INFERENCE_KEY}"

[[combos]]
name = "xd"
models = ["openai/gpt-4o", "anthropic/claude-mock-1"]

[[combos]]
name = "everywhere"
models = ["openai/gpt-4o", "anthropic/claude-mock-1", "gemini/gemini-2.5-flash", "resp/gpt-5-codex"]

[[combos]]
name = "team/coder"
models = ["anthropic/claude-mock-1"]

[[combos]]
name = "openai/coder"
models = ["gemini/gemini-2.5-flash"]

[[combos]]
name = "inner"
models = ["anthropic/claude-mock-1"]

[[combos]]
name = "outer"
models = ["inner", "gemini/gemini-2.5-flash"]

[[combos]]
name = "wt"
strategy = "weighted"
models = [{{ model = "openai/gpt-4o", weight = 0 }}, {{ model = "anthropic/claude-mock-1", weight = 1 }}]

[[combos]]
name = "brk-combo"
models = ["xai/grok-4", "openai/gpt-4o"]

[aliases]
fast = "openai/gpt-4o-mini"

[[wildcard_aliases]]
pattern = "claude-*"
target = "anthropic/claude-sonnet-4-5"

[[wildcard_aliases]]
pattern = "claude-special-*"
target = "gemini/gemini-2.5-flash"
"""


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("routing")
    with GatewayProcess(base / "data", routing_config(mock)) as proc:
        yield proc
        assert proc.proc is not None and proc.proc.poll() is None, "gateway died during the module"


@pytest.fixture
def client(gw: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=INFERENCE_KEY, max_retries=0, timeout=10)


# ---- helpers ----------------------------------------------------------------------------------


def presented_key(request: RecordedRequest) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:]
    return request.headers.get("x-api-key") or request.headers.get("x-goog-api-key")


def calls(mock: MockProvider) -> list[tuple[str, str]]:
    """(account name, path) of every inference request the mock saw, in arrival order."""
    return [
        (NAME_OF_KEY.get(presented_key(r) or "", "?"), r.path) for r in mock.requests if r.method == "POST"
    ]


def who(mock: MockProvider) -> list[str]:
    return [name for name, _ in calls(mock)]


def resilience(gw: GatewayProcess) -> dict[str, Any]:
    resp = httpx.get(f"{gw.url}/api/health/resilience", timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def cooldowns(gw: GatewayProcess, account: str) -> list[dict[str, Any]]:
    return [c for c in resilience(gw)["cooldowns"] if c["account"] == account]


def breaker(gw: GatewayProcess, key: str) -> dict[str, Any] | None:
    return next((b for b in resilience(gw)["breakers"] if b["key"] == key), None)


def reset(gw: GatewayProcess, **what: Any) -> dict[str, Any]:
    resp = httpx.post(f"{gw.url}/api/health/resilience/reset", json=what, timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def chat(client: openai.OpenAI, model: str, **kwargs: Any) -> Any:
    return client.chat.completions.create(model=model, messages=MESSAGES, **kwargs)


def raw_chat(gw: GatewayProcess, model: str) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/v1/chat/completions",
        json={"model": model, "messages": MESSAGES},
        headers={"authorization": f"Bearer {INFERENCE_KEY}"},
        timeout=10,
    )


# ---- 1-4: what one failure of one account leads to --------------------------------------------


def test_rate_limit_with_retry_after_falls_to_next_account_and_cools_the_first(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(KEYS["oa-a"], RATE_LIMIT_2S)
    answer = chat(client, "openai/gpt-4o")
    assert answer.choices[0].message.content
    assert calls(mock) == [("oa-a", CHAT), ("oa-b", CHAT)]

    [cooling] = cooldowns(gw, "openai/oa-a")
    assert cooling["model"] == "gpt-4o" and cooling["reason"] == "rate_limit" and cooling["level"] == 1
    assert 1.0 < cooling["remaining_s"] <= 2.0, cooling  # the upstream's retry-after, not a guess

    mock.clear()  # A would still answer 429, but it must not even be asked
    mock.script_for_key(KEYS["oa-a"], RATE_LIMIT_2S)
    chat(client, "openai/gpt-4o")
    assert who(mock) == ["oa-b"]


def test_rate_limit_without_hint_cools_for_one_second_at_level_one(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(KEYS["oa-a"], {"status": 429})
    chat(client, "openai/gpt-4o-mini")
    assert who(mock) == ["oa-a", "oa-b"]
    [cooling] = cooldowns(gw, "openai/oa-a")
    assert cooling["model"] == "gpt-4o-mini" and cooling["level"] == 1
    assert 0.5 < cooling["remaining_s"] <= 1.0, cooling
    # Rate limits are per (account, model): A still serves another model.
    mock.clear()
    chat(client, "openai/gpt-4o")
    assert who(mock) == ["oa-a"]


def test_quota_exhaustion_cools_the_whole_account(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(KEYS["oa-a"], QUOTA)
    chat(client, "openai/gpt-4o")
    assert who(mock) == ["oa-a", "oa-b"]
    [cooling] = cooldowns(gw, "openai/oa-a")
    assert cooling["model"] is None and cooling["reason"] == "quota"
    assert cooling["remaining_s"] > 600  # no reset time given: a long cooldown

    mock.clear()
    chat(client, "openai/gpt-4o-mini")  # a different model of the same account
    assert who(mock) == ["oa-b"]


def test_server_error_retries_the_same_account_once_then_the_next(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(KEYS["oa-a"], {"status": 500})
    answer = chat(client, "openai/gpt-4o")
    assert answer.choices[0].message.content
    assert who(mock) == ["oa-a", "oa-a", "oa-b"]
    [cooling] = cooldowns(gw, "openai/oa-a")
    assert cooling["reason"] == "transient" and cooling["model"] == "gpt-4o"


def test_bad_request_stops_the_chain(gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI) -> None:
    mock.script_for_key(
        KEYS["oa-a"], {"status": 400, "error_message": "Invalid value for 'temperature': 7 is above 2."}
    )
    with pytest.raises(openai.BadRequestError) as info:
        chat(client, "xd")  # a combo: neither the next account nor the next target may be tried
    assert info.value.status_code == 400
    assert "Invalid value for 'temperature': 7 is above 2." in info.value.message
    assert calls(mock) == [("oa-a", CHAT)]
    assert cooldowns(gw, "openai/oa-a") == []


def test_model_not_found_in_a_combo_moves_to_the_next_target(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(
        KEYS["oa-a"],
        {
            "status": 404,
            "error_message": "The model `gpt-4o` does not exist",
            "error_code": "model_not_found",
        },
    )
    answer = chat(client, "xd")
    assert answer.choices[0].message.content
    # The next TARGET (anthropic), not the next openai account: B has the same models as A.
    assert calls(mock) == [("oa-a", CHAT), ("an-a", MESSAGES_PATH)]


# ---- 6: everything rate limited -----------------------------------------------------------------


def test_all_accounts_rate_limited_answers_429_then_refuses_without_upstream(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(KEYS["oa-a"], RATE_LIMIT_2S)
    mock.script_for_key(KEYS["oa-b"], {"status": 429, "headers": {"retry-after": "3"}})
    with pytest.raises(openai.RateLimitError) as info:
        chat(client, "openai/gpt-4o")
    headers = info.value.response.headers
    assert headers["x-should-retry"] == "false"
    assert headers["retry-after"] == "2"  # the soonest of the two cooldowns
    assert "oa-a" in info.value.message and "oa-b" in info.value.message, info.value.message
    assert who(mock) == ["oa-a", "oa-b"]

    mock.clear()
    with pytest.raises(openai.RateLimitError) as again:
        chat(client, "openai/gpt-4o")
    assert mock.requests == []
    assert again.value.response.headers["x-should-retry"] == "false"
    assert again.value.response.headers["retry-after"] == "2"
    assert "cooling down" in again.value.message


# ---- 7: a combo across dialects --------------------------------------------------------------------


def test_combo_falls_from_openai_to_anthropic_for_an_openai_client(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    for name in ("oa-a", "oa-b"):
        mock.script_for_key(KEYS[name], {"status": 503})
    mock.script_for_key(KEYS["an-a"], {"text": "Anthropic saved the day."})
    answer = chat(client, "xd")
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.content == "Anthropic saved the day."
    assert answer.choices[0].finish_reason == "stop"
    assert calls(mock) == [
        ("oa-a", CHAT),
        ("oa-a", CHAT),
        ("oa-b", CHAT),
        ("oa-b", CHAT),
        ("an-a", MESSAGES_PATH),
    ]
    assert mock.requests[-1].json["model"] == "claude-mock-1"


def test_combo_falls_from_openai_to_anthropic_for_an_anthropic_client(
    gw: GatewayProcess, mock: MockProvider
) -> None:
    for name in ("oa-a", "oa-b"):
        mock.script_for_key(KEYS[name], {"status": 503})
    mock.script_for_key(KEYS["an-a"], {"text": "Claude answers."})
    claude = anthropic.Anthropic(base_url=gw.url, api_key=INFERENCE_KEY, max_retries=0, timeout=10)
    message = claude.messages.create(model="xd", max_tokens=64, messages=MESSAGES)
    assert message.type == "message" and message.role == "assistant"
    assert [b.text for b in message.content if b.type == "text"] == ["Claude answers."]
    assert who(mock) == ["oa-a", "oa-a", "oa-b", "oa-b", "an-a"]


def test_combo_cascades_through_every_dialect(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(KEYS["oa-a"], {"status": 429})
    mock.script_for_key(KEYS["oa-b"], {"status": 429})
    mock.script_for_key(KEYS["an-a"], {"status": 529, "error_type": "overloaded_error"})
    mock.script_for_key(KEYS["gm-a"], {"status": 429})
    mock.script_for_key(KEYS["resp"], {"text": "The Responses node answers."})
    answer = chat(client, "everywhere")
    assert answer.choices[0].message.content == "The Responses node answers."
    assert calls(mock) == [
        ("oa-a", CHAT),
        ("oa-b", CHAT),
        ("an-a", MESSAGES_PATH),
        ("gm-a", GEMINI_FLASH),
        ("resp", RESPONSES),
    ]
    assert mock.requests[-1].json["model"] == "gpt-5-codex"


# ---- 8: timeouts and cut streams ---------------------------------------------------------------------


def test_timeout_before_first_byte_falls_to_the_next_account(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(KEYS["oa-a"], {"delay_ms": 1500})
    started = time.monotonic()
    answer = chat(client, "openai/gpt-4o")
    assert answer.choices[0].message.content
    assert who(mock) == ["oa-a", "oa-a", "oa-b"]  # a timeout is transient: one retry first
    assert time.monotonic() - started < 4.0
    [cooling] = cooldowns(gw, "openai/oa-a")
    assert cooling["reason"] == "transient"


def test_stream_cut_before_the_first_byte_falls_back(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(KEYS["oa-a"], {"cut_after": 0})
    mock.script_for_key(KEYS["oa-b"], {"text": "Complete answer from B.", "chunks": 3})
    stream = chat(client, "openai/gpt-4o", stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Complete answer from B."
    assert who(mock) == ["oa-a", "oa-a", "oa-b"]


def test_stream_cut_after_the_first_bytes_is_an_in_band_error_without_fallback(
    gw: GatewayProcess, mock: MockProvider
) -> None:
    mock.script_for_key(KEYS["oa-a"], {"text": "one two three four five six", "chunks": 6, "cut_after": 3})
    with httpx.stream(
        "POST",
        f"{gw.url}/v1/chat/completions",
        json={"model": "openai/gpt-4o", "messages": MESSAGES, "stream": True},
        headers={"authorization": f"Bearer {INFERENCE_KEY}"},
        timeout=10,
    ) as resp:
        assert resp.status_code == 200
        events = [line[6:] for line in resp.iter_lines() if line.startswith("data: ")]
    payloads = [json.loads(e) for e in events if e != "[DONE]"]
    content = "".join((p["choices"][0]["delta"].get("content") or "") for p in payloads if p.get("choices"))
    assert content and "one two three four five six".startswith(content), content
    assert content != "one two three four five six"
    assert "error" in payloads[-1], payloads[-1]
    assert "[DONE]" not in events  # a failed stream never ends as if it had succeeded
    assert who(mock) == ["oa-a"]


# ---- 9: circuit breakers ------------------------------------------------------------------------------

# 500s with a tiny retry hint: the account's cooldown is over long before the breaker's reset
# timeout, so only the breaker decides whether a call goes upstream.
FAST_500 = {"status": 500, "headers": {"retry-after-ms": "1"}}


def trip_xai_breaker(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI, last: dict[str, Any] = FAST_500
) -> None:
    """Two calls of two 500s each (one retry): the third upstream failure opens the breaker.
    `last` is what the second call gets."""
    mock.script_for_key(KEYS["brk"], FAST_500)
    with pytest.raises(openai.InternalServerError):
        chat(client, "xai/grok-4")
    state = breaker(gw, "provider:xai")
    assert state is not None and state["state"] == "closed" and state["failures"] == 2
    mock.script_for_key(KEYS["brk"], last)
    with pytest.raises(openai.InternalServerError):
        chat(client, "xai/grok-4")
    assert who(mock) == ["brk"] * 4
    for key in ("provider:xai", "target:xai/grok-4"):
        state = breaker(gw, key)
        assert state is not None and state["state"] == "open", resilience(gw)["breakers"]
    mock.clear()


def test_open_breaker_refuses_calls_without_upstream_requests(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    trip_xai_breaker(gw, mock, client)
    with pytest.raises(openai.InternalServerError) as info:
        chat(client, "xai/grok-4")
    assert info.value.status_code == 503
    assert "circuit breaker open" in info.value.message
    assert info.value.response.headers["x-should-retry"] == "false"
    assert info.value.response.headers["retry-after"] == "1"
    # In a combo the open provider is skipped for the next target.
    answer = chat(client, "brk-combo")
    assert answer.choices[0].message.content
    assert who(mock) == ["oa-a"]


def test_breaker_half_open_probe_closes_it_on_success(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    trip_xai_breaker(gw, mock, client)
    opened = breaker(gw, "provider:xai")
    assert opened is not None
    time.sleep(opened["retry_in_s"] + 0.1)
    answer = chat(client, "xai/grok-4")  # the probe
    assert answer.choices[0].message.content
    assert who(mock) == ["brk"]
    assert breaker(gw, "provider:xai") is None and breaker(gw, "target:xai/grok-4") is None
    chat(client, "xai/grok-4")
    assert who(mock) == ["brk", "brk"]


def test_breaker_reset_through_the_api(gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI) -> None:
    trip_xai_breaker(gw, mock, client)
    done = reset(gw, breakers=["provider:xai", "target:xai/grok-4"])
    assert sorted(done["reset"]["breakers"]) == ["provider:xai", "target:xai/grok-4"]
    assert resilience(gw)["breakers"] == []
    time.sleep(0.01)  # the 1 ms cooldown of the last failure
    answer = chat(client, "xai/grok-4")
    assert answer.choices[0].message.content
    assert who(mock) == ["brk"]


def probe_until_answered(client: openai.OpenAI, model: str, *, within: float) -> Any:
    """Calls `model` until the half-open breaker lets one through (refusals are 503s that never
    reach the upstream); fails when none did within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            return chat(client, model)
        except openai.InternalServerError as exc:
            refused = exc
        assert refused.status_code == 503 and "circuit breaker open" in refused.message, refused.message
        if time.monotonic() > deadline:
            raise AssertionError(f"the breaker let no probe through within {within} s") from refused
        time.sleep(0.1)


def test_breaker_probe_is_not_lost_while_the_accounts_cool_down(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    # The last 500s ask for 2 s: the account cools down longer than the breaker stays open (1 s).
    trip_xai_breaker(gw, mock, client, last={"status": 500, "headers": {"retry-after": "2"}})
    opened = breaker(gw, "provider:xai")
    assert opened is not None
    time.sleep(opened["retry_in_s"] + 0.1)
    with pytest.raises(openai.RateLimitError) as info:  # half-open, but the account still cools
        chat(client, "xai/grok-4")
    assert "cooling down" in info.value.message
    assert mock.requests == []
    [cooling] = cooldowns(gw, "xai/brk")
    time.sleep(cooling["remaining_s"] + 0.05)
    # The call above took the probe turn without probing anything; the breaker must not stay
    # half-open for good: at the latest one reset_timeout later a probe goes through.
    answer = probe_until_answered(client, "xai/grok-4", within=1.5)
    assert answer.choices[0].message.content
    assert who(mock) == ["brk"]
    assert breaker(gw, "provider:xai") is None


def test_breaker_probe_answered_with_a_client_error_does_not_wedge_the_breaker(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    trip_xai_breaker(gw, mock, client)
    opened = breaker(gw, "provider:xai")
    assert opened is not None
    time.sleep(opened["retry_in_s"] + 0.1)
    mock.script_for_key(KEYS["brk"], {"status": 400, "error_message": "Invalid value for 'stop'."})
    with pytest.raises(openai.BadRequestError):
        chat(client, "xai/grok-4")  # the probe: neither a success nor a breaker failure
    assert who(mock) == ["brk"]
    mock.clear()
    answer = probe_until_answered(client, "xai/grok-4", within=1.5)
    assert answer.choices[0].message.content
    assert who(mock) == ["brk"]
    assert breaker(gw, "provider:xai") is None


# ---- 10-12: concurrency, round-robin, outbound limits ---------------------------------------------------


def test_concurrent_rate_limits_set_one_cooldown(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(KEYS["oa-a"], {"status": 429, "headers": {"retry-after": "3"}})
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: chat(client, "openai/gpt-4o"), range(8)))
    assert all(a.choices[0].message.content for a in answers)
    assert who(mock).count("oa-b") == 8
    assert 1 <= who(mock).count("oa-a") <= 8
    assert cooldowns(gw, "openai/oa-a") == [
        {
            "account": "openai/oa-a",
            "model": "gpt-4o",
            "remaining_s": pytest.approx(3, abs=1),
            "level": 1,
            "reason": "rate_limit",
        }
    ]


def test_round_robin_spreads_concurrent_calls_in_sticky_turns(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda _: chat(client, "ds/deepseek-chat"), range(30)))
    assert len(answers) == 30
    counts = {name: who(mock).count(name) for name in ("rr-1", "rr-2", "rr-3")}
    # Each account keeps its turn for sticky_limit (3) calls, then the least recently used one
    # takes over: 30 calls are ten turns of three, so one account gets four turns (12), the
    # others three (9). Selection is synchronous, so this holds exactly under concurrency.
    assert sorted(counts.values()) == [9, 9, 12], counts


def test_outbound_rpm_limit_moves_calls_to_the_next_account(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    for _ in range(3):
        chat(client, "mistral/mistral-large-latest")
    assert who(mock) == ["lim-a", "lim-a", "lim-b"]
    assert resilience(gw)["limits"]["mistral/lim-a"]["rpm"] == 2


def test_learned_limits_from_a_success_move_the_next_call(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(
        KEYS["lim-a"],
        {"headers": {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "5s"}},
    )
    chat(client, "mistral/mistral-large-latest")
    chat(client, "mistral/mistral-large-latest")
    assert who(mock) == ["lim-a", "lim-b"]
    blocked = resilience(gw)["limits"]["mistral/lim-a"]["blocked_for_ms"]
    assert blocked is not None and 3000 < blocked <= 5000


# ---- 13: aliases, wildcard aliases, combos as model names ----------------------------------------------


def test_exact_alias_resolves_to_its_target(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    chat(client, "fast")
    assert calls(mock) == [("oa-a", CHAT)]
    assert mock.requests[0].json["model"] == "gpt-4o-mini"


def test_most_specific_wildcard_alias_wins(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    chat(client, "claude-3-opus")
    chat(client, "claude-special-7")
    assert calls(mock) == [("an-a", MESSAGES_PATH), ("gm-a", GEMINI_FLASH)]
    assert mock.requests[0].json["model"] == "claude-sonnet-4-5"


def test_combo_names_with_a_slash_win_over_prefix_parsing(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    chat(client, "team/coder")
    chat(client, "openai/coder")  # "openai" is a provider prefix, but the combo name wins
    assert calls(mock) == [("an-a", MESSAGES_PATH), ("gm-a", GEMINI_FLASH)]


def test_nested_combo_expands(gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI) -> None:
    mock.script_for_key(KEYS["an-a"], {"status": 503})
    chat(client, "outer")
    assert calls(mock) == [("an-a", MESSAGES_PATH), ("an-a", MESSAGES_PATH), ("gm-a", GEMINI_FLASH)]


def test_weighted_combo_with_zero_weight_always_picks_the_other_first(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    for _ in range(10):
        chat(client, "wt")
    assert who(mock) == ["an-a"] * 10


def test_weighted_combo_keeps_a_zero_weight_target_as_fallback(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    mock.script_for_key(KEYS["an-a"], {"status": 503})
    answer = chat(client, "wt")  # never drawn first, but still the rest of the chain
    assert answer.choices[0].message.content
    assert calls(mock) == [("an-a", MESSAGES_PATH), ("an-a", MESSAGES_PATH), ("oa-a", CHAT)]


def test_models_list_includes_combos_and_aliases(gw: GatewayProcess, client: openai.OpenAI) -> None:
    listed = {m.id: m.owned_by for m in client.models.list()}
    for combo in ("xd", "team/coder", "openai/coder", "outer", "wt"):
        assert listed.get(combo) == "combo", combo
    assert listed.get("fast") == "alias"
    assert "openai/gpt-4o" in listed and "resp/gpt-5-codex" in listed


# ---- 14: admin API ------------------------------------------------------------------------------------


def test_combo_admin_api_lifecycle_and_metrics(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    api = f"{gw.url}/api/combos"
    created = httpx.post(
        api, json={"name": "made-live", "models": ["openai/gpt-4o", "anthropic/claude-mock-1"]}, timeout=5
    )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "made-live"

    chat(client, "made-live")
    mock.script_for_key(KEYS["oa-a"], {"status": 404, "error_code": "model_not_found"})
    chat(client, "made-live")
    assert who(mock) == ["oa-a", "oa-a", "an-a"]
    read = httpx.get(f"{api}/made-live", timeout=5)
    assert read.status_code == 200
    metrics = read.json()["metrics"]
    assert (metrics["requests"], metrics["successes"], metrics["failures"], metrics["fallbacks"]) == (
        2,
        2,
        0,
        1,
    )
    assert metrics["targets"] == {"openai/gpt-4o": 1, "anthropic/claude-mock-1": 1}

    # Cycles and nesting beyond depth 3 are refused on save.
    assert httpx.post(api, json={"name": "cyc-1", "models": ["openai/gpt-4o"]}, timeout=5).status_code == 201
    assert httpx.post(api, json={"name": "cyc-2", "models": ["cyc-1"]}, timeout=5).status_code == 201
    cycle = httpx.put(f"{api}/cyc-1", json={"models": ["cyc-2"]}, timeout=5)
    assert cycle.status_code == 400 and "cycle" in cycle.json()["error"]["message"]
    assert httpx.post(api, json={"name": "self", "models": ["self"]}, timeout=5).status_code == 400
    for depth in (1, 2, 3):
        inner = "openai/gpt-4o" if depth == 1 else f"deep-{depth - 1}"
        ok = httpx.post(api, json={"name": f"deep-{depth}", "models": [inner]}, timeout=5)
        assert ok.status_code == 201, ok.text
    too_deep = httpx.post(api, json={"name": "deep-4", "models": ["deep-3"]}, timeout=5)
    assert too_deep.status_code == 400 and "deep" in too_deep.json()["error"]["message"]

    updated = httpx.put(f"{api}/made-live", json={"models": ["gemini/gemini-2.5-flash"]}, timeout=5)
    assert updated.status_code == 200, updated.text
    mock.clear()
    chat(client, "made-live")
    assert who(mock) == ["gm-a"]

    assert httpx.delete(f"{api}/made-live", timeout=5).status_code == 200
    assert httpx.get(f"{api}/made-live", timeout=5).status_code == 404
    assert httpx.delete(f"{api}/made-live", timeout=5).status_code == 404
    listed = {c["name"] for c in httpx.get(api, timeout=5).json()["combos"]}
    assert "made-live" not in listed and {"xd", "cyc-1", "cyc-2", "deep-3"} <= listed


def test_alias_admin_api_replaces_aliases_for_the_next_call(
    gw: GatewayProcess, mock: MockProvider, client: openai.OpenAI
) -> None:
    api = f"{gw.url}/api/aliases"
    before = httpx.get(api, timeout=5).json()
    assert before["aliases"] == {"fast": "openai/gpt-4o-mini"}
    try:
        replaced = httpx.put(
            api,
            json={
                "aliases": {"quick": "anthropic/claude-mock-1"},
                "wildcard_aliases": [{"pattern": "mini-*", "target": "openai/gpt-4o-mini"}],
            },
            timeout=5,
        )
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["aliases"] == {"quick": "anthropic/claude-mock-1"}
        chat(client, "quick")
        chat(client, "mini-anything")
        assert calls(mock) == [("an-a", MESSAGES_PATH), ("oa-a", CHAT)]
        with pytest.raises(openai.NotFoundError):
            chat(client, "fast")  # replaced, not merged
        bad = httpx.put(api, json={"wildcard_aliases": [{"pattern": "plain", "target": "x/y"}]}, timeout=5)
        assert bad.status_code == 400
    finally:
        restored = httpx.put(api, json=before, timeout=5)
        assert restored.status_code == 200, restored.text


def test_admin_token_guards_the_management_api(mock: MockProvider, tmp_path: Any) -> None:
    env = {"OMNIROUTE_ADMIN_TOKEN": ADMIN_TOKEN}
    with GatewayProcess(tmp_path / "data", routing_config(mock), env=env) as tokened:
        url = f"{tokened.url}/api/combos"
        assert httpx.get(url, timeout=5).status_code == 401
        inference = httpx.get(url, headers={"authorization": f"Bearer {INFERENCE_KEY}"}, timeout=5)
        assert inference.status_code == 401
        wrong = httpx.get(url, headers={"authorization": "Bearer not-the-token"}, timeout=5)
        assert wrong.status_code == 401
        for path in ("/api/combos", "/api/aliases", "/api/health/resilience"):
            ok = httpx.get(f"{tokened.url}{path}", headers=tokened.admin_headers(), timeout=5)
            assert ok.status_code == 200, (path, ok.text)
        reset_denied = httpx.post(
            f"{tokened.url}/api/health/resilience/reset", json={"breakers": True}, timeout=5
        )
        assert reset_denied.status_code == 401


# ---- 16: the /codex path rewrite -------------------------------------------------------------------------


def test_codex_responses_path_reaches_the_responses_handler(gw: GatewayProcess, mock: MockProvider) -> None:
    mock.script_for_key(KEYS["resp"], {"text": "Codex here."})
    codex = openai.OpenAI(base_url=f"{gw.url}/codex", api_key=INFERENCE_KEY, max_retries=0, timeout=10)
    response = codex.responses.create(model="resp/gpt-5-codex", input="hello")
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == "Codex here."
    assert calls(mock) == [("resp", RESPONSES)]
