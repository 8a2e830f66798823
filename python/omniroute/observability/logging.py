"""Structured JSON logging: one line per record on stderr, level from the CLI or environment.

Records are written in the background (`DeferredStderrHandler`, a `BackgroundDrain`): the
request path only appends the record to a deque; an idle-priority thread formats and writes what
piled up every 100 ms, at once for warnings and errors, and at exit. Per-request disk writes stay
off the loop, and the formatting does not delay calls.

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
import time
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from omniroute.background import BackgroundDrain

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


class _LineDrain(BackgroundDrain["logging.LogRecord", None]):
    """Formats queued records and writes them, one `write` per chunk, to the handler's stream."""

    thread_name = "omniroute-log-writer"

    def __init__(self, handler: DeferredStderrHandler, *, interval: float, max_pending: int) -> None:
        super().__init__(max_queue=max_pending, batch=1024, interval=interval, chunk=32)
        self._handler = handler

    def _open(self) -> None:
        return None

    def _handle(self, state: None, items: list[logging.LogRecord]) -> None:
        handler = self._handler
        lines = []
        for record in items:
            try:
                lines.append(handler.format(record))
            except Exception:
                handler.handleError(record)
        stream = handler.stream if handler.stream is not None else sys.stderr
        try:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass  # stderr closed (shutdown): nothing left to tell


class DeferredStderrHandler(logging.Handler):
    """Queues records; background threads (started lazily, once per process) write them.

    The writing is a `BackgroundDrain`: an idle-priority thread writes what piled up every
    100 ms (at once for warnings and errors), a normal-priority thread takes over when the
    backlog grows on a saturated core. At most `max_pending` records wait; beyond that new ones
    are dropped and counted (`dropped`), so a blocked stderr cannot grow memory without bound.
    `flush` writes synchronously (logging calls it at exit)."""

    def __init__(
        self, stream: TextIO | None = None, *, interval: float = 0.1, max_pending: int = 100_000
    ) -> None:
        super().__init__()
        self.stream = stream
        self._drain = _LineDrain(self, interval=interval, max_pending=max_pending)
        self._thread_pid = 0

    @property
    def dropped(self) -> int:
        return self._drain.dropped

    def emit(self, record: logging.LogRecord) -> None:
        if not self._drain.put(record):
            return
        if self._thread_pid != os.getpid():
            # After a fork the parent's threads do not exist in the child: start them per process.
            self._thread_pid = os.getpid()
            self._drain.start()
        if record.levelno >= logging.WARNING:
            self._drain.wake()

    def flush(self) -> None:
        self._drain.handle_now(None)


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
