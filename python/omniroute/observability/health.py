"""The `/api/health` report: process, storage, resilience state and request counts of the
worker that answers (the resilience state and counters are per process)."""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omniroute import __version__
from omniroute.store.db import DB_FILE

if TYPE_CHECKING:
    from omniroute.runtime import Runtime


def rss_bytes() -> int | None:
    """Resident set size now (Linux `/proc`), or None where that is not available."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            resident_pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def database_files(data_dir: Path) -> dict[str, int]:
    """Sizes of the database, its WAL and shared-memory files, and their sum (bytes)."""
    sizes: dict[str, int] = {}
    for label, suffix in (("main_bytes", ""), ("wal_bytes", "-wal"), ("shm_bytes", "-shm")):
        try:
            sizes[label] = (data_dir / f"{DB_FILE}{suffix}").stat().st_size
        except OSError:
            sizes[label] = 0
    sizes["size_bytes"] = sum(sizes.values())
    return sizes


def health_report(rt: Runtime, *, now: float | None = None) -> dict[str, Any]:
    mono = time.monotonic() if now is None else now
    telemetry = rt.telemetry
    database_ok = rt.database_ok()
    breakers = rt.breakers.snapshot(mono)
    return {
        "status": "ok" if database_ok else "degraded",
        "version": __version__,
        "pid": os.getpid(),
        "workers": rt.settings.workers,
        "started_at": round(telemetry.started_at, 3),
        "uptime_s": round(mono - telemetry.started_monotonic, 3),
        "memory": {"rss_bytes": rss_bytes(), "peak_rss_bytes": peak_rss_bytes()},
        "database": {"ok": database_ok, **database_files(rt.settings.data_path)},
        "breakers": breakers,
        "open_breakers": sum(1 for b in breakers if b["state"] != "closed"),
        "cooldowns": rt.cooldowns.snapshot(mono),
        "limits": rt.limits.snapshot(),
        "model_slots": rt.model_slots.snapshot(),
        "cache": {
            "enabled": False,
            "note": "no response cache yet: every call goes upstream",
            "hits": 0,
            "misses": 0,
        },
        "requests": telemetry.counts(),
        "request_log": rt.request_log.stats(),
        "usage_writer": {"written": rt.usage.written, "dropped": rt.usage.dropped},
    }
