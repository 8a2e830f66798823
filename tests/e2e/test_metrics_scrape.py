"""Prometheus scrapes of a real gateway: traffic (success, stream, fallback, upstream error) through
the official OpenAI SDK, then `GET /metrics` parsed with prometheus_client's text parser; the
same with `--workers 2` (counters monotonic across scrapes served by either worker, totals equal
to the requests sent) and across a restart (no stale multiprocess files)."""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess

OA_KEY = "sk-metrics-openai-0123456789"
AN_KEY = "sk-metrics-anthropic-0123456789"
SCRAPE_TOKEN = "scrape-token-0123456789abcdef"
INFERENCE_KEY = "sk-metrics-inference-key-0123456789"
RPM_KEY = "sk-metrics-rpm-key-0123456789abcdef"
MESSAGES: Any = [{"role": "user", "content": "hello"}]
OVERHEAD = "x-omniroute-overhead-ms"
CHAT = "/v1/chat/completions"
USAGE = {"usage": {"prompt_tokens": 7, "completion_tokens": 3}}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def config(mock: MockProvider, extra: str = "") -> str:
    root = f"http://127.0.0.1:{mock.port}"
    return f"""
[routing]
max_retries = 0
retry_delay = 0.0

[breakers]
failure_threshold = 100

[[connections]]
provider = "openai"
name = "oa"
api_key = "{OA_KEY}"
base_url = "{root}/v1"

[[connections]]
provider = "anthropic"
name = "an"
api_key = "{AN_KEY}"
base_url = "{root}/v1"

[[combos]]
name = "fb"
models = ["openai/gpt-4o", "anthropic/claude-mock-1"]
{extra}
"""


def scrape(gw: GatewayProcess, headers: dict[str, str] | None = None) -> Samples:
    resp = httpx.get(f"{gw.url}/metrics", headers=headers or {}, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        v
        for (n, ls), v in samples.items()
        if n == name and all(dict(ls).get(k) == x for k, x in labels.items())
    )


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return total(after, name, **labels) - total(before, name, **labels)


def overhead_of(headers: Any) -> float:
    value = float(headers[OVERHEAD])
    assert value >= 0
    return value


def client(gw: GatewayProcess, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key, max_retries=0, timeout=20)


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("metrics")
    extra = "\n[network]\ntrust_forwarded_for = true\n"
    with GatewayProcess(base / "data", config(mock, extra)) as proc:
        yield proc


# ---- one worker: every kind of call, then one scrape ---------------------------------------------


def test_scrape_after_success_stream_fallback_and_error(gw: GatewayProcess, mock: MockProvider) -> None:
    before = scrape(gw)
    oa = client(gw)

    mock.script_for_key(OA_KEY, USAGE)
    ok = oa.chat.completions.with_raw_response.create(model="openai/gpt-4o-mini", messages=MESSAGES)
    assert ok.parse().usage is not None and ok.parse().usage.prompt_tokens == 7
    overhead_of(ok.headers)

    streamed = oa.chat.completions.with_raw_response.create(
        model="openai/gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    overhead_of(streamed.headers)
    chunks = list(streamed.parse())
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3

    mock.script_for_key(OA_KEY, {"status": 503, "error_message": "upstream fell over"})
    mock.script_for_key(
        AN_KEY, {"text": "Claude stepped in.", "usage": {"prompt_tokens": 5, "completion_tokens": 2}}
    )
    fell = oa.chat.completions.with_raw_response.create(model="fb", messages=MESSAGES)
    assert fell.parse().choices[0].message.content == "Claude stepped in."
    overhead_of(fell.headers)

    mock.script_for_key(OA_KEY, {"status": 400, "error_message": "bad thing"})
    with pytest.raises(openai.BadRequestError) as error:
        oa.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
    overhead_of(error.value.response.headers)

    after = scrape(gw)
    # omniroute_requests_total by route and status class
    assert delta(before, after, "omniroute_requests_total", route=CHAT, status_class="2xx") == 3
    assert delta(before, after, "omniroute_requests_total", route=CHAT, status_class="4xx") == 1
    # upstream attempts by provider and outcome
    attempts = "omniroute_upstream_attempts_total"
    assert delta(before, after, attempts, provider="openai", outcome="success") == 2
    assert delta(before, after, attempts, provider="openai", outcome="transient") == 1
    assert delta(before, after, attempts, provider="openai", outcome="bad_request") == 1
    assert delta(before, after, attempts, provider="anthropic", outcome="success") == 1
    # the fallback, labelled from/to/reason
    assert (
        delta(
            before,
            after,
            "omniroute_fallbacks_total",
            **{"from": "openai/gpt-4o", "to": "anthropic/claude-mock-1", "reason": "transient"},
        )
        == 1
    )
    # GenAI histograms: one duration per call, tokens as the mock reported them
    duration = "gen_ai_server_request_duration_seconds_count"
    assert delta(before, after, duration) == 4
    assert delta(before, after, duration, error_type="400", gen_ai_provider_name="openai") == 1
    success = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "openai",
        "gen_ai_request_model": "openai/gpt-4o-mini",
        "gen_ai_response_model": "gpt-4o-mini",
        "error_type": "",
    }
    assert delta(before, after, duration, **success) == 2
    tokens = "gen_ai_client_token_usage_sum"
    assert delta(before, after, tokens, gen_ai_token_type="input", gen_ai_provider_name="openai") == 14
    assert delta(before, after, tokens, gen_ai_token_type="output", gen_ai_provider_name="openai") == 6
    claude = {"gen_ai_provider_name": "anthropic", "gen_ai_request_model": "fb"}
    assert delta(before, after, tokens, gen_ai_token_type="input", **claude) == 5
    assert delta(before, after, tokens, gen_ai_token_type="output", **claude) == 2
    assert (
        delta(before, after, "gen_ai_client_token_usage_count", gen_ai_response_model="claude-mock-1") == 2
    )  # input + output of one call
    assert delta(before, after, "gen_ai_server_time_to_first_token_seconds_count", **success) == 1
    assert delta(before, after, "gen_ai_server_time_per_output_token_seconds_count", **success) == 1
    # gateway overhead histogram, one observation per call, and cost
    assert delta(before, after, "omniroute_gateway_overhead_seconds_count", route=CHAT) == 4
    assert delta(before, after, "omniroute_cost_usd_total", provider="openai", model="gpt-4o-mini") > 0
    # gauges and constants
    assert total(after, "omniroute_in_flight_requests") == 0
    assert total(after, "omniroute_circuit_state", provider="openai") == 0
    assert total(after, "omniroute_cooldowns_active", provider="openai") >= 1  # the 503 set one
    assert (
        total(after, "omniroute_cache_hits_total") == 0 and total(after, "omniroute_cache_misses_total") == 0
    )
    info = [k for k in after if k[0] == "omniroute_build_info"]
    assert len(info) == 1 and after[info[0]] == 1


