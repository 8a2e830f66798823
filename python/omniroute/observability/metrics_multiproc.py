"""prometheus-client multiprocess mode for several Granian workers.

With `workers > 1` every worker writes its series to memory-mapped files in one directory and
`GET /metrics` (served by whichever worker gets the scrape) merges them all with
`prometheus_client.multiprocess.MultiProcessCollector`: counters and histograms are summed over
every worker that ever ran since start-up (dead ones included, so totals never drop or jump
between scrapes), gauges are combined per their `multiprocess_mode`.

The CLI calls `prepare_multiproc_dir` before Granian starts (and forks) the workers: the
directory `<data_dir>/metrics-multiproc` is wiped and recreated, and `PROMETHEUS_MULTIPROC_DIR`
names it in the environment the workers inherit. prometheus-client chooses its value storage
when it is first imported, so nothing here imports it at module level. With one worker the
variable is removed and the worker keeps its series in memory.

Workers mark themselves dead (`mark_process_dead`) when they stop, and each worker sweeps the
directory now and then for files of workers that are gone (crashed or killed), so the live
gauges (`livesum` / `livemax`) forget them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from omniroute.settings import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Directory under `data_dir` that holds the workers' metric files (ours alone: wiped at start).
DIR_NAME = "metrics-multiproc"
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def multiproc_dir_for(settings: Settings) -> Path:
    return settings.data_path / DIR_NAME


def prepare_multiproc_dir(settings: Settings, environ: MutableMapping[str, str] | None = None) -> Path | None:
    """Sets up (or turns off) multiprocess collection before the workers start.

    Returns the directory when several workers will share it, else None. A directory left by
    an earlier run is wiped, so its counters never leak into this one.
    """
    env = os.environ if environ is None else environ
    if settings.workers <= 1 or not settings.metrics.enabled:
        env.pop(MULTIPROC_ENV, None)
        env.pop("prometheus_multiproc_dir", None)
        return None
    path = multiproc_dir_for(settings)
    if path.is_symlink():
        raise OSError(f"{path} is a symbolic link; refusing to wipe it")
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)
    env[MULTIPROC_ENV] = str(path)
    env.pop("prometheus_multiproc_dir", None)
    return path


def multiproc_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The shared directory this worker writes to, when the CLI set one up."""
    env = os.environ if environ is None else environ
    value = env.get(MULTIPROC_ENV)
    if not value:
        return None
    path = Path(value)
    return path if path.is_dir() else None


def use_multiprocess_values() -> None:
    """Makes sure prometheus-client stores values in the shared files.

    It decides when first imported; should it have been imported before the variable was set
    (in the parent process, before the fork), switch it now, before any metric is created.
    """
    from prometheus_client import values

    if values.ValueClass is values.MutexValue:
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def pid_alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        # Field 3, after the parenthesised command name, is the state; Z = zombie, X = dead.
        state = stat.rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return True


def live_gauge_pids(path: Path) -> set[int]:
    """Processes that left live-gauge files in `path`."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for entry in os.scandir(path):
            match = _LIVE_GAUGE_FILE.match(entry.name)
            if match:
                found.add(int(match.group(1)))
    return found


def sweep_dead_workers(path: Path, own_pid: int | None = None) -> list[int]:
    """Marks every process that left live-gauge files but no longer runs as dead."""
    from prometheus_client.multiprocess import mark_process_dead

    me = os.getpid() if own_pid is None else own_pid
    dead = sorted(pid for pid in live_gauge_pids(path) if pid != me and not pid_alive(pid))
    for pid in dead:
        with contextlib.suppress(OSError):
            mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]
    return dead


def mark_self_dead(path: Path) -> None:
    """Called by a worker that stops: its live gauges stop counting."""
    from prometheus_client.multiprocess import mark_process_dead

    with contextlib.suppress(OSError):
        mark_process_dead(os.getpid(), str(path))  # type: ignore[no-untyped-call]
