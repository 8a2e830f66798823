"""Prometheus metrics: names, buckets, labels, the cardinality guard, overhead timing, the
/metrics endpoint's access rules and the multiprocess directory handling."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from omniroute.api.metrics import make_metrics_endpoint
from omniroute.errors import GatewayError
from omniroute.gateway import CallState
from omniroute.http.request import Request
from omniroute.observability import metrics as m
from omniroute.observability import metrics_multiproc as mp
from omniroute.observability import timing as t
from omniroute.providers.registry import BY_NAME
from omniroute.resilience.breakers import Breakers
from omniroute.resilience.cooldowns import Cooldowns
from omniroute.routing.catalog import Account, Catalog
from omniroute.routing.combos import Combo, ComboEntry
from omniroute.routing.resolve import Target
from omniroute.settings import MetricsSettings, Settings

SPEC_BUCKETS = {
    "gen_ai_client_token_usage": [
        1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
    ],
    "gen_ai_server_request_duration_seconds": [
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ],
    "gen_ai_server_time_to_first_token_seconds": [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    ],
    "gen_ai_server_time_per_output_token_seconds": [
        0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
    ],
}  # fmt: skip
GENAI = {"gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_response_model"}


# ---- helpers ------------------------------------------------------------------------------------


def account(provider: str, name: str = "main", models: tuple[str, ...] = ()) -> Account:
    return Account(
        connection_id=1,
        name=name,
        provider=BY_NAME[provider],
        base_url="http://127.0.0.1:1",
        api_key="k",
        priority=1,
        models=models,
    )


def catalog() -> Catalog:
    accounts = {
        "openai": (account("openai"),),
        "anthropic": (account("anthropic", models=("claude-mock-1",)),),
    }
    return Catalog(
        accounts=accounts,
        providers={"openai": BY_NAME["openai"], "anthropic": BY_NAME["anthropic"]},
        keys={},
        combos={
            "fb": Combo(
                name="fb",
                strategy="priority",
                entries=(ComboEntry(model="openai/gpt-4o"), ComboEntry(model="anthropic/claude-mock-1")),
            )
        },
        aliases={"fast": "openai/gpt-4o-mini"},
    )


def runtime(**metrics: Any) -> Any:
    return SimpleNamespace(
        catalog=catalog(),
        breakers=Breakers(threshold=1, reset_timeout=30.0),
        cooldowns=Cooldowns(),
        settings=Settings(metrics=MetricsSettings(**metrics)),
    )


def new_metrics(**settings: Any) -> tuple[m.Metrics, Any]:
    rt = runtime(**settings)
    metrics = m.Metrics(rt.settings, rt)
    rt.metrics = metrics
    return metrics, rt


class Recorder:
    """A stand-in for Granian's RSGI protocol that records the answers."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, list[tuple[str, str]], bytes | None]] = []

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.answers.append((status, list(headers), body))

    def response_stream(self, status: int, headers: list[tuple[str, str]]) -> str:
        self.answers.append((status, list(headers), None))
        return "transport"


