"""`python -m bench soak`: OmniRoute's memory over a long fixed-rate run.

Serves the issue's memory targets: idle RSS <= 80 MiB, <= 100 MiB under load, growth <= 5 MiB
over a 10-minute soak. The mock upstream and OmniRoute are started exactly as `run` starts them
(same configuration, same CPU pinning); the idle RSS is read after start-up, before any request;
then the built-in generator drives an open-loop mix at a fixed total rate for the whole duration:

    chat        70 %  non-streaming small chat            answer must hold the chat text
    stream20    20 %  OpenAI stream of 20 events          answer must end with `[DONE]`
    anthropic   10 %  `/v1/messages`, translated stream   answer must end with `message_stop`

RSS (summed over the process tree, as `run` does) and CPU seconds are sampled every 5 s with
timestamps, and the peak every 0.5 s. The PSS (shared pages split between the processes that
share them, so Granian's supervisor and worker are not counted twice) is read at idle and after
the load, for reference; the verdicts use RSS, as the issue does. `bench.soak_report` turns the samples into the figures and
verdicts. Everything is bounded: start-up waits, the load's own deadline plus a hard one, and the
processes are stopped in `finally`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import scenarios as sc
from .installs import note
from .loadgen import HttpRequest, LoadResult, LoadSpec, new_runner, run_load
from .procs import MIB, CpuPlan, RssSampler, Service, cpu_seconds, descendants, pss_bytes, rss_bytes
from .runner import cpu_model, git, process_list, raise_fd_limit, request_headers
from .soak_report import failed, finished, markdown, summarize
from .targets import REPO, Context, Target, Unavailable, start_mock, start_omniroute

#: Scenario name and its share of the requests.
MIX: tuple[tuple[str, float], ...] = (("chat", 0.7), ("stream20", 0.2), ("anthropic", 0.1))


@dataclass(frozen=True)
class SoakOptions:
    minutes: float | None = None
    rate: float | None = None
    quick: bool = False
    pin: bool = True
    out: Path = REPO / "bench" / "out"


@dataclass(frozen=True)
class SoakPlan:
    duration_s: float
    rate: float
    #: Seconds between RSS/CPU samples of the series.
    interval_s: float
    #: Samples before this point are warm-up: first minute, or 20 % of a shorter run.
    warmup_s: float
    #: Pause after start-up before the idle reading, and after the load before the settled one.
    settle_s: float
    #: Per-request timeout of the generator.
    timeout_s: float


def plan_for(opts: SoakOptions) -> SoakPlan:
    if opts.quick:
        duration = 60 * opts.minutes if opts.minutes is not None else 4.0
        return SoakPlan(duration, opts.rate or 40.0, 0.5, 0.2 * duration, 0.5, 10.0)
    duration = 60 * (opts.minutes if opts.minutes is not None else 10.0)
    return SoakPlan(duration, opts.rate or 500.0, 5.0, min(60.0, 0.2 * duration), 2.0, 30.0)


def run_soak(opts: SoakOptions) -> dict[str, Any]:
    plan = plan_for(opts)
    if plan.duration_s <= 0 or plan.rate <= 0:
        raise SystemExit("bench soak: --minutes and --rate must be positive")
    raise_fd_limit()
    cpus = CpuPlan.for_machine(opts.pin)
    if cpus.load:
        os.sched_setaffinity(0, cpus.load)
    workdir = Path(tempfile.mkdtemp(prefix="omniroute-soak-"))
    started, load_before = time.time(), os.getloadavg()
    scenarios = {s.name: s for s in sc.build(sc.QUICK) if s.name in dict(MIX)}
    mock: Service | None = None
    target: Target | None = None
    try:
        mock, mock_port = start_mock(workdir, cpus)
        ctx = Context(
            workdir=workdir,
            mock=mock,
            mock_port=mock_port,
            cpus=cpus,
            allow_install=False,
            models=sorted({s.model for s in scenarios.values()}),
        )
        note("starting omniroute")
        try:
            target = start_omniroute(ctx)
        except (Unavailable, RuntimeError, OSError) as exc:
            raise SystemExit(f"bench soak: OmniRoute did not start: {exc}") from exc
        time.sleep(plan.settle_s)
        pid = target.service.pid
        processes = process_list(pid)
        idle_mib = rss_bytes(descendants(pid)) / MIB
        idle_pss_mib = pss_bytes(descendants(pid)) / MIB
        note(f"idle RSS {idle_mib:.1f} MiB; {plan.rate:g} requests/s for {plan.duration_s:g} s")
        requests = {
            name: HttpRequest.post(
                target.base_url + s.path, target.body(s.body), request_headers(target, s), s.expect_tail
            )
            for name, s in scenarios.items()
        }
        with RssSampler(descendants(pid), interval=0.5) as peak, new_runner() as loop_runner:
            load = loop_runner.run(_drive(requests, plan, target.service))
        time.sleep(plan.settle_s)
        alive = target.service.alive()
        settled_mib = rss_bytes(descendants(pid)) / MIB if alive else None
        settled_pss_mib = pss_bytes(descendants(pid)) / MIB if alive else None
        version, notes = target.version, list(target.notes)
        troubled = load["died"] or any(failed(r) for r in load["results"].values())
        log_tail = target.service.logs(3000) if troubled else ""
    finally:
        if target is not None:
            target.stop()
        if mock is not None:
            mock.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    meta = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "duration_s": round(time.time() - started, 1),
        "mode": "quick" if opts.quick else "full",
        "commit": git("rev-parse", "--short", "HEAD")
        + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""),
        "cpu": cpu_model(),
        "cpus_online": os.cpu_count(),
        "pinning": cpus.describe(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "omniroute": version,
        "omniroute_notes": notes,
        # Only when something failed: the end of OmniRoute's own output, for the diagnosis.
        "omniroute_log_tail": log_tail,
    }
    return summarize(
        meta=meta,
        plan=plan.__dict__,
        mix={name: share for name, share in MIX},
        idle_mib=idle_mib,
        pss_mib={"idle": idle_pss_mib, "settled": settled_pss_mib},
        processes=processes,
        series=load["series"],
        peak_mib=peak.peak / MIB,
        settled_mib=settled_mib,
        results=load["results"],
        rates={name: plan.rate * share for name, share in MIX},
        elapsed_s=load["elapsed_s"],
        died=load["died"],
    )


async def _drive(requests: dict[str, HttpRequest], plan: SoakPlan, service: Service) -> dict[str, Any]:
    """Runs the mix at the plan's rate and samples the gateway's tree until the load ends."""
    results = {name: LoadResult() for name in requests}
    shares = dict(MIX)
    t0 = time.perf_counter()
    cpu0 = cpu_seconds(descendants(service.pid))
    series = [_sample(service.pid, t0, cpu0, results)]
    load = asyncio.gather(
        *(
            run_load(
                req,
                LoadSpec(duration=plan.duration_s, rate=plan.rate * shares[name], timeout=plan.timeout_s),
                results[name],
            )
            for name, req in requests.items()
        )
    )
    # The load ends by its own deadline (last request due + its timeout); this one is a backstop.
    hard_deadline = t0 + plan.duration_s + plan.timeout_s + 15
    progress_every = max(1, round(60 / plan.interval_s))
    died = False
    n = 1
    while not load.done():
        delay = t0 + n * plan.interval_s - time.perf_counter()
        if delay > 0:
            await asyncio.wait({load}, timeout=delay)
        if load.done():
            break
        if not service.alive() or time.perf_counter() > hard_deadline:
            died = not service.alive()
            note("omniroute exited during the soak" if died else "load overran its deadline; stopping it")
            load.cancel()
            await asyncio.wait({load})
            with contextlib.suppress(asyncio.CancelledError):
                load.exception()  # retrieved, so asyncio does not log it
            break
        series.append(_sample(service.pid, t0, cpu0, results))
        n += 1
        if n % progress_every == 0 and plan.interval_s >= 1:
            s = series[-1]
            note(f"  {s['t_s']:>6.0f} s  RSS {s['rss_mib']:.1f} MiB  done {s['done']}  failed {s['failed']}")
    elapsed = time.perf_counter() - t0
    if not died:  # a dead tree has no RSS to read: the series ends with its last live sample
        if len(series) > 1 and series[-1]["t_s"] > elapsed - plan.interval_s / 2:
            series.pop()  # a periodic sample just before the end: the end sample replaces it
        series.append(_sample(service.pid, t0, cpu0, results))
    return {"series": series, "results": results, "elapsed_s": elapsed, "died": died}


def _sample(pid: int, t0: float, cpu0: float, results: dict[str, LoadResult]) -> dict[str, Any]:
    pids = descendants(pid)
    return {
        "t_s": round(time.perf_counter() - t0, 3),
        "unix_s": round(time.time(), 3),
        "rss_mib": round(rss_bytes(pids) / MIB, 2),
        "cpu_s": round(cpu_seconds(pids) - cpu0, 2),
        "done": sum(finished(r) for r in results.values()),
        "failed": sum(failed(r) for r in results.values()),
    }


def main(opts: SoakOptions) -> int:
    data = run_soak(opts)
    opts.out.mkdir(parents=True, exist_ok=True)
    path = opts.out / "soak.json"
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    text = markdown(data)
    (opts.out / "soak.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    note(f"wrote {path}, {opts.out / 'soak.md'}")
    return 0


__all__ = ["MIX", "SoakOptions", "SoakPlan", "main", "plan_for", "run_soak"]
