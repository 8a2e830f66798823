"""The request log: what one call did, for the JSON access line, `request_logs` and `/api/logs`.

`CallTrace` travels with a call (gateway -> attempts) and collects what the usage record does
not carry: the upstream dialect and account, time to the upstream's first byte, one line per
upstream attempt, and the optional capture.

Latency phases of an entry (milliseconds, from the moment the request arrived):
- `latency_ms`: until the answer was complete (total);
- `upstream_ms`: time spent awaiting upstreams (request sent -> headers, then every wait for
  body bytes or stream chunks), summed over attempts; the same measurement as the metrics'
  gateway overhead (`observability.timing.RequestTiming`), so both agree;
- `overhead_ms`: `latency_ms - upstream_ms`, the gateway's own time (parsing, auth, routing,
  translation, limiter waits and retry delays, writing to the client);
- `ttfb_ms`: until the answering upstream's response headers arrived;
- `ttft_ms`: until the first bytes of a stream went to the client (streams only).

`RequestLog` owns the batched writer (no disk write on the request path), the hourly retention
pass and the capture decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from omniroute.http.request import Request
from omniroute.observability.capture import (
    Capture,
    capture_requested,
    known_secrets,
    start_client_capture,
)
from omniroute.observability.timing import timing_of
from omniroute.routing.catalog import Catalog
from omniroute.settings import Settings
from omniroute.store.records import UsageRecord
from omniroute.store.request_log_repo import RequestLogEntry, RequestLogWriter, purge_expired_logs

__all__ = ["CallTrace", "RequestLog", "RequestLogEntry"]

log = logging.getLogger("omniroute.request_log")

#: Seconds between retention passes over `request_logs` (the first runs at start).
RETENTION_INTERVAL = 3600.0
#: Response header telling a client its call was captured (look it up in `/api/logs/{id}`).
CAPTURED_HEADER = ("x-omniroute-capture", "stored")


class CallTrace:
    """Per-call observations filled by the attempts (see the module docstring)."""

    __slots__ = (
        "_attempt_started",
        "account",
        "attempt_log",
        "capture",
        "started",
        "ttfb_ms",
        "upstream_dialect",
    )

    def __init__(self, started: float, capture: Capture | None = None) -> None:
        #: `perf_counter()` when the request arrived.
        self.started = started
        self.capture = capture
        self.upstream_dialect: str | None = None
        self.account: str | None = None
        self.ttfb_ms: float | None = None
        self.attempt_log: list[dict[str, Any]] = []
        self._attempt_started = 0.0

    def begin_attempt(self, provider: str, model: str, account: str, dialect: str) -> None:
        self.upstream_dialect, self.account = dialect, account
        self._attempt_started = time.perf_counter()
        self.attempt_log.append({"provider": provider, "model": model, "account": account})

    def first_byte(self, status: int) -> None:
        """The current attempt's response headers arrived."""
        self.ttfb_ms = round((time.perf_counter() - self.started) * 1000.0, 3)
        if self.attempt_log:
            self.attempt_log[-1]["status"] = status

    def end_attempt(self, error: str | None = None) -> None:
        if not self.attempt_log:
            return
        item = self.attempt_log[-1]
        item.setdefault("status", None)
        item["ms"] = round((time.perf_counter() - self._attempt_started) * 1000.0, 3)
        if error:
            item["error"] = error[:300]


class RequestLog:
    """Writer, retention task and capture decision of one worker."""

    def __init__(self, settings: Settings, db_path: Path) -> None:
        self.settings = settings
        self.enabled = settings.logging.request_log
        self.writer = RequestLogWriter(db_path) if self.enabled else None
        self._retention: asyncio.Task[None] | None = None

    # per call ---------------------------------------------------------------------------------
    def trace(self, req: Request) -> CallTrace:
        """A new call's trace; starts a capture when one is configured or asked for."""
        trace = CallTrace(req.started)
        if self.enabled and (
            self.settings.logging.capture or capture_requested(req, self.settings.admin_token)
        ):
            capture = Capture(self.settings.logging.capture_max_bytes)
            start_client_capture(req, capture)
            trace.capture = capture
            req.extra_headers.append(CAPTURED_HEADER)
        return trace

    def finish(
        self, req: Request, record: UsageRecord, trace: CallTrace | None, catalog: Catalog
    ) -> RequestLogEntry:
        """The call's entry (the usage record plus the trace); queued when the log is on."""
        timing = timing_of(req)
        upstream_ms = round(timing.upstream_wait * 1000.0, 3) if timing is not None else 0.0
        capture = None
        if trace is not None and trace.capture is not None:
            capture = trace.capture.render(known_secrets(req, catalog, self.settings), catalog.keys)
        entry = RequestLogEntry(
            ts=record.ts,
            request_id=record.request_id,
            method=req.method,
            route=record.route,
            client_dialect=record.client_dialect,
            upstream_dialect=trace.upstream_dialect if trace is not None else None,
            provider=record.provider,
            account=trace.account if trace is not None else None,
            connection_id=record.connection_id,
            api_key_id=record.api_key_id,
            requested_model=record.requested_model,
            model=record.model,
            combo=record.combo,
            stream=record.stream,
            status=record.status,
            outcome=record.outcome,
            latency_ms=record.latency_ms,
            upstream_ms=upstream_ms,
            overhead_ms=round(max(record.latency_ms - upstream_ms, 0.0), 3),
            ttfb_ms=trace.ttfb_ms if trace is not None else None,
            ttft_ms=record.ttft_ms,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cached_tokens=record.cached_tokens,
            cache_creation_tokens=record.cache_creation_tokens,
            reasoning_tokens=record.reasoning_tokens,
            cost_usd=record.cost_usd,
            attempts=record.attempts if record.provider is not None else 0,
            attempt_log=trace.attempt_log if trace is not None else [],
            error=record.error,
            capture=capture,
        )
        self.record(entry)
        return entry

    def record(self, entry: RequestLogEntry) -> None:
        if self.writer is not None and not self.writer.put(entry):
            log.debug("request log queue full; entry %s dropped", entry.request_id)

    # lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        if self.writer is None:
            return
        self.writer.start()
        if self.settings.logging.retention_days > 0:
            self._retention = asyncio.ensure_future(self._retention_loop())

    async def _retention_loop(self) -> None:
        days = self.settings.logging.retention_days
        while True:
            try:
                deleted = await asyncio.to_thread(purge_expired_logs, self.settings.data_path, days)
                if deleted:
                    log.info("deleted %d request log rows older than %d days", deleted, days)
            except Exception:
                log.exception("request log retention failed; will retry")
            await asyncio.sleep(RETENTION_INTERVAL)

    async def close(self) -> None:
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
            self._retention = None
        if self.writer is not None:
            self.writer.close()

    def stats(self) -> dict[str, Any]:
        writer = self.writer
        return {
            "enabled": self.enabled,
            "written": writer.written if writer else 0,
            "dropped": writer.dropped if writer else 0,
            "captures_dropped": writer.captures_dropped if writer else 0,
            "retention_days": self.settings.logging.retention_days,
            "capture": self.settings.logging.capture,
        }
