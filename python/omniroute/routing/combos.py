"""Combos: named fallback chains across models and providers, and their ordering strategies.

A combo lists models (or other combos, nested at most `max_depth` deep, never in a cycle).
Each request orders the entries by the combo's strategy; the gateway then tries them in that
order, falling back on failure.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import msgspec


class ComboError(ValueError):
    """A combo definition that cannot be accepted (cycle, depth, unknown strategy)."""

    def __init__(self, combo: str, message: str) -> None:
        super().__init__(message)
        self.combo = combo


class ComboEntry(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    weight: int = 1


class ComboSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Per-combo overrides of the `[routing]` defaults (None = use the default)."""

    max_retries: int | None = None
    retry_delay: float | None = None
    concurrency_per_model: int | None = None
    queue_timeout: float | None = None


class Combo(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    strategy: str
    entries: tuple[ComboEntry, ...]
    settings: ComboSettings = msgspec.field(default_factory=ComboSettings)
    enabled: bool = True


STRATEGIES = ("priority", "weighted", "round-robin", "random", "least-used", "cost-optimized")


def validate_combo_graph(combos: Mapping[str, Sequence[str]], *, max_depth: int) -> None:
    """Rejects cycles and nesting deeper than `max_depth` (a combo of models has depth 1)."""

    def depth(name: str, trail: tuple[str, ...]) -> int:
        if name in trail:
            raise ComboError(trail[0], f"combo cycle: {' -> '.join((*trail, name))}")
        children = [m for m in combos[name] if m in combos]
        return 1 + max((depth(child, (*trail, name)) for child in children), default=0)

    for name in combos:
        found = depth(name, ())
        if found > max_depth:
            raise ComboError(name, f"combo '{name}' nests {found} levels deep (at most {max_depth})")


class ComboOrdering:
    """Per-combo ordering state: round-robin counters and last-use times (one per process)."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._counters: dict[str, int] = {}
        self._last_used: dict[tuple[str, str], float] = {}

    def order(
        self, combo: Combo, *, now: float, price_of: Mapping[str, float] | None = None
    ) -> list[ComboEntry]:
        entries = list(combo.entries)
        match combo.strategy:
            case "weighted":
                ordered = self._weighted(entries)
            case "round-robin":
                start = self._counters.get(combo.name, 0) % len(entries)
                self._counters[combo.name] = start + 1
                ordered = entries[start:] + entries[:start]
            case "random":
                ordered = list(entries)
                self._rng.shuffle(ordered)
            case "least-used":
                ordered = sorted(entries, key=lambda e: self._last_used.get((combo.name, e.model), 0.0))
            case "cost-optimized":
                prices = price_of or {}
                ordered = sorted(entries, key=lambda e: prices.get(e.model, float("inf")))
            case _:
                ordered = list(entries)
        if ordered:
            self._last_used[(combo.name, ordered[0].model)] = now
        return ordered

    def note_used(self, combo: str, model: str, now: float) -> None:
        self._last_used[(combo, model)] = now

    def _weighted(self, entries: list[ComboEntry]) -> list[ComboEntry]:
        """One entry drawn by weight first; the rest (weight 0 included) by descending weight."""
        candidates = [e for e in entries if e.weight > 0]
        total = sum(e.weight for e in candidates)
        if total <= 0:
            return list(entries)
        pick = self._rng.uniform(0, total)
        chosen = candidates[-1]
        for entry in candidates:
            pick -= entry.weight
            if pick <= 0:
                chosen = entry
                break
        rest = sorted((e for e in entries if e is not chosen), key=lambda e: -e.weight)
        return [chosen, *rest]
