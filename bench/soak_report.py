"""Figures, verdicts and the table of a soak run (`bench.soak`), from its samples.

    idle            RSS after start-up, before any request
    after warm-up   the first sample at or past the warm-up point (first minute, or 20 % of a short run)
    end             the sample taken as the load ended
    peak            the highest RSS seen during the load (sampled every 0.5 s)
    growth          end minus after warm-up
    slope           least-squares fit of RSS over time on the post-warm-up samples, in MiB/hour

Verdicts compare against the issue's memory targets; a run shorter than 10 minutes says so next
to the growth verdict, since its growth is not the 10-minute figure, and a run in which OmniRoute
exited leaves growth unjudged (`"pass": null`). Requests: `sent` is what the open loop scheduled;
`failed` = sent - ok (non-2xx, transport errors, bad bodies, and any still unfinished when the
load was cut short).
"""

from __future__ import annotations

import math
from typing import Any

from .loadgen import LoadResult

#: The issue's memory targets, in MiB.
IDLE_MAX_MIB = 80.0
LOAD_MAX_MIB = 100.0
GROWTH_MAX_MIB = 5.0
SOAK_TARGET_S = 600.0


def finished(r: LoadResult) -> int:
    """Requests that ended, answered or not."""
    return r.completed + sum(r.errors.values())


def scheduled(duration_s: float, rate: float) -> int:
    """Requests an open loop at `rate` sends in `duration_s` (due at 0, 1/rate, ... < duration)."""
    return math.ceil(duration_s * rate - 1e-9)


def failed(r: LoadResult) -> int:
    """Non-2xx answers, transport errors and 2xx answers without the expected tail."""
    return r.non_2xx + sum(r.errors.values()) + r.bad_bodies


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB) points, in MiB/hour; None without two distinct times."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600


