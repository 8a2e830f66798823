"""Turns raw measurements into tables: medians over rounds with their spread, added latency
against the direct reference of the same round, ratios against OmniRoute of the same round.

Spread is half the range over rounds relative to the median (`±7%`); a single round has none.
"Added" = target minus `direct` for the same scenario, probe and round (for the translated
Anthropic stream the reference is the direct 20-event OpenAI stream it rides on).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

ORDER = ("direct", "nginx", "thin", "omniroute", "litellm", "node")
LABELS = {
    "direct": "mock direct",
    "nginx": "nginx proxy_pass",
    "thin": "thin Granian+aiohttp",
    "omniroute": "OmniRoute (Python)",
    "litellm": "LiteLLM",
    "node": "OmniRoute (Node)",
}

Row = dict[str, Any]
Getter = Callable[[Row], float | None]


class Groups:
    """Measurements indexed by (scenario, probe, target) -> {round: measurement}."""

    def __init__(self, results: dict[str, Any]) -> None:
        self.results = results
        self.by_key: dict[tuple[str, str, str], dict[int, Row]] = defaultdict(dict)
        for m in results["measurements"]:
            self.by_key[(m["scenario"], m["probe"], m["target"])][m["round"]] = m
        self.targets = [t for t in ORDER if t in results["targets"]]

    def rounds(self, scenario: str, probe: str, target: str) -> dict[int, Row]:
        return self.by_key.get((scenario, probe, target), {})

    def series(self, scenario: str, probe: str, target: str, get: Getter) -> list[float]:
        values = [get(m) for m in self.rounds(scenario, probe, target).values()]
        return [v for v in values if v is not None]

    def paired(
        self,
        scenario: str,
        probe: str,
        target: str,
        other: tuple[str, str, str],
        combine: Callable[[float, float], float],
        get: Getter,
    ) -> list[float]:
        """`combine(target value, other value)` per round where both exist."""
        mine = self.rounds(scenario, probe, target)
        theirs = self.rounds(*other)
        out = []
        for round_no, m in mine.items():
            if round_no in theirs:
                a, b = get(m), get(theirs[round_no])
                if a is not None and b is not None and (b != 0 or combine is not _ratio):
                    out.append(combine(a, b))
        return out


def _ratio(a: float, b: float) -> float:
    return a / b


def _minus(a: float, b: float) -> float:
    return a - b


def rps(m: Row) -> float | None:
    return float(m["summary"]["rps"])


def lat(q: str) -> Getter:
    return lambda m: m["summary"]["latency_ms"][q]


def ttfb(q: str) -> Getter:
    return lambda m: m["summary"]["ttfb_ms"][q]


def cpu_per_req_us(m: Row) -> float | None:
    n = m["summary"]["requests"]
    return m["cpu_s"] / n * 1e6 if n else None


def cpu_util(m: Row) -> float | None:
    return 100 * m["cpu_s"] / m["wall_s"] if m["wall_s"] else None


def mock_util(m: Row) -> float | None:
    return 100 * m["mock_cpu_s"] / m["wall_s"] if m["wall_s"] else None


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(values: list[float], digits: int = 0, spread: bool = True) -> str:
    if not values:
        return "–"
    m = statistics.median(values)
    text = f"{m:,.{digits}f}"
    if spread and len(values) > 1 and m:
        half = (max(values) - min(values)) / 2 / abs(m) * 100
        text += f" ±{half:.0f}%"
    return text


def fmt_pair(a: list[float], b: list[float], digits: int = 2) -> str:
    if not a and not b:
        return "–"
    return f"{fmt(a, digits, False)} / {fmt(b, digits, False)}"


def non_2xx(groups: Groups, scenario: str, target: str) -> int:
    total = 0
    for (s, _, t), rounds in groups.by_key.items():
        if s == scenario and t == target:
            for m in rounds.values():
                total += m["summary"]["non_2xx"] + m["summary"]["errors"] + m["summary"].get("bad_bodies", 0)
    return total


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _direct_key(scenario: str, probe: str) -> tuple[str, str, str]:
    return ("stream20" if scenario == "anthropic" else scenario, probe, "direct")


def _added(groups: Groups, scenario: str, probe: str, target: str, get: Getter) -> list[float]:
    if target == "direct":
        return []
    return groups.paired(scenario, probe, target, _direct_key(scenario, probe), _minus, get)


def _vs_omniroute(groups: Groups, scenario: str, probe: str, target: str) -> str:
    if target == "omniroute" or "omniroute" not in groups.targets:
        return "1.00" if target == "omniroute" else "–"
    return fmt(groups.paired(scenario, probe, target, (scenario, probe, "omniroute"), _ratio, rps), 2)


def idle_rss(groups: Groups, target: str) -> list[float]:
    """RSS at the start of the first round: started, warmed by nothing but its health check."""
    readings = sorted((r["round"], r["rss_mib"]) for r in groups.results["idle_rss"] if r["target"] == target)
    return [readings[0][1]] if readings else []


def _rss(groups: Groups, scenario: str, target: str) -> str:
    idle = idle_rss(groups, target)
    peaks = [
        m["rss_peak_mib"]
        for (s, _, t), rounds in groups.by_key.items()
        if s == scenario and t == target
        for m in rounds.values()
    ]
    if not peaks:
        return "–"
    return f"{med(idle) or 0:.0f} → {max(peaks):.0f}"


def chat_table(groups: Groups, scenario: str, rate: float) -> list[str]:
    header = [
        "target",
        "RPS @50",
        "p50 / p99 @50 ms",
        "CPU/req µs",
        "proxy CPU %",
        "mock CPU %",
        "p50 / p99 @1 ms",
        "added p50 / p99 @1 ms",
        f"p50 / p99 @{rate:g}/s ms",
        f"added p50 / p99 @{rate:g}/s ms",
        "RSS idle → peak MiB",
        "RPS × OmniRoute",
        "failed",
    ]
    rows = []
    for t in groups.targets:
        if not groups.rounds(scenario, "max", t):
            continue
        rows.append(
            [
                LABELS[t],
                fmt(groups.series(scenario, "max", t, rps)),
                fmt_pair(
                    groups.series(scenario, "max", t, lat("p50")),
                    groups.series(scenario, "max", t, lat("p99")),
                ),
                fmt(groups.series(scenario, "max", t, cpu_per_req_us)) if t != "direct" else "(mock)",
                fmt(groups.series(scenario, "max", t, cpu_util), 0, False),
                fmt(groups.series(scenario, "max", t, mock_util), 0, False),
                fmt_pair(
                    groups.series(scenario, "c1", t, lat("p50")),
                    groups.series(scenario, "c1", t, lat("p99")),
                    3,
                ),
                fmt_pair(
                    _added(groups, scenario, "c1", t, lat("p50")),
                    _added(groups, scenario, "c1", t, lat("p99")),
                    3,
                ),
                fmt_pair(
                    groups.series(scenario, "rate", t, lat("p50")),
                    groups.series(scenario, "rate", t, lat("p99")),
                    3,
                ),
                fmt_pair(
                    _added(groups, scenario, "rate", t, lat("p50")),
                    _added(groups, scenario, "rate", t, lat("p99")),
                    3,
                ),
                _rss(groups, scenario, t),
                _vs_omniroute(groups, scenario, "max", t),
                str(non_2xx(groups, scenario, t)),
            ]
        )
    return _table(header, rows)


def stream_table(groups: Groups, scenario: str, conc: int = 50) -> list[str]:
    header = [
        "target",
        f"streams/s @{conc}",
        f"p50 / p99 @{conc} ms",
        "CPU/stream µs",
        "proxy CPU %",
        "mock CPU %",
        "TTFB p50 / p99 @1 ms",
        "added TTFB p50 @1 ms",
        "total p50 @1 ms",
        "added total p50 @1 ms",
        "RSS idle → peak MiB",
        "× OmniRoute",
    ]
    if scenario == "anthropic":
        header.append("× own OpenAI stream")
    header.append("failed")
    rows = []
    for t in groups.targets:
        if not groups.rounds(scenario, "max", t) and not groups.rounds(scenario, "c1", t):
            continue
        row = [
            LABELS[t],
            fmt(groups.series(scenario, "max", t, rps)),
            fmt_pair(
                groups.series(scenario, "max", t, lat("p50")), groups.series(scenario, "max", t, lat("p99"))
            ),
            fmt(groups.series(scenario, "max", t, cpu_per_req_us)) if t != "direct" else "(mock)",
            fmt(groups.series(scenario, "max", t, cpu_util), 0, False),
            fmt(groups.series(scenario, "max", t, mock_util), 0, False),
            fmt_pair(
                groups.series(scenario, "c1", t, ttfb("p50")),
                groups.series(scenario, "c1", t, ttfb("p99")),
                3,
            ),
            fmt(_added(groups, scenario, "c1", t, ttfb("p50")), 3),
            fmt(groups.series(scenario, "c1", t, lat("p50")), 3),
            fmt(_added(groups, scenario, "c1", t, lat("p50")), 3),
            _rss(groups, scenario, t),
            _vs_omniroute(groups, scenario, "max", t),
        ]
        if scenario == "anthropic":
            row.append(fmt(groups.paired(scenario, "max", t, ("stream20", "max", t), _ratio, rps), 2))
        row.append(str(non_2xx(groups, scenario, t)))
        rows.append(row)
    return _table(header, rows)


def slow_table(groups: Groups) -> list[str]:
    header = [
        "target",
        "streams ok / sent",
        "RSS before → peak → after 2 s idle → after light traffic MiB",
        "added at peak MiB",
        "CPU s (whole burst)",
        "CPU ms/stream",
        "duration p50 / p99 s",
        "failed",
    ]
    rows = []
    for t in groups.targets:
        rounds = groups.rounds("slow", "burst", t)
        if not rounds:
            continue
        ms = list(rounds.values())
        ok = [m["summary"]["requests"] - m["summary"]["non_2xx"] for m in ms]
        sent = [m["summary"]["requests"] + m["summary"]["errors"] for m in ms]
        before = [m["rss_before_mib"] for m in ms]
        peak = [m["rss_peak_mib"] for m in ms]
        after = [m["rss_after_mib"] for m in ms if m["rss_after_mib"] is not None]
        light = [m["rss_after_light_mib"] for m in ms if m.get("rss_after_light_mib") is not None]
        p50 = [m["summary"]["latency_ms"]["p50"] / 1000 for m in ms if m["summary"]["latency_ms"]["p50"]]
        p99 = [m["summary"]["latency_ms"]["p99"] / 1000 for m in ms if m["summary"]["latency_ms"]["p99"]]
        per_stream = [m["cpu_s"] / max(1, m["summary"]["requests"]) * 1000 for m in ms]
        rows.append(
            [
                LABELS[t],
                f"{med([float(x) for x in ok]) or 0:.0f} / {med([float(x) for x in sent]) or 0:.0f}",
                f"{med(before) or 0:.0f} → {med(peak) or 0:.0f} → {med(after) or 0:.0f} → {med(light) or 0:.0f}",
                fmt([p - b for p, b in zip(peak, before, strict=True)], 0),
                fmt([m["cpu_s"] for m in ms], 2),
                fmt(per_stream, 2),
                fmt_pair(p50, p99, 2),
                str(non_2xx(groups, "slow", t)),
            ]
        )
    return _table(header, rows)


def image_table(groups: Groups) -> list[str]:
    header = [
        "target",
        "RPS @10",
        "p50 / p99 @10 ms",
        "CPU/req µs",
        "p50 / p99 @1 ms",
        "added p50 @1 ms",
        "added p50 minus small-chat added p50 ms",
        "RSS idle → peak MiB",
        "RPS × OmniRoute",
        "failed",
    ]
    rows = []
    for t in groups.targets:
        if not groups.rounds("image", "max", t) and not groups.rounds("image", "c1", t):
            continue
        added_img = med(_added(groups, "image", "c1", t, lat("p50")))
        added_chat = med(_added(groups, "chat", "c1", t, lat("p50")))
        extra = f"{added_img - added_chat:.3f}" if added_img is not None and added_chat is not None else "–"
        rows.append(
            [
                LABELS[t],
                fmt(groups.series("image", "max", t, rps)),
                fmt_pair(
                    groups.series("image", "max", t, lat("p50")), groups.series("image", "max", t, lat("p99"))
                ),
                fmt(groups.series("image", "max", t, cpu_per_req_us)) if t != "direct" else "(mock)",
                fmt_pair(
                    groups.series("image", "c1", t, lat("p50")),
                    groups.series("image", "c1", t, lat("p99")),
                    3,
                ),
                fmt(_added(groups, "image", "c1", t, lat("p50")), 3),
                extra,
                _rss(groups, "image", t),
                _vs_omniroute(groups, "image", "max", t),
                str(non_2xx(groups, "image", t)),
            ]
        )
    return _table(header, rows)


def summary_table(groups: Groups) -> list[str]:
    """The issue's headline table: one column per target."""
    targets = [t for t in groups.targets if t != "direct"]
    header = ["", *[LABELS[t] for t in targets]]

    def row(label: str, cell: Callable[[str], str]) -> list[str]:
        return [label, *[cell(t) for t in targets]]

    def idle_peak(t: str) -> str:
        idle = idle_rss(groups, t)
        peaks = [
            m["rss_peak_mib"]
            for (s, _, tt), rounds in groups.by_key.items()
            if tt == t and s != "slow"
            for m in rounds.values()
        ]
        return f"{med(idle) or 0:.0f} → {max(peaks):.0f} MiB" if peaks else "–"

    rows = [
        row("max rps, non-stream, 50 connections", lambda t: fmt(groups.series("chat", "max", t, rps))),
        row("CPU per request (µs)", lambda t: fmt(groups.series("chat", "max", t, cpu_per_req_us))),
        row("added p50 at concurrency 1 (ms)", lambda t: fmt(_added(groups, "chat", "c1", t, lat("p50")), 3)),
        row("added p99 at concurrency 1 (ms)", lambda t: fmt(_added(groups, "chat", "c1", t, lat("p99")), 3)),
        row("20-event streams per second", lambda t: fmt(groups.series("stream20", "max", t, rps))),
        row(
            "added time to first byte (ms)",
            lambda t: fmt(_added(groups, "stream20", "c1", t, ttfb("p50")), 3),
        ),
        row("RSS idle → under load", idle_peak),
        row("max rps × OmniRoute", lambda t: _vs_omniroute(groups, "chat", "max", t)),
    ]
    return _table(header, rows)


