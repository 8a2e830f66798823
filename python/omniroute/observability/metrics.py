"""Prometheus metrics: OpenTelemetry GenAI histograms and the gateway's own `omniroute_*` series.

GenAI series follow the OpenTelemetry GenAI semantic conventions as an OTel Prometheus exporter
(and so Envoy AI Gateway) names them: dots become underscores, a `{token}` unit adds nothing, a
seconds unit adds `_seconds`. Bucket boundaries are the spec's `ExplicitBucketBoundaries`.

| series | type | labels |
|---|---|---|
| `gen_ai_client_token_usage` | histogram ({token}) | GenAI labels + `gen_ai_token_type` (input / output) |
| `gen_ai_server_request_duration_seconds` | histogram | GenAI labels |
| `gen_ai_server_time_to_first_token_seconds` | histogram (streams) | GenAI labels |
| `gen_ai_server_time_per_output_token_seconds` | histogram (completed streams) | GenAI labels |
| `omniroute_requests_total` | counter | route, status_class |
| `omniroute_upstream_attempts_total` | counter | provider, outcome |
| `omniroute_fallbacks_total` | counter | from, to (`provider_id/model`), reason |
| `omniroute_rate_limited_requests_total` | counter | reason |
| `omniroute_budget_blocked_requests_total` | counter | |
| `omniroute_cache_hits_total` / `omniroute_cache_misses_total` | counter (0: no response cache yet) | |
| `omniroute_cost_usd_total` | counter | provider, model |
| `omniroute_circuit_state` | gauge 0 closed / 1 half-open / 2 open | provider |
| `omniroute_cooldowns_active` | gauge | provider |
| `omniroute_in_flight_requests` | gauge | |
| `omniroute_gateway_overhead_seconds` | histogram | route, provider |
| `omniroute_build_info` | gauge (1) | version, python, core |
| `omniroute_api_key_{requests,tokens,cost_usd}_total` | counters, only with `per_key_labels` | api_key (hash) |

GenAI labels: `gen_ai_operation_name` (`chat`, `embeddings`), `gen_ai_provider_name` (the
provider id that served the call), `gen_ai_request_model` (as the client named it),
`gen_ai_response_model` (the model the upstream was asked for), `error_type` (empty on success;
else the HTTP status, `stream_failed` or `client_disconnected`). A label that does not apply (no
provider was reached) is empty.

Cardinality stays bounded: model labels only carry models the catalog knows (configured model
lists or the registry's, `provider/model` forms, combo and alias names), at most
`MAX_MODEL_LABELS` of them; anything else is `other`. Routes are the gateway's route templates.
Per-key series exist only with `[metrics] per_key_labels = true` and carry a short hash of the
key's id, never the key.

Gateway overhead is the time a call spent in the gateway minus the time spent awaiting the
upstream (sending, waiting for the answer's headers, reading its body or stream): routing,
translation, queueing for outbound slots, retry delays and writing to the client count as
overhead. Each /v1 and /v1beta answer carries it as `x-omniroute-overhead-ms` (for a stream, the
overhead until its headers were sent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import platform
import time
from collections import Counter as Tally
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omniroute import __version__
from omniroute.observability import metrics_multiproc
from omniroute.observability.call_sums import CallShape, FinishedCall, ShapeSums, call_shape
from omniroute.observability.metric_batch import MetricBatch
from omniroute.observability.metric_labels import (
    OTHER,
    ModelLabels,
    key_label,
    route_label,
    status_class,
)
from omniroute.observability.timing import (
    RequestTiming,
    TimedProtocol,
    timing_of,
)
from omniroute.settings import Settings

if TYPE_CHECKING:
    from omniroute.gateway import CallState
    from omniroute.http.request import Request
    from omniroute.routing.resolve import Target
    from omniroute.runtime import Runtime

log = logging.getLogger("omniroute.metrics")

#: Paths whose answers carry the overhead header and count in `omniroute_requests_total`.
TRACKED_PREFIXES = ("/v1/", "/v1beta/")
#: Seconds between refreshes of the gauges (and sweeps for dead workers) in multiprocess mode.
REFRESH_INTERVAL = 2.0
#: Seconds between applying batched per-call updates (a scrape served here applies them first).
FLUSH_INTERVAL = 0.05
#: Memoised label children kept at most (see `Metrics._child`).
_MAX_CHILDREN = 20_000

# OpenTelemetry GenAI semantic conventions, ExplicitBucketBoundaries advice.
#: gen_ai.client.token.usage
TOKEN_BUCKETS = (
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
    4194304.0, 16777216.0, 67108864.0,
)  # fmt: skip
#: gen_ai.server.request.duration (the same as gen_ai.client.operation.duration)
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
#: gen_ai.server.time_to_first_token
TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
)  # fmt: skip
#: gen_ai.server.time_per_output_token
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
#: omniroute_gateway_overhead_seconds: sub-millisecond to seconds.
OVERHEAD_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip

GENAI_LABELS = (
    "gen_ai_operation_name",
    "gen_ai_provider_name",
    "gen_ai_request_model",
    "gen_ai_response_model",
    "error_type",
)
CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}
#: `omniroute_rate_limited_requests_total{reason}`; every other 429 counts as `upstream`.
RATE_LIMIT_REASONS = ("key_rate_limited", "key_concurrency_limited", "ip_rate_limited", "upstream")

# ---- the series ---------------------------------------------------------------------------------


class Metrics:
    """This worker's series (in memory, or in the shared files when several workers run)."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None) -> None:
        self.settings = settings
        self.enabled = settings.metrics.enabled
        self.per_key = settings.metrics.per_key_labels
        self.runtime = runtime
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        #: Per-call updates, applied every `FLUSH_INTERVAL` s and before scrapes (metric_batch.py).
        self._batch = MetricBatch(self._child)
        #: Finished calls waiting to be counted (`record_call` appends, `flush` drains): the
        #: request path pays one append; label values are worked out once per distinct call shape.
        self._calls: deque[FinishedCall] = deque()
        self._shapes: dict[tuple[Any, ...], CallShape] = {}
        self._shapes_catalog: object | None = None
        #: Calls started and upstream attempts (provider, outcome) not counted yet.
        self._started: deque[None] = deque()
        self._attempts: deque[tuple[str, str]] = deque()
        self._flush_timer: asyncio.TimerHandle | None = None
        self.multiproc_dir: Path | None = metrics_multiproc.multiproc_dir() if self.enabled else None
        if self.multiproc_dir is not None:
            metrics_multiproc.use_multiprocess_values()
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

        # `_created` samples double every series and mean nothing across workers.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.models = ModelLabels()
        self._task: asyncio.Task[None] | None = None
        self._gauge_providers: set[str] = set()

        genai_token_labels = (*GENAI_LABELS, "gen_ai_token_type")
        self.token_usage = Histogram(
            "gen_ai_client_token_usage",
            "Number of input and output tokens used (gen_ai.client.token.usage, unit {token}).",
            genai_token_labels,
            buckets=TOKEN_BUCKETS,
            registry=reg,
        )
        self.request_duration = Histogram(
            "gen_ai_server_request_duration_seconds",
            "Generative AI server request duration, to the last byte (gen_ai.server.request.duration).",
            GENAI_LABELS,
            buckets=DURATION_BUCKETS,
            registry=reg,
        )
        self.time_to_first_token = Histogram(
            "gen_ai_server_time_to_first_token_seconds",
            "Time until the first bytes of a streamed answer went out (gen_ai.server.time_to_first_token).",
            GENAI_LABELS,
            buckets=TTFT_BUCKETS,
            registry=reg,
        )
        self.time_per_output_token = Histogram(
            "gen_ai_server_time_per_output_token_seconds",
            "Time per output token after the first, completed streams (gen_ai.server.time_per_output_token).",
            GENAI_LABELS,
            buckets=TPOT_BUCKETS,
            registry=reg,
        )
        self.requests = Counter(
            "omniroute_requests",
            "Requests answered on /v1 and /v1beta, by route template and status class.",
            ("route", "status_class"),
            registry=reg,
        )
        self.upstream_attempts = Counter(
            "omniroute_upstream_attempts",
            "Upstream calls by provider and outcome (success, stream_failed, or the failure kind).",
            ("provider", "outcome"),
            registry=reg,
        )
        self.fallbacks = Counter(
            "omniroute_fallbacks",
            "Moves from one target (provider/model) of a plan to the next, with the reason.",
            ("from", "to", "reason"),
            registry=reg,
        )
        self.rate_limited = Counter(
            "omniroute_rate_limited_requests",
            "Requests refused with 429 by a rate or concurrency limit.",
            ("reason",),
            registry=reg,
        )
        self.budget_blocked = Counter(
            "omniroute_budget_blocked_requests",
            "Requests refused because their API key's budget is spent.",
            registry=reg,
        )
        self.cache_hits = Counter(
            "omniroute_cache_hits", "Response cache hits (no response cache yet: always 0).", registry=reg
        )
        self.cache_misses = Counter(
            "omniroute_cache_misses",
            "Response cache misses (no response cache yet: always 0).",
            registry=reg,
        )
        self.cost = Counter(
            "omniroute_cost_usd", "Cost of answered calls in USD.", ("provider", "model"), registry=reg
        )
        self.circuit_state = Gauge(
            "omniroute_circuit_state",
            "Provider circuit breaker: 0 closed, 1 half-open, 2 open (the worst over workers).",
            ("provider",),
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.cooldowns_active = Gauge(
            "omniroute_cooldowns_active",
            "Accounts (or account/model pairs) of a provider cooling down (the most a worker sees).",
            ("provider",),
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.in_flight = Gauge(
            "omniroute_in_flight_requests",
            "LLM calls in progress (summed over workers).",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self.overhead = Histogram(
            "omniroute_gateway_overhead_seconds",
            "Time a call spent in the gateway, excluding the time spent awaiting upstreams.",
            ("route", "provider"),
            buckets=OVERHEAD_BUCKETS,
            registry=reg,
        )
        self.build_info = Gauge(
            "omniroute_build_info",
            "OmniRoute build: package version, Python version, Rust core version.",
            ("version", "python", "core"),
            registry=reg,
            multiprocess_mode="livemax",
        )
        self.key_requests: Counter | None = None
        self.key_tokens: Counter | None = None
        self.key_cost: Counter | None = None
        if self.per_key:
            self.key_requests = Counter(
                "omniroute_api_key_requests",
                "LLM calls per API key (label: hash of the key id).",
                ("api_key", "status_class"),
                registry=reg,
            )
            self.key_tokens = Counter(
                "omniroute_api_key_tokens",
                "Tokens per API key (label: hash of the key id) and type (input / output).",
                ("api_key", "type"),
                registry=reg,
            )
            self.key_cost = Counter(
                "omniroute_api_key_cost_usd",
                "Cost in USD per API key (label: hash of the key id).",
                ("api_key",),
                registry=reg,
            )
        if not self.enabled:
            return
        # Series that exist before anything happens (exported at 0).
        self.cache_hits.inc(0)
        self.cache_misses.inc(0)
        self.budget_blocked.inc(0)
        for reason in RATE_LIMIT_REASONS:
            self.rate_limited.labels(reason).inc(0)
        self.in_flight.set(0)
        # The core is built with the package (maturin takes the version from its Cargo.toml).
        self.build_info.labels(__version__, platform.python_version(), __version__).set(1)

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """In multiprocess mode, keeps this worker's gauges fresh for scrapes other workers serve."""
        if self.enabled and self.multiproc_dir is not None and self._task is None:
            self._task = asyncio.ensure_future(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        assert self.multiproc_dir is not None
        while True:
            try:
                self.refresh()
                await asyncio.to_thread(metrics_multiproc.sweep_dead_workers, self.multiproc_dir)
            except Exception:
                log.exception("metrics refresh failed")
            await asyncio.sleep(REFRESH_INTERVAL)

    async def close(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.multiproc_dir is not None:
            metrics_multiproc.mark_self_dead(self.multiproc_dir)

    # ---- request tracking --------------------------------------------------------------------
    def track(self, req: Request) -> None:
        """Times a /v1 or /v1beta request and marks its answers with the overhead header."""
        if req.path.startswith(TRACKED_PREFIXES) and not isinstance(req.protocol, TimedProtocol):
            req.protocol = TimedProtocol(req.protocol, RequestTiming(req.path, req.started), self)

    def note_response(self, timing: RequestTiming, status: int) -> None:
        """An answer started; requests the gateway does not record itself are counted here."""
        if not self.enabled or timing.route is not None or timing.counted:
            return
        timing.counted = True
        with _Guard("response"):
            self.requests.labels(route_label(timing.path), status_class(status)).inc()

    def note_refusal(self, status: int, code: str | None) -> None:
        """The network guard refused a request (per-IP limit, address not allowed)."""
        if self.enabled and status == 429:
            with _Guard("refusal"):
                self.rate_limited.labels("ip_rate_limited").inc()

    def call_started(self, req: Request, route: str) -> None:
        """The gateway took a call (it will count it in `record_call`)."""
        timing = timing_of(req)
        if timing is not None:
            timing.route = route
        if self.enabled:
            self._started.append(None)
            self._arm_flush()

    def note_error(self, exc: BaseException) -> None:
        """A call failed with `exc`: counts budget and rate-limit refusals."""
        if not self.enabled:
            return
        from omniroute.errors import http_status_for

        with _Guard("error"):
            code = getattr(exc, "code", None)
            if code == "budget_exceeded":
                self.budget_blocked.inc()
            elif http_status_for(exc) == 429:
                reason = code if code in ("key_rate_limited", "key_concurrency_limited") else "upstream"
                self.rate_limited.labels(reason).inc()

    def upstream_attempt(self, provider: str, outcome: str) -> None:
        if self.enabled:
            self._attempts.append((provider, outcome))

    def fallback(self, source: Target, target: Target, reason: str | None) -> None:
        """The plan moved from target `source` to `target` (labels `provider_id/model`)."""
        if not self.enabled:
            return
        with _Guard("fallback"):
            self.fallbacks.labels(
                self.target_label(source), self.target_label(target), reason or "unknown"
            ).inc()

    def target_label(self, target: Target) -> str:
        catalog = self.runtime.catalog if self.runtime is not None else None
        return f"{target.provider.id}/{self.models.label(catalog, target.model) or OTHER}"

    def record_call(
        self, req: Request, call: CallState, *, route: str, latency_ms: float, cost: float | None
    ) -> None:
        """Everything one finished gateway call contributes (counted at the next flush); never
        raises into the request."""
        if not self.enabled:
            return
        timing = timing_of(req)
        usage = call.usage
        self._calls.append(
            (
                self.runtime.catalog if self.runtime is not None else None,
                route,
                call.status,
                call.outcome,
                call.provider or "",
                call.requested_model,
                call.model,
                latency_ms / 1000.0,
                timing.upstream_wait if timing is not None else 0.0,
                None if usage is None else usage.input_tokens,
                None if usage is None else usage.output_tokens,
                call.ttft_ms,
                cost,
                call.api_key.id if call.api_key is not None else None,
            )
        )
        self._arm_flush()

    def _shape(
        self,
        catalog: object,
        route: str,
        status: int,
        outcome: str,
        provider: str,
        requested_model: str | None,
        model_name: str | None,
    ) -> CallShape:
        """The label values of a call of this shape (memoised per catalog)."""
        if catalog is not self._shapes_catalog or len(self._shapes) >= _MAX_CHILDREN:
            self._shapes.clear()
            self._shapes_catalog = catalog
        key = (route, status, outcome, provider, requested_model, model_name)
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = call_shape(
                self.models.label(catalog, requested_model),  # type: ignore[arg-type]
                self.models.label(catalog, model_name),  # type: ignore[arg-type]
                route,
                status,
                outcome,
                provider,
            )
        return shape

    def _count_queued(self) -> None:
        """Calls started and upstream attempts, summed into the batch."""
        started, attempts = self._started, self._attempts
        count = 0
        while started:
            started.popleft()
            count += 1
        if count:
            self._batch.inc(self.in_flight, (), float(count))
        tally: dict[tuple[str, str], int] = {}
        while attempts:
            key = attempts.popleft()
            tally[key] = tally.get(key, 0) + 1
        for labels, amount in tally.items():
            self._batch.inc(self.upstream_attempts, labels, float(amount))

    def _count_calls(self, calls: deque[FinishedCall]) -> None:
        """Sums the queued calls per shape, then hands each shape's sums to the batch once."""
        sums: dict[CallShape, ShapeSums] = {}
        while calls:
            item = calls.popleft()
            with _Guard("call"):
                shape = self._shape(*item[:7])
                acc = sums.get(shape)
                if acc is None:
                    acc = sums[shape] = ShapeSums(self)
                acc.add(item, shape.success)
                if self.per_key and item[13] is not None:
                    self._record_key(key_label(item[13]), shape.klass, item[9], item[10], item[12])
        batch = self._batch
        for shape, acc in sums.items():
            batch.inc(self.in_flight, (), -float(acc.calls))
            batch.inc(self.requests, shape.requests, float(acc.calls))
            if acc.cost:
                batch.inc(self.cost, shape.cost, acc.cost)
            for metric, labels, hist in (
                (self.request_duration, shape.base, acc.duration),
                (self.token_usage, shape.tokens_in, acc.tokens_in),
                (self.token_usage, shape.tokens_out, acc.tokens_out),
                (self.time_to_first_token, shape.base, acc.ttft),
                (self.time_per_output_token, shape.base, acc.per_token),
                (self.overhead, shape.overhead, acc.overhead),
            ):
                if hist.total_count:
                    batch.observe_counts(metric, labels, hist.counts, hist.total)

    def _arm_flush(self) -> None:
        if self._flush_timer is None and (self._batch.dirty or self._calls or self._started):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop (a direct caller): apply at once
                self.flush()
                return
            self._flush_timer = loop.call_later(FLUSH_INTERVAL, self._timed_flush)

    def _timed_flush(self) -> None:
        self._flush_timer = None
        self.flush()

    def flush(self) -> None:
        """Applies pending updates to the series (shared files in multiprocess mode)."""
        self._count_queued()
        if self._calls:
            self._count_calls(self._calls)
        with _Guard("flush"):
            self._batch.flush()

    def _child(self, metric: Any, labels: tuple[str, ...]) -> Any:
        """`metric.labels(*labels)`, memoised: prometheus_client validates and locks on every
        call. Label values are bounded by design (models outside the catalog are `other`); the
        memo is dropped if it ever grows past `_MAX_CHILDREN` anyway."""
        if not labels:
            return metric  # an unlabelled series is its own child
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            if len(self._children) >= _MAX_CHILDREN:
                self._children.clear()
            child = self._children[key] = metric.labels(*labels)
        return child

    def _record_key(
        self, key: str, klass: str, tokens_in: int | None, tokens_out: int | None, cost: float | None
    ) -> None:
        if self.key_requests is not None:
            self.key_requests.labels(key, klass).inc()
        if self.key_tokens is not None and tokens_in is not None and tokens_out is not None:
            self.key_tokens.labels(key, "input").inc(tokens_in)
            self.key_tokens.labels(key, "output").inc(tokens_out)
        if self.key_cost is not None and cost:
            self.key_cost.labels(key).inc(cost)

    # ---- scrapes -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Sets the state gauges (circuits, cooldowns) from this worker's resilience state."""
        rt = self.runtime
        if rt is None or not self.enabled:
            return
        now = time.monotonic()
        providers = set(rt.catalog.accounts)
        states: dict[str, str] = {}
        for entry in rt.breakers.snapshot(now):
            key = str(entry["key"])
            if key.startswith("provider:"):
                states[key.removeprefix("provider:")] = str(entry["state"])
        cooling: Tally[str] = Tally()
        for entry in rt.cooldowns.snapshot(now):
            cooling[str(entry["account"]).split("/", 1)[0]] += 1
        for provider in providers | self._gauge_providers:
            live = provider in providers
            state = CIRCUIT_VALUES.get(states.get(provider, ""), 0) if live else 0
            self.circuit_state.labels(provider).set(state)
            self.cooldowns_active.labels(provider).set(cooling.get(provider, 0) if live else 0)
        self._gauge_providers |= providers

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The scrape body (Prometheus text, or OpenMetrics when asked) and its content type."""
        self.flush()
        from prometheus_client import CollectorRegistry
        from prometheus_client.exposition import choose_encoder
        from prometheus_client.multiprocess import MultiProcessCollector

        if self.multiproc_dir is not None:
            registry = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(registry, path=str(self.multiproc_dir))  # type: ignore[no-untyped-call]
        else:
            registry = self.registry
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type


class _Guard(contextlib.AbstractContextManager[None]):
    """Metrics never break a request: failures are logged and swallowed."""

    __slots__ = ("_what",)

    def __init__(self, what: str) -> None:
        self._what = what

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        if exc is not None and isinstance(exc, Exception):
            log.warning("recording metrics (%s) failed: %s", self._what, exc, exc_info=True)
            return True
        return False
