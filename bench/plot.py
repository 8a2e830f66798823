"""Draws the PNG chart from the chart data `python -m bench run` writes (bench/out/chart.json).

Runs in bench's own virtual environment (bench/.venvs/plot, matplotlib from PyPI), so the
project's environment never needs matplotlib: `bench/.venvs/plot/bin/python bench/plot.py IN OUT`.
Imports only the standard library and matplotlib.
"""

from __future__ import annotations

import json
import math
import sys


def draw(data: dict, out: str) -> None:  # type: ignore[type-arg]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = data["panels"]
    cols = 2
    rows = max(1, math.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.6 * rows), squeeze=False)
    colours = {
        "mock direct": "#9e9e9e",
        "nginx proxy_pass": "#009639",
        "thin Granian+aiohttp": "#5c6bc0",
        "OmniRoute (Python)": "#e65100",
        "LiteLLM": "#8e24aa",
        "OmniRoute (Node)": "#00838f",
    }
    for ax, panel in zip(axes.flat, panels, strict=False):
        names = list(panel["bars"])
        med = [panel["bars"][n]["median"] for n in names]
        lo = [max(0.0, m - panel["bars"][n]["min"]) for n, m in zip(names, med, strict=True)]
        hi = [max(0.0, panel["bars"][n]["max"] - m) for n, m in zip(names, med, strict=True)]
        bars = ax.bar(names, med, yerr=[lo, hi], capsize=3, color=[colours.get(n, "#607d8b") for n in names])
        if panel["log"] and all(v > 0 for v in med):
            ax.set_yscale("log")
        for bar, value in zip(bars, med, strict=True):
            label = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        ax.set_title(panel["title"], fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(data["title"], fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as fh:
        data = json.load(fh)
    draw(data, sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