def test_every_v1_answer_carries_the_overhead_header(gw: GatewayProcess) -> None:
    for method, path in (
        ("GET", "/v1/models"),
        ("GET", "/v1beta/models"),
        ("GET", "/v1/no/such/route"),
        ("POST", CHAT),  # no body: an error answer
    ):
        resp = httpx.request(method, f"{gw.url}{path}", timeout=10)
        overhead_of(resp.headers)
    assert OVERHEAD not in httpx.get(f"{gw.url}/health/live", timeout=10).headers
    after = scrape(gw)
    assert total(after, "omniroute_requests_total", route="/v1/models", status_class="2xx") >= 1
    assert total(after, "omniroute_requests_total", route="other", status_class="4xx") >= 1


def test_metrics_are_loopback_only_without_a_token(gw: GatewayProcess) -> None:
    # The gateway trusts X-Forwarded-For here, so this caller is not on the loopback.
    resp = httpx.get(f"{gw.url}/metrics", headers={"x-forwarded-for": "203.0.113.5"}, timeout=10)
    assert resp.status_code == 403
    # Inference keys do not matter either way.
    assert (
        httpx.get(f"{gw.url}/metrics", headers={"authorization": "Bearer sk-x"}, timeout=10).status_code
        == 200
    )


# ---- a token, per-key labels, and a key rate limit -----------------------------------------------


