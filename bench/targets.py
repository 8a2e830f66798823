"""The things measured: the mock hit directly, nginx, the thin Granian proxy, OmniRoute, peers.

Each `start_*` function starts one target on loopback (pinned to the proxy CPU), waits until it
answers, and returns a `Target`; or raises `Unavailable` with the reason, so the run goes on
without it. Every target forwards to the same mock upstream (`bench.mock_upstream`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .installs import ensure_apt, ensure_venv, pip_version, tool_version
from .procs import CpuPlan, Service, free_port, http_ok, tcp_open

REPO = Path(__file__).resolve().parent.parent
#: The inbound key every gateway under test requires (OmniRoute's API key, LiteLLM's master key).
CLIENT_KEY = "sk-bench-client-key-0123456789abcdef"
UPSTREAM_KEY = "sk-bench-upstream-0123456789"

BUILTIN = ("direct", "nginx", "thin", "omniroute")
PEERS = ("litellm", "node")


class Unavailable(Exception):
    """This target cannot run here (not installed, failed to start); the reason is the message."""


@dataclass
class Target:
    name: str
    base_url: str
    service: Service
    version: str
    #: Serves `/v1/messages` (Anthropic clients) translated to the OpenAI upstream.
    translates: bool = False
    notes: list[str] = field(default_factory=list)
    #: Extra services to stop with it (none so far; kept for peers with helpers).
    helpers: list[Service] = field(default_factory=list)
    #: The inbound API key it requires (the references ignore it).
    key: str = CLIENT_KEY
    #: Provider prefix of the model names it routes to the mock (`openai/bench-chat`).
    model_prefix: str = "openai"

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}", "x-api-key": self.key}

    def body(self, body: bytes) -> bytes:
        """The scenario's request body with this target's model prefix."""
        if self.model_prefix == "openai":
            return body
        return body.replace(b'"model":"openai/', b'"model":"%s/' % self.model_prefix.encode(), 1)

    def stop(self) -> None:
        self.service.stop()
        for helper in self.helpers:
            helper.stop()


@dataclass
class Context:
    workdir: Path
    mock: Service
    mock_port: int
    cpus: CpuPlan
    allow_install: bool
    #: Model names the scenarios send (peers that need a model list are configured with them).
    models: Sequence[str]
    omniroute_workers: int = 1

    @property
    def mock_url(self) -> str:
        return f"http://127.0.0.1:{self.mock_port}"


def start_mock(workdir: Path, cpus: CpuPlan) -> tuple[Service, int]:
    port = free_port()
    service = Service(
        "mock",
        [sys.executable, "-m", "bench.mock_upstream", "--port", str(port)],
        workdir / "mock.log",
        cpus=cpus.mock,
        cwd=REPO,
    ).start()
    service.wait_ready(tcp_open(port), 20)
    return service, port


def start_direct(ctx: Context) -> Target:
    return Target("direct", ctx.mock_url, ctx.mock, "bench.mock_upstream", notes=["the mock hit directly"])


def start_nginx(ctx: Context) -> Target:
    binary = ensure_apt("nginx", "nginx", ctx.allow_install)
    if binary is None:
        raise Unavailable("nginx is not installed (Debian package `nginx`; run without --no-install)")
    root = ctx.workdir / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(
        f"""
