"""Telemetry: nearest-rank percentiles over a per-provider sliding window (age and count bounds),
request counts, and the health report's process and storage readings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omniroute.observability.health import database_files, peak_rss_bytes, rss_bytes
from omniroute.observability.telemetry import Telemetry, percentile, summarise


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def observe(t: Telemetry, provider: str | None, total: float, **kw: object) -> None:
    fields: dict[str, object] = {
        "outcome": "success",
        "status": 200,
        "total_ms": total,
        "ttft_ms": None,
        "overhead_ms": total / 10,
    }
    fields.update(kw)
    t.observe(provider, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        (list(range(1, 101)), 50, 50),
        (list(range(1, 101)), 95, 95),
        (list(range(1, 101)), 99, 99),
        (list(range(1, 101)), 100, 100),
        (list(range(1, 11)), 50, 5),
        (list(range(1, 11)), 95, 10),
        (list(range(1, 11)), 99, 10),
        ([7.5], 50, 7.5),
        ([7.5], 99, 7.5),
        ([1, 2], 50, 1),
        ([1, 2], 51, 2),
        ([], 50, None),
    ],
)
def test_nearest_rank_percentile(values: list[float], p: float, expected: float | None) -> None:
    assert percentile(values, p) == expected


def test_percentile_is_always_a_measured_value() -> None:
    values = sorted([3.2, 9.9, 1.1, 4.4, 100.0, 2.5, 7.7])
    for p in range(1, 101):
        assert percentile(values, p) in values


def test_summarise_sorts_and_counts() -> None:
    assert summarise([30.0, 10.0, 20.0]) == {"count": 3, "p50": 20.0, "p95": 30.0, "p99": 30.0}
    assert summarise([]) == {"count": 0, "p50": None, "p95": None, "p99": None}


def test_percentiles_per_provider_over_successful_calls() -> None:
    clock = Clock()
    t = Telemetry(clock=clock)
    for ms in range(1, 101):
        observe(t, "openai", float(ms), ttft_ms=float(ms) / 2 if ms % 2 == 0 else None)
    observe(t, "openai", 5000.0, outcome="error", status=502)
    observe(t, "anthropic", 40.0, overhead_ms=1.5)
    snap = t.snapshot()
    openai = snap["providers"]["openai"]
    assert (openai["requests"], openai["errors"]) == (101, 1)
    assert openai["total_ms"] == {"count": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0}
    # Only the 50 even calls streamed: their ttft is 1..50.
    assert openai["ttft_ms"] == {"count": 50, "p50": 25.0, "p95": 48.0, "p99": 50.0}
    assert openai["overhead_ms"]["p50"] == 5.0
    assert snap["providers"]["anthropic"]["overhead_ms"] == {"count": 1, "p50": 1.5, "p95": 1.5, "p99": 1.5}
    assert (snap["window_seconds"], snap["max_samples"], snap["method"]) == (300.0, 1000, "nearest-rank")


def test_window_forgets_samples_older_than_its_age() -> None:
    clock = Clock()
    t = Telemetry(window=60.0, clock=clock)
    observe(t, "openai", 1000.0)  # t = 1000
    clock.now += 30
    observe(t, "openai", 10.0)  # t = 1030
    assert t.snapshot()["providers"]["openai"]["total_ms"]["p99"] == 1000.0
    clock.now += 31  # 1061: the first sample is 61 s old
    snap = t.snapshot()["providers"]["openai"]
    assert snap["requests"] == 1 and snap["total_ms"]["p99"] == 10.0
    clock.now += 60  # everything is old: the provider leaves the report
    assert t.snapshot()["providers"] == {}


def test_window_keeps_only_the_newest_samples_per_provider() -> None:
    clock = Clock()
    t = Telemetry(max_samples=5, clock=clock)
    for ms in (100.0, 200.0, 1.0, 2.0, 3.0, 4.0, 5.0):
        observe(t, "openai", ms)
        clock.now += 1
    observe(t, "gemini", 9.0)
    snap = t.snapshot()["providers"]
    assert snap["openai"]["total_ms"] == {"count": 5, "p50": 3.0, "p95": 5.0, "p99": 5.0}
    assert snap["gemini"]["requests"] == 1  # each provider has its own bound


def test_counts_cover_every_call_including_refusals_before_routing() -> None:
    t = Telemetry(clock=Clock())
    observe(t, "openai", 10.0)
    observe(t, None, 1.0, outcome="error", status=401)
    observe(t, "openai", 10.0, outcome="stream_failed", status=200)
    observe(t, None, 1.0, outcome="client_disconnected", status=499)
    assert t.counts() == {
        "total": 4,
        "by_outcome": {"client_disconnected": 1, "error": 1, "stream_failed": 1, "success": 1},
        "by_status": {"2xx": 2, "4xx": 2},
    }
    assert t.snapshot()["providers"]["openai"]["requests"] == 2


def test_rss_and_peak_rss_are_real_readings() -> None:
    rss = rss_bytes()
    if os.path.exists("/proc/self/statm"):
        assert rss is not None and rss > 1024 * 1024
    assert peak_rss_bytes() > 1024 * 1024


def test_database_files_sum_the_main_wal_and_shm_files(tmp_path: Path) -> None:
    assert database_files(tmp_path) == {"main_bytes": 0, "wal_bytes": 0, "shm_bytes": 0, "size_bytes": 0}
    (tmp_path / "omniroute.sqlite").write_bytes(b"x" * 4096)
    (tmp_path / "omniroute.sqlite-wal").write_bytes(b"y" * 100)
    assert database_files(tmp_path) == {
        "main_bytes": 4096,
        "wal_bytes": 100,
        "shm_bytes": 0,
        "size_bytes": 4196,
    }
