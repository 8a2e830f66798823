"""Pending metric updates, applied to the Prometheus series in batches.

A multiprocess-mode update writes through to a memory-mapped file under a lock (about 1 µs per
counter increment, 2 µs per histogram observation, and a gateway call makes a dozen). Calls
record here instead: a dictionary update per counter, a bisect plus two additions per
observation. `flush` applies the sums, one write per touched bucket, and runs on a short timer
(`Metrics`), before every scrape this worker serves, and at shutdown; another worker's scrape
sees this worker's updates at most one flush interval late.

Thread-safe (a lock around each update): scrapes render in a worker thread.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

Labels = tuple[str, ...]


class MetricBatch:
    def __init__(self, child: Callable[[Any, Labels], Any]) -> None:
        #: `child(metric, labels)` -> the labelled series (memoised by the caller).
        self._child = child
        self._lock = threading.Lock()
        self._amounts: dict[tuple[int, Labels], list[Any]] = {}
        self._histograms: dict[tuple[int, Labels], list[Any]] = {}
        self.dirty = False

    def inc(self, metric: Any, labels: Labels, amount: float = 1.0) -> None:
        """A counter increment (or a gauge's, negative allowed)."""
        key = (id(metric), labels)
        with self._lock:
            entry = self._amounts.get(key)
            if entry is None:
                self._amounts[key] = [metric, labels, amount]
            else:
                entry[2] += amount
            self.dirty = True

    def observe(self, metric: Any, labels: Labels, value: float) -> None:
        """A histogram observation (counted in the first bucket whose bound is >= `value`)."""
        key = (id(metric), labels)
        with self._lock:
            entry = self._histograms.get(key)
            if entry is None:
                bounds = metric._upper_bounds
                entry = self._histograms[key] = [metric, labels, bounds, [0] * len(bounds), 0.0]
            entry[3][bisect_left(entry[2], value)] += 1
            entry[4] += value
            self.dirty = True

    def observe_counts(self, metric: Any, labels: Labels, counts: list[int], total: float) -> None:
        """Observations already sorted into `metric`'s buckets (`counts`, one per bound) whose
        values add up to `total`."""
        key = (id(metric), labels)
        with self._lock:
            entry = self._histograms.get(key)
            if entry is None:
                entry = self._histograms[key] = [metric, labels, metric._upper_bounds, list(counts), total]
            else:
                pending = entry[3]
                for index, count in enumerate(counts):
                    if count:
                        pending[index] += count
                entry[4] += total
            self.dirty = True

    def flush(self) -> None:
        with self._lock:
            amounts, self._amounts = self._amounts, {}
            histograms, self._histograms = self._histograms, {}
            self.dirty = False
        for metric, labels, amount in amounts.values():
            if amount:
                self._child(metric, labels).inc(amount)
        for metric, labels, _, counts, total in histograms.values():
            child = self._child(metric, labels)
            for index, count in enumerate(counts):
                if count:
                    child._buckets[index].inc(count)
            child._sum.inc(total)
