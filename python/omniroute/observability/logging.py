"""Structured JSON logging: one line per record on stderr, level from the CLI or environment.

Records are written by a background thread (`DeferredStderrHandler`): the request path only
appends the record to a deque; the thread formats and writes what piled up every 100 ms in one
`write`, at once for warnings and errors, and at exit. Per-request disk writes stay off the loop.

The level (`--log-level`, `LOG_LEVEL`, `[server] log_level`; default `info`) is applied to the
`omniroute` logger of every worker. At `info` and below, every call writes one access line
(`logger` `omniroute.access`, `msg` `request`) with the fields of its request-log entry:
request id, method, route, client and upstream dialect, provider, account, key id, requested
and called model, combo, stream, status, outcome, latency phases (`latency_ms`, `upstream_ms`,
`overhead_ms`, `ttfb_ms`, `ttft_ms`), tokens (input, output, cached, cache-creation,
reasoning), `cost_usd`, `attempts` (plus `attempt_log` when there were several) and `error`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

if TYPE_CHECKING:
    from omniroute.store.request_log_repo import RequestLogEntry

_encoder = msgspec.json.Encoder()
access_log = logging.getLogger("omniroute.access")
_gateway_log = logging.getLogger("omniroute")
#: The handler `configure_logging` installed (the access line's fast path writes to it).
_deferred: DeferredStderrHandler | None = None
#: Entry fields left out of the access line (the capture is for the database only).
_NOT_LOGGED = frozenset({"capture", "attempt_log", "ts"})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        access = getattr(record, "access_entry", None)
        if access is not None:
            entry.update(access_fields(access))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(entry).decode()


class DeferredStderrHandler(logging.Handler):
    """Queues records; a daemon thread (started lazily, once per process) writes them in batches.

    At most `max_pending` records wait; beyond that new ones are dropped and counted (`dropped`),
    so a blocked stderr cannot grow memory without bound. `flush` writes synchronously (logging
    calls it at exit)."""

    def __init__(
        self, stream: TextIO | None = None, *, interval: float = 0.1, max_pending: int = 100_000
    ) -> None:
        super().__init__()
        self._stream = stream
        self._interval = interval
        self._max_pending = max_pending
        self._pending: deque[logging.LogRecord] = deque()
        self._wake = threading.Event()
        self._write_lock = threading.Lock()
        self._thread_pid = 0
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            return
        self._pending.append(record)
        if self._thread_pid != os.getpid():
            self._start_thread()
        if record.levelno >= logging.WARNING:
            self._wake.set()

    def flush(self) -> None:
        with self._write_lock:
            pending = self._pending
            if not pending:
                return
            lines = []
            while pending:
                record = pending.popleft()
                try:
                    lines.append(self.format(record))
                except Exception:
                    self.handleError(record)
            stream = self._stream if self._stream is not None else sys.stderr
            try:
                stream.write("\n".join(lines) + "\n")
                stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed (shutdown): nothing left to tell

    def _start_thread(self) -> None:
        # After a fork the parent's thread does not exist in the child: start one per process.
        self._thread_pid = os.getpid()
        threading.Thread(target=self._run, name="omniroute-log-writer", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()


def configure_logging(level: str) -> None:
    # No record needs its caller's file and line, thread or process names (the JSON line does
    # not show them); skipping them saves a stack walk per record (Python's logging docs,
    # "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    global _deferred
    root = logging.getLogger("omniroute")
    root.setLevel(level.upper())
    if not any(getattr(h, "_omniroute", False) for h in root.handlers):
        handler = DeferredStderrHandler()
        handler.setFormatter(JsonFormatter())
        handler._omniroute = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        _deferred = handler
    root.propagate = False


def now_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def access_fields(entry: RequestLogEntry) -> dict[str, Any]:
    fields: dict[str, Any] = msgspec.structs.asdict(entry)
    for name in _NOT_LOGGED:
        del fields[name]
    if entry.error:
        fields["error"] = entry.error[:300]
    if len(entry.attempt_log) > 1:
        fields["attempt_log"] = entry.attempt_log
    return fields


class _AccessRecord:
    """The fields of a `logging.LogRecord` that `JsonFormatter` and the handler read, for the
    access line's fast path (a real LogRecord costs several microseconds to build)."""

    __slots__ = ("access_entry", "created")
    name = "omniroute.access"
    levelno = logging.INFO
    levelname = "INFO"
    exc_info = None
    fields = None

    def __init__(self, entry: RequestLogEntry) -> None:
        self.access_entry = entry
        self.created = time.time()

    def getMessage(self) -> str:  # the LogRecord method name
        return "request"


def log_access(entry: RequestLogEntry) -> None:
    """Queues the call's access line (when `info` is enabled). The entry is immutable; turning it
    into the line's fields is the formatter's job, in the writer thread.

    When nothing but the gateway's own handler would see the record (the normal set-up), it goes
    straight to that handler; otherwise (handlers or filters added, as tests do) through logging."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    handler = _deferred
    if (
        handler is not None
        and not access_log.handlers
        and not access_log.filters
        and access_log.propagate
        and _gateway_log.handlers == [handler]
        and not _gateway_log.filters
        and not handler.filters
    ):
        handler.emit(_AccessRecord(entry))  # type: ignore[arg-type]
        return
    access_log.info("request", extra={"access_entry": entry})