def summarize(
    *,
    meta: dict[str, Any],
    plan: dict[str, Any],
    mix: dict[str, float],
    idle_mib: float,
    pss_mib: dict[str, float | None],
    processes: list[tuple[int, str, float]],
    series: list[dict[str, Any]],
    peak_mib: float,
    settled_mib: float | None,
    results: dict[str, LoadResult],
    rates: dict[str, float],
    elapsed_s: float,
    died: bool,
) -> dict[str, Any]:
    warm = next((s for s in series if s["t_s"] >= plan["warmup_s"]), series[-1])
    end = series[-1]
    post = [(s["t_s"], s["rss_mib"]) for s in series if s["t_s"] >= warm["t_s"]]
    peak = max([peak_mib, *(s["rss_mib"] for s in series)])
    growth = end["rss_mib"] - warm["rss_mib"]
    kinds = {}
    for name, r in results.items():
        summary = r.summary()
        sent = scheduled(plan["duration_s"], rates[name])
        ok = r.completed - r.non_2xx - r.bad_bodies
        kinds[name] = {
            "share": mix[name],
            "rate": rates[name],
            "sent": sent,
            "ok": ok,
            "failed": sent - ok,
            "non_2xx": r.non_2xx,
            "errors": sum(r.errors.values()),
            "bad_bodies": r.bad_bodies,
            # Still running when the load was cut short (the backstop deadline, or OmniRoute exited).
            "unfinished": max(0, sent - finished(r)),
            "latency_ms": summary["latency_ms"],
            "statuses": summary["statuses"],
            "error_kinds": summary["error_kinds"],
        }
    fields = ("sent", "ok", "failed", "non_2xx", "errors", "bad_bodies", "unfinished")
    requests = {f: sum(k[f] for k in kinds.values()) for f in fields}
    done = sum(finished(r) for r in results.values())
    soaked = end["t_s"] - warm["t_s"]
    span = f"{soaked:.0f} s" if soaked < 120 else f"{soaked / 60:.1f} min"
    short = (
        f"this run: {span} after warm-up; the target is over 10 min"
        if plan["duration_s"] < SOAK_TARGET_S
        else ""
    )
    verdicts = [
        _verdict("idle RSS", idle_mib, IDLE_MAX_MIB),
        _verdict("RSS under load (peak)", peak, LOAD_MAX_MIB),
        _verdict("growth over the soak", growth, GROWTH_MAX_MIB, short),
    ]
    if died:
        verdicts[2].update({"pass": None, "note": "not judged: OmniRoute exited during the soak"})
    return {
        "meta": meta,
        "plan": plan,
        "mix": mix,
        "idle_rss_mib": round(idle_mib, 2),
        "idle_pss_mib": _round(pss_mib["idle"], 2),
        "settled_pss_mib": _round(pss_mib["settled"], 2),
        "processes": processes,
        "rss_after_warmup_mib": warm["rss_mib"],
        "warmup_sample_t_s": warm["t_s"],
        "rss_end_mib": end["rss_mib"],
        "rss_peak_mib": round(peak, 2),
        "rss_settled_mib": _round(settled_mib, 2),
        "growth_mib": round(growth, 2),
        "slope_mib_per_hour": _round(slope_per_hour(post), 2),
        "requests": requests,
        "achieved_rps": round(done / elapsed_s, 1) if elapsed_s > 0 else 0.0,
        "elapsed_s": round(elapsed_s, 2),
        "cpu_s": end["cpu_s"],
        "cpu_pct": round(100 * end["cpu_s"] / end["t_s"], 1) if end["t_s"] > 0 else None,
        "died": died,
        "kinds": kinds,
        "verdicts": verdicts,
        "series": series,
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _verdict(what: str, value: float, limit: float, note: str = "") -> dict[str, Any]:
    return {
        "what": what,
        "value_mib": round(value, 2),
        "limit_mib": limit,
        "pass": value <= limit,
        "note": note,
    }


def _mib(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.1f} MiB" if sign else f"{value:.1f} MiB"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def markdown(data: dict[str, Any]) -> str:
    meta, plan, req = data["meta"], data["plan"], data["requests"]
    verdicts = {v["what"]: v for v in data["verdicts"]}

    def verdict(what: str) -> tuple[str, str]:
        v = verdicts[what]
        word = {True: "PASS", False: "FAIL", None: "–"}[v["pass"]]
        return f"<= {v['limit_mib']:g} MiB", word + (f" ({v['note']})" if v["note"] else "")

    slope = data["slope_mib_per_hour"]
    causes = (
        ("non_2xx", "non-2xx"),
        ("errors", "errors"),
        ("bad_bodies", "bad bodies"),
        ("unfinished", "unfinished"),
    )
    why = ", ".join(f"{label} {req[key]:,}" for key, label in causes if req[key])
    why = f" ({why})" if why else ""
    rows = [
        ("idle RSS (after start-up)", _mib(data["idle_rss_mib"]), *verdict("idle RSS")),
        (
            f"RSS after warm-up ({data['warmup_sample_t_s']:.0f} s)",
            _mib(data["rss_after_warmup_mib"]),
            "",
            "",
        ),
        ("RSS at the end of the load", _mib(data["rss_end_mib"]), "", ""),
        ("peak RSS under load", _mib(data["rss_peak_mib"]), *verdict("RSS under load (peak)")),
        ("growth (end − after warm-up)", _mib(data["growth_mib"], True), *verdict("growth over the soak")),
        ("slope after warm-up", "–" if slope is None else f"{slope:+.2f} MiB/hour", "", ""),
        ("RSS after the load, settled", _mib(data["rss_settled_mib"]), "", ""),
        (
            "PSS idle / settled (shared pages split)",
            f"{_mib(data['idle_pss_mib'])} / {_mib(data['settled_pss_mib'])}",
            "",
            "",
        ),
        ("requests sent / ok / failed", f"{req['sent']:,} / {req['ok']:,} / {req['failed']:,}{why}", "", ""),
        ("achieved rate", f"{data['achieved_rps']:,.1f} req/s (asked {plan['rate']:g})", "", ""),
        ("OmniRoute CPU during the load", f"{data['cpu_s']:.1f} s ({data['cpu_pct']} % of one core)", "", ""),
    ]
    lines = [
        "# OmniRoute memory soak",
        "",
        f"{meta['started']}, commit {meta['commit']}, {meta['mode']} mode: {plan['duration_s']:g} s at "
        f"{plan['rate']:g} requests/s (open loop), RSS summed over the process tree every "
        f"{plan['interval_s']:g} s (peak every 0.5 s). {meta['omniroute']}; {meta['pinning']}; "
        f"load average {meta['loadavg_before'][0]} → {meta['loadavg_after'][0]}.",
        "",
    ]
    if data["died"]:
        lines += ["**OmniRoute exited during the soak.**", ""]
    lines += ["| measure | value | target | verdict |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "| request kind | share | sent | failed | p50 ms | p99 ms |", "|---|---|---|---|---|---|"]
    for name, k in data["kinds"].items():
        lat = k["latency_ms"]
        lines.append(
            f"| {name} | {k['share']:.0%} | {k['sent']:,} | {k['failed']:,} | {_ms(lat['p50'])} | {_ms(lat['p99'])} |"
        )
    procs = ", ".join(f"{name} (pid {pid}) {mib:.1f} MiB" for pid, name, mib in data["processes"])
    lines += [
        "",
        f"Processes at idle: {procs}. RSS is summed over the tree, as `run` does, so pages the "
        "Granian supervisor and its worker share count twice; PSS splits them.",
        "",
        "## RSS series",
        "",
    ]
    lines += ["| t (s) | RSS (MiB) | CPU (% of one core) | done | failed |", "|---|---|---|---|---|"]
    prev: dict[str, Any] | None = None
    for s in data["series"]:
        dt = s["t_s"] - prev["t_s"] if prev else 0.0
        cpu = f"{100 * (s['cpu_s'] - prev['cpu_s']) / dt:.0f}" if prev and dt > 0 else "–"
        lines.append(f"| {s['t_s']:.1f} | {s['rss_mib']:.1f} | {cpu} | {s['done']:,} | {s['failed']:,} |")
        prev = s
    return "\n".join(lines)


__all__ = ["failed", "finished", "markdown", "scheduled", "slope_per_hour", "summarize"]