def request(
    path: str = "/v1/chat/completions",
    *,
    client: str = "127.0.0.1:50000",
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[Request, Recorder]:
    scope = SimpleNamespace(
        method=method, path=path, query_string="", headers=headers or {}, client=client, proto="http"
    )
    recorder = Recorder()
    return Request(scope, recorder), recorder


def scrape(metrics: m.Metrics) -> dict[str, Any]:
    body, _ = metrics.exposition(None)
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def value(families: dict[str, Any], sample: str, **labels: str) -> float:
    total = 0.0
    for family in families.values():
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def usage(input_tokens: int, output_tokens: int) -> Any:
    return SimpleNamespace(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=0,
        cache_creation_tokens=0,
        reasoning_tokens=0,
    )


def call(
    *,
    status: int = 200,
    outcome: str = "success",
    provider: str | None = "openai",
    model: str | None = "gpt-4o-mini",
    requested: str | None = "openai/gpt-4o-mini",
    tokens: tuple[int, int] | None = (7, 3),
    ttft_ms: float | None = None,
    api_key: Any = None,
) -> CallState:
    state = CallState()
    state.status, state.outcome = status, outcome
    state.provider, state.model, state.requested_model = provider, model, requested
    state.usage = usage(*tokens) if tokens else None
    state.ttft_ms = ttft_ms
    state.api_key = api_key
    return state


def run_call(
    metrics: m.Metrics, state: CallState, *, latency_ms: float = 500.0, cost: float | None = None
) -> None:
    req, _ = request()
    metrics.track(req)
    metrics.call_started(req, "/v1/chat/completions")
    metrics.record_call(req, state, route="/v1/chat/completions", latency_ms=latency_ms, cost=cost)


# ---- names and buckets --------------------------------------------------------------------------


def test_genai_histograms_use_the_spec_names_and_buckets() -> None:
    metrics, _ = new_metrics()
    run_call(metrics, call(ttft_ms=100.0))
    families = scrape(metrics)
    for name, buckets in SPEC_BUCKETS.items():
        assert families[name].type == "histogram", name
        bounds = sorted({float(s.labels["le"]) for s in families[name].samples if s.name == f"{name}_bucket"})
        assert bounds == [*map(float, buckets), float("inf")], name
    assert list(m.TOKEN_BUCKETS) == SPEC_BUCKETS["gen_ai_client_token_usage"]


def test_every_documented_series_is_exported() -> None:
    metrics, _ = new_metrics()
    metrics.refresh()
    families = scrape(metrics)
    for name in (
        "omniroute_requests",
        "omniroute_upstream_attempts",
        "omniroute_fallbacks",
        "omniroute_rate_limited_requests",
        "omniroute_budget_blocked_requests",
        "omniroute_cache_hits",
        "omniroute_cache_misses",
        "omniroute_cost_usd",
        "omniroute_circuit_state",
        "omniroute_cooldowns_active",
        "omniroute_in_flight_requests",
        "omniroute_gateway_overhead_seconds",
        "omniroute_build_info",
        *SPEC_BUCKETS,
    ):
        assert name in families, name
    # No response cache yet: the series exist at 0.
    assert value(families, "omniroute_cache_hits_total") == 0
    assert value(families, "omniroute_cache_misses_total") == 0
    info = [s for s in families["omniroute_build_info"].samples]
    assert len(info) == 1 and info[0].value == 1
    assert set(info[0].labels) == {"version", "python", "core"}
    # Per-key series only on request.
    assert not any(name.startswith("omniroute_api_key") for name in families)


# ---- labels -------------------------------------------------------------------------------------


def test_a_successful_stream_records_every_genai_series() -> None:
    metrics, _ = new_metrics()
    run_call(metrics, call(ttft_ms=200.0, tokens=(7, 11)), latency_ms=1200.0, cost=0.25)
    families = scrape(metrics)
    base = {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "openai",
        "gen_ai_request_model": "openai/gpt-4o-mini",
        "gen_ai_response_model": "gpt-4o-mini",
        "error_type": "",
    }
    duration = [
        s for s in families["gen_ai_server_request_duration_seconds"].samples if s.name.endswith("_sum")
    ]
    assert [s.labels for s in duration] == [base]
    assert duration[0].value == pytest.approx(1.2)
    assert value(families, "gen_ai_client_token_usage_sum", gen_ai_token_type="input", **base) == 7
    assert value(families, "gen_ai_client_token_usage_sum", gen_ai_token_type="output", **base) == 11
    assert value(families, "gen_ai_server_time_to_first_token_seconds_sum", **base) == pytest.approx(0.2)
    # (1.2 s - 0.2 s) over the 10 tokens after the first.
    assert value(families, "gen_ai_server_time_per_output_token_seconds_sum", **base) == pytest.approx(0.1)
    assert value(families, "omniroute_requests_total", route="/v1/chat/completions", status_class="2xx") == 1
    assert value(families, "omniroute_cost_usd_total", provider="openai", model="gpt-4o-mini") == 0.25
    assert value(families, "omniroute_gateway_overhead_seconds_count", provider="openai") == 1
    assert value(families, "omniroute_in_flight_requests") == 0


def test_calls_queued_in_a_running_loop_add_up_per_shape_at_the_scrape() -> None:
    """Inside the event loop calls are only queued; the scrape counts them, summed per shape."""
    metrics, _ = new_metrics()

    async def calls() -> None:
        for latency_ms, tokens in ((50.0, (1, 2)), (300.0, (10, 20)), (9000.0, (100, 200))):
            run_call(metrics, call(tokens=tokens), latency_ms=latency_ms, cost=0.5)
        run_call(metrics, call(status=502, outcome="error", tokens=None), latency_ms=20.0)
        assert metrics._calls  # nothing counted yet: the flush timer has not run

    asyncio.run(calls())
    families = scrape(metrics)
    ok = {"gen_ai_response_model": "gpt-4o-mini", "error_type": ""}
    duration = "gen_ai_server_request_duration_seconds"
    assert value(families, f"{duration}_count", **ok) == 3
    assert value(families, f"{duration}_sum", **ok) == pytest.approx(9.35)
    assert value(families, f"{duration}_bucket", le="0.08", **ok) == 1
    assert value(families, f"{duration}_bucket", le="0.32", **ok) == 2
    assert value(families, f"{duration}_bucket", le="+Inf", **ok) == 3
    assert value(families, "gen_ai_client_token_usage_sum", gen_ai_token_type="output", **ok) == 222
    assert value(families, f"{duration}_count", error_type="502") == 1
    assert value(families, "gen_ai_client_token_usage_count", error_type="502") == 0
    assert value(families, "omniroute_requests_total", status_class="2xx") == 3
    assert value(families, "omniroute_requests_total", status_class="5xx") == 1
    assert value(families, "omniroute_cost_usd_total", model="gpt-4o-mini") == pytest.approx(1.5)
    assert value(families, "omniroute_gateway_overhead_seconds_count") == 4
    assert value(families, "omniroute_in_flight_requests") == 0


def test_failures_carry_error_type_and_empty_labels_where_nothing_applies() -> None:
    metrics, _ = new_metrics()
    run_call(
        metrics, call(status=404, outcome="error", provider=None, model=None, requested="nope/x", tokens=None)
    )
    run_call(metrics, call(outcome="stream_failed", ttft_ms=50.0))
    families = scrape(metrics)
    labels = [
        s.labels
        for s in families["gen_ai_server_request_duration_seconds"].samples
        if s.name.endswith("_count")
    ]
    assert {
        "gen_ai_operation_name": "chat",
        "gen_ai_provider_name": "",
        "gen_ai_request_model": "other",
        "gen_ai_response_model": "",
        "error_type": "404",
    } in labels
    assert any(label["error_type"] == "stream_failed" for label in labels)
    # No time per output token for a stream that did not complete.
    assert value(families, "gen_ai_server_time_per_output_token_seconds_count") == 0
    assert value(families, "omniroute_requests_total", status_class="4xx") == 1


def test_errors_count_budget_and_rate_limit_refusals() -> None:
    metrics, _ = new_metrics()
    metrics.note_error(GatewayError(429, "budget", code="budget_exceeded"))
    metrics.note_error(GatewayError(429, "rpm", code="key_rate_limited"))
    metrics.note_error(GatewayError(429, "busy", code="key_concurrency_limited"))
    metrics.note_error(GatewayError(429, "upstream says slow down", code="rate_limit_exceeded"))
    metrics.note_error(GatewayError(400, "bad", code="invalid_request"))
    metrics.note_refusal(429, "rate_limited")
    metrics.note_refusal(403, "ip_denied")
    families = scrape(metrics)
    assert value(families, "omniroute_budget_blocked_requests_total") == 1
    for reason in ("key_rate_limited", "key_concurrency_limited", "upstream", "ip_rate_limited"):
        assert value(families, "omniroute_rate_limited_requests_total", reason=reason) == 1, reason


def test_attempts_and_fallbacks_are_labelled_by_provider_and_target() -> None:
    metrics, rt = new_metrics()
    openai = Target(provider=BY_NAME["openai"], model="gpt-4o", accounts=rt.catalog.accounts["openai"])
    claude = Target(
        provider=BY_NAME["anthropic"], model="claude-mock-1", accounts=rt.catalog.accounts["anthropic"]
    )
    stranger = Target(provider=BY_NAME["openai"], model="made-up-model", accounts=())
    metrics.upstream_attempt("openai", "transient")
    metrics.upstream_attempt("anthropic", "success")
    metrics.fallback(openai, claude, "transient")
    metrics.fallback(stranger, claude, None)
    families = scrape(metrics)
    assert value(families, "omniroute_upstream_attempts_total", provider="openai", outcome="transient") == 1
    assert value(families, "omniroute_upstream_attempts_total", provider="anthropic", outcome="success") == 1
    assert (
        value(
            families,
            "omniroute_fallbacks_total",
            **{"from": "openai/gpt-4o", "to": "anthropic/claude-mock-1", "reason": "transient"},
        )
        == 1
    )
    assert value(families, "omniroute_fallbacks_total", **{"from": "openai/other", "reason": "unknown"}) == 1


# ---- cardinality --------------------------------------------------------------------------------


def test_model_labels_only_carry_known_models() -> None:
    labels = m.ModelLabels()
    cat = catalog()
    for known in (
        "gpt-4o-mini",
        "openai/gpt-4o-mini",
        "fb",
        "fast",
        "claude-mock-1",
        "anthropic/claude-mock-1",
    ):
        assert labels.label(cat, known) == known
    assert labels.label(cat, "openai/whatever-you-like") == m.OTHER
    assert labels.label(cat, "claude-mock-1-but-not-really") == m.OTHER
    assert labels.label(cat, None) == ""


def test_model_labels_are_capped() -> None:
    labels = m.ModelLabels(limit=2)
    cat = catalog()
    assert labels.label(cat, "gpt-4o") == "gpt-4o"
    assert labels.label(cat, "gpt-4o-mini") == "gpt-4o-mini"
    assert labels.label(cat, "o3") == m.OTHER
    assert labels.label(cat, "gpt-4o") == "gpt-4o"


def test_thousands_of_junk_models_make_one_series() -> None:
    metrics, _ = new_metrics()
    for n in range(300):
        run_call(metrics, call(status=404, outcome="error", requested=f"junk-{n}", model=None, tokens=None))
    families = scrape(metrics)
    series = [
        s for s in families["gen_ai_server_request_duration_seconds"].samples if s.name.endswith("_count")
    ]
    assert len(series) == 1 and series[0].value == 300


def test_route_labels_are_templates() -> None:
    assert m.route_label("/v1/chat/completions") == "/v1/chat/completions"
    assert m.route_label("/v1/responses/resp_123") == "/v1/responses/{id}"
    assert m.route_label("/v1/models/openai/gpt-4o") == "/v1/models/{id}"
    assert (
        m.route_label("/v1/providers/openai/chat/completions") == "/v1/providers/{provider}/chat/completions"
    )
    assert (
        m.route_label("/v1beta/models/gemini-2.5-flash:countTokens") == "/v1beta/models/{model}:countTokens"
    )
    assert m.route_label("/v1beta/models/gemini-2.5-flash") == "/v1beta/models/{model}"
    assert m.route_label("/v1/anything/else/42") == m.OTHER
    assert m.route_label("/v1beta/models/x:hack") == m.OTHER


def test_per_key_series_carry_a_hash_of_the_key_id_only() -> None:
    metrics, _ = new_metrics(per_key_labels=True)
    key = SimpleNamespace(id="key_0123456789abcdef", name="team-a")
    run_call(metrics, call(api_key=key), cost=0.5)
    body = metrics.exposition(None)[0].decode()
    families = scrape(metrics)
    hashed = m.key_label(key.id)
    assert len(hashed) == 12 and key.id not in body and "team-a" not in body
    assert value(families, "omniroute_api_key_requests_total", api_key=hashed, status_class="2xx") == 1
    assert value(families, "omniroute_api_key_tokens_total", api_key=hashed, type="input") == 7
    assert value(families, "omniroute_api_key_tokens_total", api_key=hashed, type="output") == 3
    assert value(families, "omniroute_api_key_cost_usd_total", api_key=hashed) == 0.5


def test_disabled_metrics_record_nothing() -> None:
    metrics, _ = new_metrics(enabled=False)
    run_call(metrics, call())
    metrics.note_error(GatewayError(429, "budget", code="budget_exceeded"))
    families = scrape(metrics)
    assert value(families, "omniroute_requests_total") == 0
    assert value(families, "omniroute_budget_blocked_requests_total") == 0


# ---- state gauges -------------------------------------------------------------------------------


def test_refresh_sets_circuit_state_and_cooldowns_per_provider() -> None:
    metrics, rt = new_metrics()
    now = time.monotonic()
    rt.breakers.failure("provider:openai", now)
    rt.cooldowns.record(
        "openai/main", "gpt-4o", scope="model", seconds=60, started_at=now, now=now, reason="rate_limit"
    )
    rt.cooldowns.record(
        "openai/main", "gpt-4o-mini", scope="model", seconds=60, started_at=now, now=now, reason="rate_limit"
    )
    metrics.refresh()
    families = scrape(metrics)
    assert value(families, "omniroute_circuit_state", provider="openai") == 2
    assert value(families, "omniroute_circuit_state", provider="anthropic") == 0
    assert value(families, "omniroute_cooldowns_active", provider="openai") == 2
    assert value(families, "omniroute_cooldowns_active", provider="anthropic") == 0
    rt.breakers.get("provider:openai").allow(now + 60)  # the reset timeout passed: one probe
    metrics.refresh()
    assert value(scrape(metrics), "omniroute_circuit_state", provider="openai") == 1


# ---- overhead -----------------------------------------------------------------------------------


def test_overhead_header_on_answers_and_upstream_wait_excluded() -> None:
    metrics, _ = new_metrics()
    req, recorder = request()
    metrics.track(req)
    timing = t.timing_of(req)
    assert timing is not None
    with t.upstream_wait(req):
        time.sleep(0.05)
    req.respond(502, b"{}")
    status, headers, _ = recorder.answers[-1]
    overhead_ms = float(dict(headers)[t.OVERHEAD_HEADER])
    assert status == 502
    assert 0 <= overhead_ms < 40, overhead_ms
    assert timing.upstream_wait >= 0.05
    # The gateway did not take this one: counted at the answer, under its route template.
    families = scrape(metrics)
    assert value(families, "omniroute_requests_total", route="/v1/chat/completions", status_class="5xx") == 1


def test_streams_get_the_header_when_they_start() -> None:
    metrics, _ = new_metrics()
    req, recorder = request("/v1beta/models/gemini-2.5-flash:streamGenerateContent")
    metrics.track(req)
    metrics.call_started(req, "/v1beta/models/{model}:streamGenerateContent")
    assert req.start_stream(200, []) == "transport"
    assert t.OVERHEAD_HEADER in dict(recorder.answers[-1][1])
    # Counted once, by the gateway's record, not at the answer.
    assert value(scrape(metrics), "omniroute_requests_total") == 0


def test_untracked_paths_get_no_header() -> None:
    metrics, _ = new_metrics()
    req, recorder = request("/api/keys", method="GET")
    metrics.track(req)
    req.respond(200, b"[]")
    assert t.OVERHEAD_HEADER not in dict(recorder.answers[-1][1])


def test_timing_is_found_through_other_wrappers() -> None:
    metrics, _ = new_metrics()
    req, _ = request()
    metrics.track(req)
    outer = SimpleNamespace(_inner=req.protocol)
    req.protocol = outer
    assert t.timing_of(req) is not None


def test_timed_chunks_count_the_wait_for_each_chunk() -> None:
    metrics, _ = new_metrics()
    req, _ = request()
    metrics.track(req)

    async def slow() -> AsyncIterator[bytes]:
        for part in (b"a", b"b"):
            await asyncio.sleep(0.03)
            yield part

    async def drain() -> list[bytes]:
        chunks = t.timed_chunks(req, slow())
        got = []
        async for chunk in chunks:
            got.append(chunk)
            break
        async for chunk in chunks:  # resumed after a break, as relay_stream does
            got.append(chunk)
        return got

    assert asyncio.run(drain()) == [b"a", b"b"]
    timing = t.timing_of(req)
    assert timing is not None and timing.upstream_wait >= 0.06


# ---- /metrics access ----------------------------------------------------------------------------


def serve(rt: Any, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    handler = make_metrics_endpoint(rt)
    req, recorder = request("/metrics", method="GET", **kwargs)
    asyncio.run(handler(req))
    status, headers, body = recorder.answers[-1]
    return status, dict(headers), body or b""


def test_metrics_endpoint_is_loopback_only_without_a_token() -> None:
    _, rt = new_metrics()
    status, headers, body = serve(rt)
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert b"omniroute_build_info" in body
    assert serve(rt, client="203.0.113.9:4000")[0] == 403


def test_metrics_endpoint_with_a_token_wants_it_from_everyone() -> None:
    _, rt = new_metrics(token="scrape-token-0123456789")
    assert serve(rt)[0] == 401
    assert serve(rt, headers={"authorization": "Bearer wrong"})[0] == 401
    ok = serve(rt, client="203.0.113.9:4000", headers={"authorization": "Bearer scrape-token-0123456789"})
    assert ok[0] == 200


def test_metrics_endpoint_speaks_openmetrics_when_asked() -> None:
    _, rt = new_metrics()
    status, headers, body = serve(rt, headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert status == 200 and headers["content-type"].startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_disabled_metrics_endpoint_is_not_found() -> None:
    _, rt = new_metrics(enabled=False)
    assert serve(rt)[0] == 404


def test_metrics_token_is_hidden_in_settings_repr() -> None:
    settings = Settings(metrics=MetricsSettings(token="scrape-token-0123456789"))
    assert "scrape-token" not in repr(settings)


# ---- multiprocess directory ---------------------------------------------------------------------


def test_one_worker_needs_no_multiprocess_directory(tmp_path: Path) -> None:
    env = {mp.MULTIPROC_ENV: "/somewhere"}
    assert mp.prepare_multiproc_dir(Settings(data_dir=str(tmp_path), workers=1), env) is None
    assert mp.MULTIPROC_ENV not in env


def test_several_workers_get_a_wiped_directory(tmp_path: Path) -> None:
    stale = tmp_path / mp.DIR_NAME / "counter_4242.db"
    stale.parent.mkdir()
    stale.write_bytes(b"old counts")
    env: dict[str, str] = {}
    path = mp.prepare_multiproc_dir(Settings(data_dir=str(tmp_path), workers=2), env)
    assert path == tmp_path / mp.DIR_NAME
    assert path.is_dir() and list(path.iterdir()) == []
    assert env[mp.MULTIPROC_ENV] == str(path)
    assert mp.multiproc_dir(env) == path


def test_disabled_metrics_need_no_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), workers=4, metrics=MetricsSettings(enabled=False))
    assert mp.prepare_multiproc_dir(settings, {}) is None
    assert not (tmp_path / mp.DIR_NAME).exists()


def test_sweep_marks_dead_workers_only(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead, me = child.pid, os.getpid()
    names = [
        f"gauge_livesum_{dead}.db",
        f"gauge_livemax_{dead}.db",
        f"counter_{dead}.db",
        f"gauge_livesum_{me}.db",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert mp.pid_alive(me) and not mp.pid_alive(dead)
    assert mp.sweep_dead_workers(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"counter_{dead}.db", f"gauge_livesum_{me}.db"]
    )
