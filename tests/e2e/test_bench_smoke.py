"""The benchmark harness cannot rot: a quick run against the references that need no installs.

Runs `python -m bench run --quick --no-install` with the mock hit directly, the thin Granian
proxy and the real OmniRoute process (a few seconds, the built-in load generator), then checks
the result table is complete and every response was a 2xx with the expected body. It asserts
nothing about speed. `python -m bench core --quick` checks the `_core` micro-benchmark still
finds equal outputs; `python -m bench soak --quick` checks the memory soak samples, answers and
reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGETS = ("direct", "thin", "omniroute")
SCENARIOS = ("chat", "stream20", "stream200", "anthropic", "slow", "image")


def run_bench(*args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_quick_run_produces_a_complete_table_with_only_2xx(tmp_path: Path) -> None:
    result = run_bench(
        "run", "--quick", "--no-install", "--no-chart", "--targets", ",".join(TARGETS), "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["skipped"] == {} and data["failures"] == [], (data["skipped"], data["failures"])
    assert set(data["targets"]) == set(TARGETS)

    seen = {(m["scenario"], m["probe"], m["target"]) for m in data["measurements"]}
    for scenario, spec in data["scenarios"].items():
        for probe in spec["probes"]:
            for target in TARGETS:
                if scenario == "anthropic" and target != "omniroute":
                    continue
                assert (scenario, probe["name"], target) in seen, (scenario, probe["name"], target)
    assert set(data["scenarios"]) == set(SCENARIOS)

    for m in data["measurements"]:
        s = m["summary"]
        where = f"{m['scenario']}/{m['probe']}/{m['target']}"
        assert s["requests"] > 0, where
        assert s["non_2xx"] == 0 and s["errors"] == 0 and s["bad_bodies"] == 0, (where, s)
        assert s["latency_ms"]["p50"] is not None and m["rss_peak_mib"] > 0, where
        if m["probe"] == "burst":  # RSS read again after 2 s idle and after light traffic
            assert m["rss_after_mib"] > 0 and m["rss_after_light_mib"] > 0, where

    table = (tmp_path / "results.md").read_text()
    assert "## Summary" in table and "## Non-streaming small chat" in table
    for label in ("mock direct", "thin Granian+aiohttp", "OmniRoute (Python)"):
        assert f"| {label} |" in table
    chart = json.loads((tmp_path / "chart.json").read_text())
    assert chart["panels"], chart


def test_core_micro_benchmark_checks_outputs_then_times(tmp_path: Path) -> None:
    result = run_bench("core", "--quick", "--out", str(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads((tmp_path / "core.json").read_text())
    assert {r["job"].split(",")[0] for r in rows} == {
        "sse-decode",
        "relay",
        "rewrite model",
        "inspect",
        "injection",
        "pii",
    }
    assert all(r["core_us"] > 0 and r["python_us"] > 0 for r in rows)


def test_quick_soak_samples_rss_and_every_answer_is_ok(tmp_path: Path) -> None:
    result = run_bench("soak", "--quick", "--no-pin", "--out", str(tmp_path), timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads((tmp_path / "soak.json").read_text())
    for key in (
        "idle_rss_mib",
        "rss_after_warmup_mib",
        "rss_end_mib",
        "rss_peak_mib",
        "growth_mib",
        "slope_mib_per_hour",
        "achieved_rps",
    ):
        assert key in data, key
    assert 0 < data["idle_rss_mib"] <= data["rss_peak_mib"], data
    assert len(data["series"]) >= 2
    assert all(s["rss_mib"] > 0 and s["t_s"] >= 0 for s in data["series"])
    requests = data["requests"]
    assert requests["sent"] > 0 and requests["failed"] == 0 and requests["ok"] == requests["sent"], requests
    assert requests["unfinished"] == 0 and data["series"][-1]["done"] == requests["sent"], data["series"]
    assert set(data["kinds"]) == {"chat", "stream20", "anthropic"}
    assert all(k["sent"] > 0 for k in data["kinds"].values()), data["kinds"]
    assert [v["what"] for v in data["verdicts"]] == [
        "idle RSS",
        "RSS under load (peak)",
        "growth over the soak",
    ]
    assert not data["died"]
    table = (tmp_path / "soak.md").read_text()
    assert "| idle RSS (after start-up) |" in table and "## RSS series" in table
