"""Structured JSON logging: one line per record on stderr, level from the CLI or environment.

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
import sys
import time
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from omniroute.store.request_log_repo import RequestLogEntry

_encoder = msgspec.json.Encoder()
access_log = logging.getLogger("omniroute.access")
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
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return _encoder.encode(entry).decode()


def configure_logging(level: str) -> None:
    root = logging.getLogger("omniroute")
    root.setLevel(level.upper())
    if not any(getattr(h, "_omniroute", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._omniroute = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.propagate = False


def now_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)


def log_access(entry: RequestLogEntry) -> None:
    """Writes the call's access line (when `info` is enabled)."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields: dict[str, Any] = {
        name: getattr(entry, name) for name in entry.__struct_fields__ if name not in _NOT_LOGGED
    }
    if entry.error:
        fields["error"] = entry.error[:300]
    if len(entry.attempt_log) > 1:
        fields["attempt_log"] = entry.attempt_log
    access_log.info("request", extra={"fields": fields})
