"""Runs a real `omniroute` process (Granian) on a free loopback port for end-to-end tests.

Bounded everywhere: start-up waits at most `start_timeout`, stop sends SIGTERM and then
SIGKILL after `stop_timeout`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayProcess:
    #: Every gateway started in this test session that is still running.
    running: list[GatewayProcess] = []  # noqa: RUF012 - deliberately shared across instances

    def __init__(
        self,
        data_dir: Path,
        config_text: str | None = None,
        *,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.config_path: Path | None = None
        if config_text is not None:
            self.config_path = data_dir.parent / f"{data_dir.name}-config.toml"
            self.config_path.write_text(config_text, encoding="utf-8")
        self.extra_args = extra_args
        self.env = env or {}
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-gateway.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "omniroute.cli",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if self.config_path is not None:
            cmd += ["--config", str(self.config_path)]
        return cmd + list(self.extra_args)

    def start(self) -> Self:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("HOSTNAME", "PORT", "DATA_DIR", "OMNIROUTE_CONFIG")
        }
        env.update(self.env)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health/ready", timeout=1) as resp:
                    if resp.status == 200:
                        GatewayProcess.running.append(self)
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gateway did not become ready:\n{self.logs()}")

    def logs(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def reset_resilience(self) -> None:
        """Clears breakers and cooldowns, so one test's failures do not leak into the next."""
        request = urllib.request.Request(
            f"{self.url}/api/health/resilience/reset",
            data=b'{"breakers": true, "cooldowns": true}',
            method="POST",
            headers={"content-type": "application/json", **self.admin_headers()},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 200

    def admin_headers(self) -> dict[str, str]:
        token = self.env.get("OMNIROUTE_ADMIN_TOKEN")
        return {"authorization": f"Bearer {token}"} if token else {}

    def stop(self, timeout: float = 15.0) -> int | None:
        if self in GatewayProcess.running:
            GatewayProcess.running.remove(self)
        if self.proc is None:
            return None
        self.terminate()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