def test_token_protected_scrape_with_hashed_per_key_series(
    mock: MockProvider, tmp_path_factory: pytest.TempPathFactory
) -> None:
    extra = f"""
[metrics]
token = "{SCRAPE_TOKEN}"
per_key_labels = true

[[api_keys]]
name = "team-a"
key = "{INFERENCE_KEY}"

[[api_keys]]
name = "slow-lane"
key = "{RPM_KEY}"
rpm = 1
"""
    base = tmp_path_factory.mktemp("metrics-token")
    with GatewayProcess(base / "data", config(mock, extra)) as proc:
        assert httpx.get(f"{proc.url}/metrics", timeout=10).status_code == 401
        wrong = httpx.get(f"{proc.url}/metrics", headers={"authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401
        mock.script_for_key(OA_KEY, USAGE)
        client(proc, INFERENCE_KEY).chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
        slow = client(proc, RPM_KEY)
        slow.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
        with pytest.raises(openai.RateLimitError) as limited:
            slow.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)
        overhead_of(limited.value.response.headers)
        auth = {"authorization": f"Bearer {SCRAPE_TOKEN}"}
        raw = httpx.get(f"{proc.url}/metrics", headers=auth, timeout=10).text
        assert INFERENCE_KEY not in raw and RPM_KEY not in raw and "team-a" not in raw
        samples = scrape(proc, auth)
        keys = {
            dict(labels)["api_key"] for name, labels in samples if name == "omniroute_api_key_requests_total"
        }
        assert len(keys) == 2 and all(re.fullmatch(r"[0-9a-f]{12}", k) for k in keys)
        assert total(samples, "omniroute_api_key_requests_total", status_class="2xx") == 2
        assert total(samples, "omniroute_api_key_requests_total", status_class="4xx") == 1
        assert total(samples, "omniroute_api_key_tokens_total", type="input") == 14
        assert total(samples, "omniroute_rate_limited_requests_total", reason="key_rate_limited") == 1
        assert total(samples, "omniroute_requests_total", status_class="4xx") == 1


# ---- two workers ---------------------------------------------------------------------------------


def counters(samples: Samples) -> Samples:
    """Series that may only grow: counters and histogram buckets, counts and sums."""
    return {
        key: value
        for key, value in samples.items()
        if key[0].endswith(("_total", "_bucket", "_count", "_sum"))
    }


def multiproc_files(data_dir: Path) -> dict[str, set[int]]:
    """Kinds of metric files (counter, histogram, gauge_livesum, ...) and the pids that wrote them."""
    found: dict[str, set[int]] = {}
    for path in (data_dir / "metrics-multiproc").glob("*.db"):
        kind, _, pid = path.stem.rpartition("_")
        found.setdefault(kind, set()).add(int(pid))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for_workers(proc: GatewayProcess, count: int, timeout: float = 15.0) -> None:
    """Until every worker started (Granian hangs on SIGTERM while a worker is still starting)."""
    deadline = time.monotonic() + timeout
    while len(re.findall(r"Started worker-\d+ runtime", proc.logs())) < count:
        assert time.monotonic() < deadline, proc.logs()
        time.sleep(0.05)


def test_two_workers_scrape_monotonic_counters_and_restart_clean(
    mock: MockProvider, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.mktemp("metrics-workers")
    data = base / "data"
    sent = 48
    mock.script_for_key(OA_KEY, {**USAGE, "delay_ms": 40})
    with GatewayProcess(data, config(mock), extra_args=("--workers", "2")) as proc:
        wait_for_workers(proc, 2)
        first = scrape(proc)
        assert total(first, "omniroute_requests_total") == 0

        scrapes = [counters(first)]
        with client(proc) as oa, ThreadPoolExecutor(8) as pool:

            def one(_: int) -> None:
                oa.chat.completions.create(model="openai/gpt-4o-mini", messages=MESSAGES)

            futures = [pool.submit(one, n) for n in range(sent)]
            while not all(f.done() for f in futures):
                scrapes.append(counters(scrape(proc)))
                time.sleep(0.02)
            for future in futures:
                future.result()
        # Each worker applies its updates every 50 ms (and before scrapes it serves itself): the
        # other worker's last calls show up within that.
        deadline = time.monotonic() + 3
        final = scrape(proc)
        while (
            total(final, "gen_ai_server_request_duration_seconds_count") < sent
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
            final = scrape(proc)
        scrapes.append(counters(final))
        assert len(scrapes) >= 5
        for earlier, later in itertools.pairwise(scrapes):
            for key, value in earlier.items():
                assert key in later, f"{key} vanished between scrapes"
                assert later[key] >= value, f"{key} went from {value} to {later[key]}"
        assert total(final, "omniroute_requests_total", route=CHAT, status_class="2xx") == sent
        assert total(final, "omniroute_upstream_attempts_total", provider="openai", outcome="success") == sent
        assert total(final, "gen_ai_server_request_duration_seconds_count") == sent
        assert total(final, "gen_ai_client_token_usage_sum", gen_ai_token_type="input") == 7 * sent
        assert total(final, "gen_ai_client_token_usage_sum", gen_ai_token_type="output") == 3 * sent
        assert total(final, "omniroute_in_flight_requests") == 0
        info = [k for k in final if k[0] == "omniroute_build_info"]
        assert len(info) == 1 and final[info[0]] == 1  # one series, not one per worker
        files = multiproc_files(data)
        workers = files["counter"]
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
    # A clean stop: every worker marked itself dead, so no live gauge outlives it.
    leftover = multiproc_files(data)
    assert not any(kind.startswith("gauge_live") for kind in leftover), leftover

    with GatewayProcess(data, config(mock), extra_args=("--workers", "2")) as again:
        wait_for_workers(again, 2)
        fresh = scrape(again)
        assert total(fresh, "omniroute_requests_total") == 0
        assert total(fresh, "gen_ai_server_request_duration_seconds_count") == 0
        files = multiproc_files(data)
        pids = set().union(*files.values())
        assert pids and pids.isdisjoint(workers), "files of the previous run survived the restart"
        assert all(alive(pid) for pid in pids)
