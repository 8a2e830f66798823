"""Processes under test: start (pinned to CPUs), wait until ready, measure CPU and RSS, stop.

CPU time and RSS are summed over a process and its descendants (Granian's supervisor and its
worker, nginx's master and worker), read from /proc: `utime + stime` of every process in the
tree, and resident pages from `statm`. RSS sums count pages shared between a parent and its
forked worker twice, so a forking server reads slightly high; every target is measured the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class CpuPlan:
    """Which CPUs the proxies, the mock upstream and the load generator run on."""

    gateway: tuple[int, ...] = ()
    mock: tuple[int, ...] = ()
    load: tuple[int, ...] = ()

    @classmethod
    def for_machine(cls, pin: bool) -> CpuPlan:
        cpus = sorted(os.sched_getaffinity(0))
        if not pin or len(cpus) < 2 or shutil.which("taskset") is None:
            return cls()
        if len(cpus) == 2:
            # The layout: the proxy alone on one core, mock and load generator on the other.
            return cls((cpus[0],), (cpus[1],), (cpus[1],))
        return cls((cpus[0],), (cpus[1],), tuple(cpus[2:]))

    def describe(self) -> str:
        if not self.gateway:
            return "not pinned"
        return (
            f"proxy under test on CPU {_cpus(self.gateway)}, mock upstream on CPU {_cpus(self.mock)}, "
            f"load generator on CPU {_cpus(self.load)} (taskset -c)"
        )


def _cpus(cpus: Sequence[int]) -> str:
    return ",".join(str(c) for c in cpus)


def pinned(cmd: Sequence[str], cpus: Sequence[int]) -> list[str]:
    return ["taskset", "-c", _cpus(cpus), *cmd] if cpus else list(cmd)


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (via /proc/<pid>/task/*/children)."""
    found = [pid]
    i = 0
    while i < len(found):
        current = found[i]
        i += 1
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{current}/task/{task}/children") as fh:
                    found.extend(int(p) for p in fh.read().split())
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / CLK_TCK


def rss_bytes(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{pid}/statm") as fh:
            total += int(fh.read().split()[1]) * PAGE
    return total


def pss_bytes(pids: Sequence[int]) -> int:
    """Proportional set size: like RSS, but a page shared by n processes counts 1/n in each, so a
    forking server's tree is not counted twice (`/proc/<pid>/smaps_rollup`)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


class RssSampler:
    """Samples the RSS of a fixed set of processes every `interval` seconds; keeps the peak."""

    def __init__(self, pids: Sequence[int], interval: float = 0.1) -> None:
        self.pids = list(pids)
        self.interval = interval
        self.peak = rss_bytes(self.pids)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes(self.pids))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pids))


@dataclass
class Service:
    """One long-running process of the benchmark (mock, proxy, gateway, peer)."""

    name: str
    cmd: list[str]
    log_path: Path
    cpus: tuple[int, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    #: Environment variables removed for this process (HOSTNAME would set OmniRoute's bind host).
    unset: tuple[str, ...] = ()
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        env = {k: v for k, v in os.environ.items() if k not in self.unset}
        env.update(self.env)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            pinned(self.cmd, self.cpus),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-tail:]
        except OSError:
            return ""

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.logs()}")
            if probe():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready within {timeout:g} s:\n{self.logs()}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # Its own session (start_new_session): the group holds the workers it forked, nothing else.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def http_ok(url: str, headers: dict[str, str] | None = None) -> Callable[[], bool]:
    def probe() -> bool:
        request = urllib.request.Request(url, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=1) as resp:
                return bool(200 <= resp.status < 300)
        except (OSError, urllib.error.HTTPError):
            return False

    return probe


def tcp_open(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    return probe
