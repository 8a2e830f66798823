"""`python -m bench run|core|soak`: the load harness, the `_core` micro-benchmark, the memory soak.

    python -m bench run                      full run: 3 rounds × 5 s per probe, built-in references
    python -m bench run --peers litellm,node add the peers (installed on first use)
    python -m bench run --quick              a few seconds, for the smoke test
    python -m bench core                     `_core` calls against plain-Python references
    python -m bench soak                     OmniRoute's RSS over 10 minutes at 500 requests/s
    python -m bench soak --quick             a few seconds at a low rate, for the smoke test

Results go to bench/out/ (results.json, results.md, chart.json, chart.png; core.*; soak.*). The
exit status is 0 whatever the numbers are; it is non-zero only when the harness itself cannot run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from .installs import ensure_venv, note
from .report import chart_data, markdown
from .runner import RunOptions, run, save
from .scenarios import NAMES
from .targets import BUILTIN, PEERS, REPO


def _names(value: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if value.strip() == "all":
        return allowed
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what}: {', '.join(unknown)} (known: {', '.join(allowed)})"
        )
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the load harness")
    r.add_argument(
        "--quick",
        action="store_true",
        help="smoke mode: 1 round, 0.2 s probes, small bursts, built-in generator",
    )
    r.add_argument("--duration", type=float, help="seconds per probe (full: 5)")
    r.add_argument("--rounds", type=int, help="interleaved rounds (full: 3)")
    r.add_argument(
        "--scenarios",
        type=lambda v: _names(v, NAMES, "scenario"),
        default=NAMES,
        help=f"comma-separated subset of {','.join(NAMES)}",
    )
    r.add_argument(
        "--targets",
        type=lambda v: _names(v, BUILTIN, "target"),
        default=BUILTIN,
        help=f"built-in references and the gateway: subset of {','.join(BUILTIN)}",
    )
    r.add_argument(
        "--peers",
        type=lambda v: _names(v, PEERS, "peer"),
        default=(),
        help=f"peers to add: {','.join(PEERS)} or all (installed on first use)",
    )
    r.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    r.add_argument("--no-install", action="store_true", help="never install anything; skip what is missing")
    r.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    r.add_argument("--workers", type=int, default=1, help="OmniRoute worker processes (default 1)")
    r.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    r.add_argument("--note", default="", help="a line printed at the top of the results")
    r.add_argument("--no-chart", action="store_true")
    c = sub.add_parser("core", help="micro-benchmark of _core calls against plain-Python references")
    c.add_argument("--quick", action="store_true")
    c.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    s = sub.add_parser("soak", help="OmniRoute's memory (idle, under load, growth) over a fixed-rate run")
    s.add_argument("--minutes", type=float, help="length of the load (default 10; --quick: 4 s)")
    s.add_argument("--rate", type=float, help="requests per second, open loop (default 500; --quick: 40)")
    s.add_argument("--quick", action="store_true", help="smoke mode: about 6 s at a low rate")
    s.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    s.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    return parser


def chart(out: Path, allow_install: bool) -> Path | None:
    data, png = out / "chart.json", out / "chart.png"
    if importlib.util.find_spec("matplotlib") is not None:
        python: Path | None = Path(sys.executable)
    else:
        python = ensure_venv("plot", ["matplotlib"], allow_install)
    if python is None:
        note(
            "no chart: matplotlib is not installed (run without --no-install to get it in bench/.venvs/plot)"
        )
        return None
    result = subprocess.run(
        [str(python), str(Path(__file__).with_name("plot.py")), str(data), str(png)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        note(f"chart failed: {result.stderr.strip()[-800:]}")
        return None
    return png


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "core":
        from .core_bench import main as core_main

        return core_main(quick=args.quick, out=args.out)
    if args.command == "soak":
        from .soak import SoakOptions
        from .soak import main as soak_main

        return soak_main(
            SoakOptions(
                minutes=args.minutes, rate=args.rate, quick=args.quick, pin=not args.no_pin, out=args.out
            )
        )
    opts = RunOptions(
        quick=args.quick,
        duration=args.duration,
        rounds=args.rounds,
        scenarios=args.scenarios,
        targets=tuple(dict.fromkeys((*args.targets, *args.peers))),
        loadgen=args.loadgen,
        allow_install=not args.no_install,
        pin=not args.no_pin,
        out=args.out,
        omniroute_workers=args.workers,
        note=args.note,
    )
    results = run(opts)
    path = save(results, args.out)
    text = markdown(results)
    (args.out / "results.md").write_text(text + "\n", encoding="utf-8")
    (args.out / "chart.json").write_text(json.dumps(chart_data(results), indent=1), encoding="utf-8")
    png = None if args.no_chart else chart(args.out, not args.no_install)
    print(text)
    note(f"wrote {path}, {args.out / 'results.md'}" + (f", {png}" if png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
