"""`python -m bench run`: starts the mock and every target, runs interleaved rounds, saves results.

One run, one machine, one mock: every target is started once and measured in turn, round after
round (round 1: every scenario on every target, then round 2, ...), so slow drift of the machine
spreads over all targets alike. The harness process itself is the built-in load generator and is
pinned to the load-generator CPU; wrk, when used, is pinned there too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import scenarios as sc
from .installs import ensure_apt, note, tool_version
from .loadgen import HttpRequest, LoadSpec, new_runner, run_load
from .procs import MIB, CpuPlan, RssSampler, Service, cpu_seconds, descendants, rss_bytes
from .targets import BUILTIN, PEERS, REPO, STARTERS, Context, Target, Unavailable, start_mock
from .wrk import run_wrk


@dataclass
class RunOptions:
    quick: bool = False
    duration: float | None = None
    rounds: int | None = None
    scenarios: tuple[str, ...] = sc.NAMES
    targets: tuple[str, ...] = BUILTIN
    loadgen: str = "auto"  # auto | wrk | python
    allow_install: bool = True
    pin: bool = True
    out: Path = REPO / "bench" / "out"
    omniroute_workers: int = 1
    note: str = ""


@dataclass
class RunState:
    opts: RunOptions
    plan: sc.Plan
    workdir: Path
    cpus: CpuPlan
    wrk: str | None
    mock: Service
    targets: dict[str, Target] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    measurements: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    idle_rss: list[dict[str, Any]] = field(default_factory=list)
    #: Per target, its processes at start-up: (pid, command name, RSS MiB).
    processes: dict[str, list[tuple[int, str, float]]] = field(default_factory=dict)


def _plan(opts: RunOptions) -> sc.Plan:
    base = sc.QUICK if opts.quick else sc.FULL
    return sc.Plan(
        duration=opts.duration if opts.duration is not None else base.duration,
        rounds=opts.rounds if opts.rounds is not None else base.rounds,
        warmup=base.warmup,
        rate=base.rate,
        slow_streams=base.slow_streams,
        slow_events=base.slow_events,
        slow_gap_ms=base.slow_gap_ms,
        max_concurrency=base.max_concurrency,
    )


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def run(opts: RunOptions) -> dict[str, Any]:
    plan = _plan(opts)
    scenarios = [s for s in sc.build(plan) if s.name in opts.scenarios]
    raise_fd_limit()
    cpus = CpuPlan.for_machine(opts.pin)
    if cpus.load:
        os.sched_setaffinity(0, cpus.load)
    wrk = None
    # wrk runs whole seconds only, so quick runs keep to the built-in generator unless told.
    if opts.loadgen == "wrk" or (opts.loadgen == "auto" and not opts.quick):
        wrk = ensure_apt("wrk", "wrk", opts.allow_install)
        if wrk is None and opts.loadgen == "wrk":
            raise SystemExit("bench: wrk is not available (install the Debian package `wrk`)")
    workdir = Path(tempfile.mkdtemp(prefix="omniroute-bench-"))
    started = time.time()
    load_before = os.getloadavg()
    mock, mock_port = start_mock(workdir, cpus)
    state = RunState(opts, plan, workdir, cpus, wrk, mock)
    ctx = Context(
        workdir=workdir,
        mock=mock,
        mock_port=mock_port,
        cpus=cpus,
        allow_install=opts.allow_install,
        models=sorted({s.model for s in scenarios}),
        omniroute_workers=opts.omniroute_workers,
    )
    try:
        _start_targets(state, ctx)
        for target in state.targets.values():
            state.processes[target.name] = process_list(target.service.pid)
        with new_runner() as loop_runner:
            for round_no in range(1, plan.rounds + 1):
                note(f"round {round_no}/{plan.rounds}")
                for target in state.targets.values():
                    pids = descendants(target.service.pid)
                    state.idle_rss.append(
                        {"round": round_no, "target": target.name, "rss_mib": rss_bytes(pids) / MIB}
                    )
                for scenario in scenarios:
                    for target in state.targets.values():
                        if scenario.translated and not target.translates:
                            continue
                        _run_scenario(state, loop_runner, round_no, scenario, target)
    finally:
        for target in state.targets.values():
            if target.name != "direct":
                target.stop()
        mock.stop()
    results = {
        "meta": _environment(state, started, load_before),
        "plan": plan.__dict__,
        "scenarios": {
            s.name: {"title": s.title, "probes": [p.__dict__ for p in s.probes]} for s in scenarios
        },
        "targets": {
            t.name: {"version": t.version, "notes": t.notes, "translates": t.translates}
            for t in state.targets.values()
        },
        "skipped": state.skipped,
        "failures": state.failures,
        "idle_rss": state.idle_rss,
        "processes": state.processes,
        "measurements": state.measurements,
    }
    shutil.rmtree(workdir, ignore_errors=True)
    return results


def _start_targets(state: RunState, ctx: Context) -> None:
    """Starts every target at once (they are independent); keeps the requested order."""

    def start(name: str) -> Target | str:
        note(f"starting {name}")
        try:
            return STARTERS[name](ctx)
        except (Unavailable, RuntimeError, OSError) as exc:
            return str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)

    with ThreadPoolExecutor(max_workers=len(state.opts.targets) or 1) as pool:
        started = list(pool.map(start, state.opts.targets))
    for name, outcome in zip(state.opts.targets, started, strict=True):
        if isinstance(outcome, Target):
            state.targets[name] = outcome
        else:
            state.skipped[name] = outcome
            note(f"skipping {name}: {outcome}")


def process_list(pid: int) -> list[tuple[int, str, float]]:
    out = []
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/comm") as fh:
                name = fh.read().strip()
        except OSError:
            continue
        out.append((p, name, round(rss_bytes([p]) / MIB, 1)))
    return out


def request_headers(target: Target, scenario: sc.Scenario) -> dict[str, str]:
    return {"content-type": "application/json", **target.headers, **dict(scenario.extra_headers)}


def _run_scenario(
    state: RunState,
    loop_runner: asyncio.Runner,
    round_no: int,
    scenario: sc.Scenario,
    target: Target,
) -> None:
    if any(f["target"] == target.name and f["scenario"] == scenario.name for f in state.failures):
        return
    url = target.base_url + scenario.path
    body = target.body(scenario.body)
    body_path = state.workdir / f"body-{scenario.name}-{target.name}.json"
    if not body_path.exists():
        body_path.write_bytes(body)
    request = HttpRequest.post(url, body, request_headers(target, scenario), scenario.expect_tail)
    plan = state.plan
    if scenario.name != "slow":
        warm = loop_runner.run(
            run_load(request, LoadSpec(duration=plan.warmup, concurrency=min(10, plan.max_concurrency)))
        )
        if warm.completed - warm.non_2xx == 0 or warm.bad_bodies == warm.completed:
            reason = (
                f"no valid answer in warm-up: statuses {dict(warm.statuses)}, errors {dict(warm.errors)}, "
                f"bad bodies {warm.bad_bodies}"
            )
            state.failures.append({"target": target.name, "scenario": scenario.name, "reason": reason})
            note(f"{target.name}/{scenario.name}: {reason}")
            return
    for probe in scenario.probes:
        if not target.service.alive():
            state.failures.append(
                {"target": target.name, "scenario": scenario.name, "reason": "process died"}
            )
            return
        measurement = _measure(state, loop_runner, scenario, probe, target, request, body_path)
        measurement.update(round=round_no, scenario=scenario.name, probe=probe.name, target=target.name)
        state.measurements.append(measurement)
        s = measurement["summary"]
        note(
            f"  {scenario.name:<9} {probe.name:<5} {target.name:<9} {s['rps']:>9.0f} rps  "
            f"p50 {_ms(s['latency_ms']['p50'])}  p99 {_ms(s['latency_ms']['p99'])}  "
            f"non-2xx {s['non_2xx']}  errors {s['errors']}"
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} ms"


def _measure(
    state: RunState,
    loop_runner: asyncio.Runner,
    scenario: sc.Scenario,
    probe: sc.Probe,
    target: Target,
    request: HttpRequest,
    body_path: Path,
) -> dict[str, Any]:
    plan = state.plan
    pids = descendants(target.service.pid)
    mock_pids = descendants(state.mock.pid)
    rss_before = rss_bytes(pids)
    cpu0, mock0, wall0 = cpu_seconds(pids), cpu_seconds(mock_pids), time.perf_counter()
    use_wrk = probe.wrk_ok and state.wrk is not None
    with RssSampler(pids) as sampler:
        if use_wrk:
            assert state.wrk is not None
            summary = run_wrk(
                state.wrk,
                request_url(target, scenario),
                body_path,
                request_headers(target, scenario),
                concurrency=probe.concurrency,
                duration=plan.duration,
                cpus=state.cpus.load,
                workdir=state.workdir,
            )
        else:
            spec = LoadSpec(
                duration=plan.duration,
                concurrency=probe.concurrency,
                rate=probe.rate,
                per_connection=probe.per_connection,
            )
            summary = loop_runner.run(run_load(request, spec)).summary()
            summary["loadgen"] = "python"
    wall = time.perf_counter() - wall0
    cpu, mock_cpu = cpu_seconds(pids) - cpu0, cpu_seconds(mock_pids) - mock0
    rss_after = rss_after_light = None
    if probe.name == "burst":
        time.sleep(2.0 if plan.duration >= 1 else 0.2)
        rss_after = rss_bytes(pids) / MIB
        light = LoadSpec(duration=plan.light_after, concurrency=1, rate=sc.LIGHT_RATE)
        loop_runner.run(run_load(_light_request(state, target), light))
        rss_after_light = rss_bytes(pids) / MIB
    return {
        "loadgen": summary.get("loadgen", "python"),
        "summary": summary,
        "wall_s": wall,
        "cpu_s": cpu,
        "mock_cpu_s": mock_cpu,
        "rss_before_mib": rss_before / MIB,
        "rss_peak_mib": sampler.peak / MIB,
        "rss_after_mib": rss_after,
        "rss_after_light_mib": rss_after_light,
    }


def _light_request(state: RunState, target: Target) -> HttpRequest:
    """The small chat of the `chat` scenario, for the light traffic after a burst."""
    chat = next(s for s in sc.build(state.plan) if s.name == "chat")
    body = target.body(chat.body)
    return HttpRequest.post(request_url(target, chat), body, request_headers(target, chat), chat.expect_tail)


def request_url(target: Target, scenario: sc.Scenario) -> str:
    return target.base_url + scenario.path


def git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.strip()


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _environment(state: RunState, started: float, load_before: tuple[float, float, float]) -> dict[str, Any]:
    import aiohttp
    import granian

    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "mode": "quick" if state.opts.quick else "full",
        "note": state.opts.note,
        "commit": git("rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if dirty else ""),
        "kernel": platform.release(),
        "cpu": cpu_model(),
        "cpus_online": os.cpu_count(),
        "memory_gib": round(mem_total, 1),
        "python": sys.version.split()[0],
        "granian": granian.__version__,
        "aiohttp": aiohttp.__version__,
        "load_generator": (
            f"{tool_version([state.wrk, '-v'])} for closed-loop throughput; built-in Python generator "
            "(bench/loadgen.py) for latency at concurrency 1, TTFB, fixed rate and bursts"
            if state.wrk
            else "built-in Python generator (bench/loadgen.py) for every probe "
            + ("(quick mode)" if state.opts.quick and state.opts.loadgen == "auto" else "(wrk not available)")
        ),
        "pinning": state.cpus.describe(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def save(results: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    path.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return path


__all__ = ["PEERS", "RunOptions", "run", "save"]
