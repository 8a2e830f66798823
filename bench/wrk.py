"""Closed-loop throughput with wrk (Debian package `wrk`), driven by a generated Lua script.

The script sets the POST body (read from a file, up to the 1 MB image request) and headers, and
its `done` hook prints one JSON line with the request count, error counts and latency
percentiles, so nothing is scraped from wrk's human-readable report. wrk follows chunked
responses to their end, so a streamed request counts when its last event has arrived.
wrk takes whole seconds only: durations are rounded up to at least 1 s.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .procs import pinned

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"status_errors":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def lua_script(body_path: Path, headers: Mapping[str, str]) -> str:
    lines = [
        f"local f = assert(io.open({json.dumps(str(body_path))}, 'rb'))",
        'wrk.method = "POST"',
        "wrk.body = f:read('*a')",
        "f:close()",
    ]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n" + _DONE


def run_wrk(
    wrk: str,
    url: str,
    body_path: Path,
    headers: Mapping[str, str],
    *,
    concurrency: int,
    duration: float,
    cpus: Sequence[int],
    workdir: Path,
) -> dict[str, Any]:
    """Runs wrk once; returns the same summary shape as `LoadResult.summary()` (no TTFB)."""
    script = workdir / f"wrk-{body_path.stem}.lua"
    script.write_text(lua_script(body_path, headers), encoding="utf-8")
    seconds = max(1, math.ceil(duration))
    cmd = [wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s", "-s", str(script), url]
    result = subprocess.run(
        pinned(cmd, cpus), capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({result.returncode}): {result.stderr.strip() or result.stdout[-500:]}"
        )
    raw = json.loads(line[len("WRKJSON ") :])
    elapsed = raw["duration_us"] / 1e6
    errors = {k: raw[k] for k in ("connect", "read", "write", "timeout") if raw[k]}
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / elapsed if elapsed else 0.0,
        "elapsed_s": elapsed,
        "non_2xx": raw["status_errors"],
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "bad_bodies": 0,
        "latency_ms": {k: raw[k] / 1000 for k in ("p50", "p90", "p99", "max")},
        "ttfb_ms": {"p50": None, "p90": None, "p99": None, "max": None},
        "loadgen": "wrk",
    }