def targets_check(groups: Groups) -> list[str]:
    """OmniRoute against the issue's targets, as measured in this run (informational only)."""
    if "omniroute" not in groups.targets:
        return []
    o = "omniroute"
    checks: list[tuple[str, float | None, str, Callable[[float], bool]]] = []

    def add(label: str, value: float | None, target: str, ok: Callable[[float], bool]) -> None:
        checks.append((label, value, target, ok))

    thin_ratio = med(groups.paired("chat", "max", o, ("chat", "max", "thin"), _ratio, rps))
    add("throughput × thin pass-through", thin_ratio, ">= 1.0", lambda v: v >= 1.0)
    add(
        "CPU per request µs", med(groups.series("chat", "max", o, cpu_per_req_us)), "<= 85", lambda v: v <= 85
    )
    add("added p50 @1 ms", med(_added(groups, "chat", "c1", o, lat("p50"))), "<= 0.25", lambda v: v <= 0.25)
    nginx_p99 = med(_added(groups, "chat", "c1", "nginx", lat("p99")))
    own_p99 = med(_added(groups, "chat", "c1", o, lat("p99")))
    if nginx_p99 is not None:
        add(
            "added p99 @1 minus nginx added p99 ms",
            None if own_p99 is None else own_p99 - nginx_p99,
            "<= 0.5",
            lambda v: v <= 0.5,
        )
    add(
        "added p50 at fixed rate ms",
        med(_added(groups, "chat", "rate", o, lat("p50"))),
        "<= 0.35",
        lambda v: v <= 0.35,
    )
    add(
        "added p99 at fixed rate ms",
        med(_added(groups, "chat", "rate", o, lat("p99"))),
        "<= 3",
        lambda v: v <= 3,
    )
    add("20-event streams/s", med(groups.series("stream20", "max", o, rps)), ">= 8,500", lambda v: v >= 8500)
    add(
        "added TTFB ms (20 events)",
        med(_added(groups, "stream20", "c1", o, ttfb("p50"))),
        "<= 0.7",
        lambda v: v <= 0.7,
    )
    add(
        "added TTFB ms (200 events)",
        med(_added(groups, "stream200", "c1", o, ttfb("p50"))),
        "<= 0.7",
        lambda v: v <= 0.7,
    )
    add(
        "translated ÷ same-dialect streams/s",
        med(groups.paired("anthropic", "max", o, ("stream20", "max", o), _ratio, rps)),
        ">= 0.9",
        lambda v: v >= 0.9,
    )
    idle = med(idle_rss(groups, o))
    add("idle RSS MiB", idle, "<= 80", lambda v: v <= 80)
    peaks = [
        m["rss_peak_mib"]
        for (s, _, t), r in groups.by_key.items()
        if t == o and s != "slow"
        for m in r.values()
    ]
    add("RSS under load MiB", max(peaks) if peaks else None, "<= 100", lambda v: v <= 100)
    slow = list(groups.rounds("slow", "burst", o).values())
    add(
        "slow-stream burst adds MiB",
        med([m["rss_peak_mib"] - m["rss_before_mib"] for m in slow]),
        "<= 200",
        lambda v: v <= 200,
    )
    # "Return to idle": what the burst still holds after 2 s idle, and after light traffic (the
    # allocators that purge as they work need some). Within 5 MiB of the RSS before the burst.
    add(
        "after the burst, 2 s idle: above before MiB",
        med([m["rss_after_mib"] - m["rss_before_mib"] for m in slow if m.get("rss_after_mib") is not None]),
        "<= 5",
        lambda v: v <= 5,
    )
    add(
        "after the burst, light traffic: above before MiB",
        med(
            [
                m["rss_after_light_mib"] - m["rss_before_mib"]
                for m in slow
                if m.get("rss_after_light_mib") is not None
            ]
        ),
        "<= 5",
        lambda v: v <= 5,
    )
    failed = sum(non_2xx(groups, s, o) for s in groups.results["scenarios"])
    add("non-2xx or failed responses", float(failed), "= 0", lambda v: v == 0)
    rows = []
    for label, value, target, ok in checks:
        if value is None:
            rows.append([label, "–", target, "not measured"])
        else:
            rows.append(
                [label, f"{value:,.3f}".rstrip("0").rstrip("."), target, "met" if ok(value) else "NOT met"]
            )
    return _table(["OmniRoute (Python)", "this run", "target", ""], rows)


