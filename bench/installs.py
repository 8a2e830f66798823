"""What the harness installs for itself, each only when missing and only when allowed.

- Debian packages (`nginx`, `wrk`) with apt-get (the harness runs as root on the bench machine).
- Python tools in their own virtual environments under `bench/.venvs/<name>` (LiteLLM, matplotlib),
  never in the project's environment, so a peer's dependency pins cannot change what is measured.
- The Node OmniRoute peer under `bench/.node` (see `node_peer.py`).

Every function returns None (and says why on stderr) instead of raising when an install fails,
so a missing reference is skipped with a message rather than failing the run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
VENVS = BENCH_DIR / ".venvs"
_apt_updated = False


def note(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _run(cmd: Sequence[str], timeout: float, env: dict[str, str] | None = None) -> bool:
    try:
        result = subprocess.run(
            list(cmd), capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        note(f"{' '.join(cmd[:3])} failed: {exc}")
        return False
    if result.returncode != 0:
        note(f"{' '.join(cmd[:4])} exited {result.returncode}: {result.stderr.strip()[-600:]}")
        return False
    return True


def ensure_apt(binary: str, package: str, allow: bool) -> str | None:
    """Path of `binary`, installing the Debian `package` that ships it when missing."""
    global _apt_updated
    found = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if found or not allow:
        return found
    if shutil.which("apt-get") is None:
        note(f"{binary} is missing and apt-get is not available")
        return None
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    note(f"installing {package} with apt-get")
    if not _run(install, 600, env):
        if _apt_updated or not _run(["apt-get", "update", "-q"], 600, env):
            return None
        _apt_updated = True
        if not _run(install, 600, env):
            return None
    return shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)


def ensure_venv(name: str, requirements: Sequence[str], allow: bool, timeout: float = 1200) -> Path | None:
    """The python of `bench/.venvs/<name>` with `requirements` installed (pip, from PyPI)."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    marker = venv / ".bench-requirements"
    wanted = "\n".join(requirements)
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    if not allow:
        return None
    note(f"creating bench/.venvs/{name} with {' '.join(requirements)} (first run only)")
    base = getattr(sys, "_base_executable", sys.executable)
    if not python.exists() and not _run([base, "-m", "venv", str(venv)], 300):
        return None
    if not _run([str(python), "-m", "pip", "install", "-q", *requirements], timeout):
        return None
    marker.write_text(wanted)
    return python


def pip_version(python: Path, package: str) -> str | None:
    try:
        result = subprocess.run(
            [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


def tool_version(cmd: Sequence[str]) -> str:
    try:
        result = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (result.stdout + result.stderr).strip().splitlines()
    return text[0].strip() if text else "unknown"