user root;
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size 64m;
    client_body_buffer_size 2m;
    tcp_nodelay on;
    keepalive_requests 1000000;
    upstream mock {{ server 127.0.0.1:{ctx.mock_port}; keepalive 1024; keepalive_requests 1000000; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
""",
        encoding="utf-8",
    )
    service = Service(
        "nginx", [binary, "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)], root / "out.log"
    )
    service.cpus = ctx.cpus.gateway
    service.start().wait_ready(tcp_open(port), 20)
    version = tool_version([binary, "-v"]).replace("nginx version: ", "")
    return Target("nginx", f"http://127.0.0.1:{port}", service, version, notes=["1 worker, proxy_pass"])


def start_thin(ctx: Context) -> Target:
    port = free_port()
    granian = Path(sys.executable).parent / "granian"
    cmd = [str(granian)] if granian.exists() else [sys.executable, "-m", "granian"]
    cmd += ["--interface", "rsgi", "--loop", "uvloop", "--workers", "1", "--no-ws"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "bench.thin_proxy:app"]
    service = Service(
        "thin",
        cmd,
        ctx.workdir / "thin.log",
        cpus=ctx.cpus.gateway,
        env={"THIN_PROXY_UPSTREAM": ctx.mock_url},
        cwd=REPO,
    ).start()
    service.wait_ready(tcp_open(port), 30)
    import granian as granian_pkg

    version = f"Granian {granian_pkg.__version__} RSGI + aiohttp"
    return Target("thin", f"http://127.0.0.1:{port}", service, version, notes=["bench/thin_proxy.py"])


def omniroute_config(mock_url: str) -> str:
    """The real configuration: inbound API keys required, one OpenAI connection to the mock.
    Usage recording, the prompt guard (warn) and the access log stay at their defaults (on)."""
    return f"""
[server]
require_api_key = true

[[connections]]
provider = "openai"
name = "bench"
api_key = "{UPSTREAM_KEY}"
base_url = "{mock_url}/v1"

[[api_keys]]
name = "bench"
key = "{CLIENT_KEY}"
"""


def start_omniroute(ctx: Context) -> Target:
    from omniroute import __version__

    root = ctx.workdir / "omniroute"
    root.mkdir(exist_ok=True)
    config = root / "omniroute.toml"
    config.write_text(omniroute_config(ctx.mock_url), encoding="utf-8")
    port = free_port()
    cmd = [sys.executable, "-m", "omniroute.cli", "--port", str(port), "--data-dir", str(root / "data")]
    cmd += ["--config", str(config), "--workers", str(ctx.omniroute_workers)]
    unset = ("HOSTNAME", "PORT", "DATA_DIR", "OMNIROUTE_CONFIG", "OMNIROUTE_SETTINGS_JSON")
    service = Service("omniroute", cmd, root / "gateway.log", cpus=ctx.cpus.gateway, unset=unset, cwd=REPO)
    service.start().wait_ready(http_ok(f"http://127.0.0.1:{port}/health/ready"), 60)
    url = f"http://127.0.0.1:{port}"
    metrics = http_ok(f"{url}/metrics")()
    notes = [
        f"{ctx.omniroute_workers} worker, require_api_key, usage recording, prompt guard (warn), access log on",
        "metrics: /metrics served" if metrics else "metrics: this build serves no /metrics yet",
    ]
    return Target(
        "omniroute", url, service, f"OmniRoute {__version__} (Python)", translates=True, notes=notes
    )


def litellm_config(ctx: Context) -> str:
    lines = ["model_list:"]
    for model in ctx.models:
        lines += [
            f'  - model_name: "{model}"',
            "    litellm_params:",
            f'      model: "{model}"',
            f'      api_base: "{ctx.mock_url}/v1"',
            f'      api_key: "{UPSTREAM_KEY}"',
        ]
    lines += ["general_settings:", f'  master_key: "{CLIENT_KEY}"', "litellm_settings:"]
    lines += ["  telemetry: false", "  drop_params: true", "  set_verbose: false"]
    return "\n".join(lines) + "\n"


def start_litellm(ctx: Context) -> Target:
    python = ensure_venv("litellm", ["litellm[proxy]"], ctx.allow_install)
    if python is None:
        raise Unavailable("LiteLLM is not installed in bench/.venvs/litellm (run without --no-install)")
    root = ctx.workdir / "litellm"
    root.mkdir(exist_ok=True)
    config = root / "config.yaml"
    config.write_text(litellm_config(ctx), encoding="utf-8")
    port = free_port()
    cmd = [str(python.parent / "litellm"), "--config", str(config), "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--num_workers", "1", "--telemetry", "False"]
    env = {
        # No network at start-up (the model price map is bundled) and no per-request debug logs.
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_TELEMETRY": "False",
        "DISABLE_SCHEMA_UPDATE": "True",
        # Anthropic clients on an OpenAI model: translate to Chat Completions, as OmniRoute does
        # (LiteLLM's default for openai/ models is the Responses API, which the mock does not serve).
        "LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES": "true",
    }
    service = Service("litellm", cmd, root / "litellm.log", cpus=ctx.cpus.gateway, env=env, cwd=root)
    service.start().wait_ready(http_ok(f"http://127.0.0.1:{port}/health/liveliness"), 180)
    version = pip_version(python, "litellm") or "unknown"
    notes = [
        "1 worker, master key required, no database (so no spend logs: LiteLLM needs Postgres for them)",
        "Anthropic /v1/messages translated to Chat Completions upstream",
    ]
    return Target(
        "litellm", f"http://127.0.0.1:{port}", service, f"LiteLLM {version}", translates=True, notes=notes
    )


def start_node(ctx: Context) -> Target:
    from .node_peer import start_node_omniroute

    return start_node_omniroute(ctx)


STARTERS = {
    "direct": start_direct,
    "nginx": start_nginx,
    "thin": start_thin,
    "omniroute": start_omniroute,
    "litellm": start_litellm,
    "node": start_node,
}
