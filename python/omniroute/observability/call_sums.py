"""What finished calls add up to between two metric flushes (observability/metrics.py).

`Metrics.record_call` queues one `FinishedCall` tuple per call; the flush groups them by
`CallShape` (the label values every call of a route, status, outcome and model pair shares,
worked out once) and sums each group's observations into `ShapeSums`, which the batch then
receives as one update per series.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, NamedTuple

from omniroute.observability.metric_labels import error_type, operation_name, status_class

#: What `record_call` queues: catalog, route, status, outcome, provider, requested model, model,
#: latency s, upstream wait s, input tokens, output tokens, TTFT ms, cost, API key id.
FinishedCall = tuple[
    Any, str, int, str, str, "str | None", "str | None", float, float,
    "int | None", "int | None", "float | None", "float | None", "str | None",
]  # fmt: skip


class CallShape(NamedTuple):
    """Label values shared by every call of one shape (route, status, outcome, models)."""

    klass: str
    requests: tuple[str, str]
    base: tuple[str, ...]
    tokens_in: tuple[str, ...]
    tokens_out: tuple[str, ...]
    cost: tuple[str, str]
    overhead: tuple[str, str]
    success: bool


class Buckets:
    """Observations of one histogram series sorted into its buckets (before the batch)."""

    __slots__ = ("bounds", "counts", "total", "total_count")

    def __init__(self, metric: Any) -> None:
        self.bounds: list[float] = metric._upper_bounds
        self.counts = [0] * len(self.bounds)
        self.total = 0.0
        self.total_count = 0

    def add(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value
        self.total_count += 1


class ShapeSums:
    """What the queued calls of one shape add up to."""

    __slots__ = ("calls", "cost", "duration", "overhead", "per_token", "tokens_in", "tokens_out", "ttft")

    def __init__(self, metrics: Any) -> None:
        # `metrics`: the `Metrics` whose histogram series the sums are for (their bounds).
        self.calls = 0
        self.cost = 0.0
        self.duration = Buckets(metrics.request_duration)
        self.tokens_in = Buckets(metrics.token_usage)
        self.tokens_out = Buckets(metrics.token_usage)
        self.ttft = Buckets(metrics.time_to_first_token)
        self.per_token = Buckets(metrics.time_per_output_token)
        self.overhead = Buckets(metrics.overhead)

    def add(self, item: FinishedCall, success: bool) -> None:
        latency, waited, tokens_in, tokens_out, ttft_ms, cost = item[7:13]
        self.calls += 1
        self.duration.add(latency)
        if tokens_in is not None and tokens_out is not None:
            self.tokens_in.add(tokens_in)
            self.tokens_out.add(tokens_out)
        if ttft_ms is not None:
            ttft = ttft_ms / 1000.0
            self.ttft.add(ttft)
            if success and tokens_out is not None and tokens_out > 1:
                self.per_token.add(max(0.0, latency - ttft) / (tokens_out - 1))
        if cost:
            self.cost += cost
        self.overhead.add(max(0.0, latency - waited))


def call_shape(requested: str, model: str, route: str, status: int, outcome: str, provider: str) -> CallShape:
    """The label values of calls with these facts (`requested` and `model` already bounded)."""
    klass = status_class(status)
    base = (operation_name(route), provider, requested, model, error_type(status, outcome))
    return CallShape(
        klass, (route, klass), base, (*base, "input"), (*base, "output"), (provider, model),
        (route, provider), outcome == "success",
    )  # fmt: skip