def markdown(results: dict[str, Any]) -> str:
    groups = Groups(results)
    meta = results["meta"]
    plan = results["plan"]
    lines = [f"# Benchmark results ({meta['mode']} run, {meta['started']})", ""]
    if meta.get("note"):
        lines += [f"> {meta['note']}", ""]
    lines += ["## Environment", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items() if k not in ("mode", "note")]
    lines += [
        f"- plan: {plan['rounds']} round(s), {plan['duration']:g} s per probe, warm-up {plan['warmup']:g} s, "
        f"fixed rate {plan['rate']:g}/s, slow streams {plan['slow_streams']} × {plan['slow_events']} events "
        f"{plan['slow_gap_ms']} ms apart",
        "",
        "Targets:",
        "",
    ]
    for name in groups.targets:
        info = results["targets"][name]
        lines.append(f"- {LABELS[name]}: {info['version']}; " + "; ".join(info["notes"]))
    for name, procs in results.get("processes", {}).items():
        if len(procs) > 1:
            parts = ", ".join(f"{comm} {rss:.0f} MiB" for _, comm, rss in procs)
            lines.append(f"  - {LABELS[name]} processes at start (RSS is summed over them): {parts}")
    for name, reason in results["skipped"].items():
        lines.append(f"- {LABELS.get(name, name)}: skipped ({reason})")
    for failure in results["failures"]:
        lines.append(f"- FAILED {failure['target']}/{failure['scenario']}: {failure['reason']}")
    lines += [
        "",
        "Figures are medians over rounds; ±x% is half the range over rounds. “added” is the target",
        "minus the mock hit directly in the same round. “failed” counts non-2xx, transport errors and",
        "bodies without their expected ending.",
        "",
    ]
    lines += ["## Summary", "", *summary_table(groups), ""]
    check = targets_check(groups)
    if check:
        lines += ["## OmniRoute against the issue's targets (this run)", "", *check, ""]
    scen = results["scenarios"]
    for name in scen:
        lines += [f"## {scen[name]['title']}", ""]
        if name == "chat":
            lines += chat_table(groups, "chat", plan["rate"])
        elif name in ("stream20", "stream200", "anthropic"):
            lines += stream_table(groups, name, plan["max_concurrency"])
        elif name == "slow":
            lines += slow_table(groups)
        elif name == "image":
            lines += image_table(groups)
        lines.append("")
    return "\n".join(lines)


def chart_data(results: dict[str, Any]) -> dict[str, Any]:
    """Medians and ranges for the chart (bench/plot.py)."""
    groups = Groups(results)
    panels = []

    def panel(title: str, values: dict[str, list[float]], log: bool = False) -> None:
        bars = {
            LABELS[t]: {"median": statistics.median(v), "min": min(v), "max": max(v)}
            for t, v in values.items()
            if v
        }
        if bars:
            panels.append({"title": title, "log": log, "bars": bars})

    panel(
        "Non-stream requests/s @50 (log)",
        {t: groups.series("chat", "max", t, rps) for t in groups.targets},
        True,
    )
    panel(
        "20-event streams/s @50 (log)",
        {t: groups.series("stream20", "max", t, rps) for t in groups.targets},
        True,
    )
    panel(
        "Added p50 latency @1, ms (non-stream)",
        {t: _added(groups, "chat", "c1", t, lat("p50")) for t in groups.targets if t != "direct"},
    )
    panel(
        "Added TTFB @1, ms (20-event stream)",
        {t: _added(groups, "stream20", "c1", t, ttfb("p50")) for t in groups.targets if t != "direct"},
    )
    panel(
        "CPU per request, µs (non-stream, log)",
        {t: groups.series("chat", "max", t, cpu_per_req_us) for t in groups.targets if t != "direct"},
        True,
    )
    peaks: dict[str, list[float]] = {}
    for t in groups.targets:
        values = [m["rss_peak_mib"] for (_, _, tt), r in groups.by_key.items() if tt == t for m in r.values()]
        peaks[t] = [max(values)] if values else []
    panel("Peak RSS, MiB (all scenarios)", peaks)
    return {
        "title": f"OmniRoute benchmark ({results['meta']['mode']}, {results['meta']['started']})",
        "panels": panels,
    }
