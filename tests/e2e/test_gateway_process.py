"""Process-level behaviour of the real gateway: keys, timeouts, storage, shutdown, CLI errors."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import apsw
import httpx
import openai
import pytest

from tests.e2e.conftest import UPSTREAM_KEY, gateway_config
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess, free_port

MESSAGES = [{"role": "user", "content": "hello"}]
CI_KEY = "sk-test-ci-key-0123456789abcdef"


def usage_rows(data_dir: Path, expected: int, timeout: float = 5.0) -> list[dict[str, object]]:
    """Rows of usage_records once at least `expected` exist (the writer batches every 0.25 s)."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        conn = apsw.Connection(str(data_dir / "omniroute.sqlite"), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            names = [row[1] for row in conn.execute("PRAGMA table_info(usage_records)")]
            found = conn.execute("SELECT * FROM usage_records ORDER BY id").fetchall()
            rows = [dict(zip(names, row, strict=True)) for row in found]
        finally:
            conn.close()
        if len(rows) >= expected:
            return rows
        time.sleep(0.1)
    return rows


@pytest.fixture(scope="module")
def keyed_gateway(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    extra = f"""
[server]
require_api_key = true
first_byte_timeout = 1.0

[[connections]]
provider = "deepseek"
name = "dead"
api_key = "x"
base_url = "http://127.0.0.1:{free_port()}/v1"

[[api_keys]]
name = "ci"
key = "{CI_KEY}"
allowed_models = ["openai/*", "deepseek/*"]

[[api_keys]]
name = "generated"
"""
    base = tmp_path_factory.mktemp("keyed")
    with GatewayProcess(base / "data", gateway_config(mock, extra)) as proc:
        yield proc


def keyed_client(gateway: GatewayProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=20)


def test_missing_and_invalid_keys_are_rejected(keyed_gateway: GatewayProcess) -> None:
    resp = httpx.post(
        f"{keyed_gateway.url}/v1/chat/completions", json={"model": "openai/gpt-4o", "messages": []}
    )
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "missing_api_key"
    with pytest.raises(openai.AuthenticationError):
        keyed_client(keyed_gateway, "sk-wrong-key-xxxxxxxxxxxxxxxx").chat.completions.create(
            model="openai/gpt-4o",
            messages=MESSAGES,  # type: ignore[arg-type]
        )
    assert httpx.get(f"{keyed_gateway.url}/v1/models").status_code == 401


def test_valid_key_works_with_every_header_form(keyed_gateway: GatewayProcess) -> None:
    resp = keyed_client(keyed_gateway, CI_KEY).chat.completions.create(
        model="openai/gpt-4o",
        messages=MESSAGES,  # type: ignore[arg-type]
    )
    assert resp.choices[0].message.content
    for headers in ({"x-api-key": CI_KEY}, {"x-goog-api-key": CI_KEY}):
        r = httpx.post(
            f"{keyed_gateway.url}/v1/chat/completions",
            json={"model": "openai/gpt-4o", "messages": MESSAGES},
            headers=headers,
        )
        assert r.status_code == 200, r.text


def test_allowed_models_are_enforced_on_the_resolved_model(keyed_gateway: GatewayProcess) -> None:
    with pytest.raises(openai.PermissionDeniedError) as info:
        keyed_client(keyed_gateway, CI_KEY).chat.completions.create(
            model="groq/llama-3.3-70b-versatile",
            messages=MESSAGES,  # type: ignore[arg-type]
        )
    assert "may not use model" in info.value.message


def test_generated_key_is_printed_once_and_works(keyed_gateway: GatewayProcess) -> None:
    match = re.search(r"generated API key 'generated'.*: (sk-omr-\S+)", keyed_gateway.logs())
    assert match, keyed_gateway.logs()
    resp = keyed_client(keyed_gateway, match.group(1)).chat.completions.create(
        model="groq/llama-3.3-70b-versatile",
        messages=MESSAGES,  # type: ignore[arg-type]
    )
    assert resp.choices[0].message.content
    raw = (keyed_gateway.data_dir / "omniroute.sqlite").read_bytes()
    assert match.group(1).encode() not in raw and CI_KEY.encode() not in raw


def test_slow_first_byte_times_out_with_504(keyed_gateway: GatewayProcess) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        keyed_client(keyed_gateway, CI_KEY).chat.completions.create(
            model="openai/gpt-4o",
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_body={"mock": {"delay_ms": 3000}},
        )
    assert info.value.status_code == 504
    assert info.value.response.headers["x-should-retry"] == "false"


def test_unreachable_upstream_is_a_502(keyed_gateway: GatewayProcess) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        keyed_client(keyed_gateway, CI_KEY).chat.completions.create(
            model="deepseek/deepseek-chat",
            messages=MESSAGES,  # type: ignore[arg-type]
        )
    assert info.value.status_code == 502
    assert "cannot connect" in info.value.message


def test_usage_is_recorded_for_success_stream_and_failure(mock: MockProvider, tmp_path: Path) -> None:
    with GatewayProcess(tmp_path / "data", gateway_config(mock)) as gw:
        client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key="x", max_retries=0)
        client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
        list(
            client.chat.completions.create(
                model="openai/gpt-4o-mini",
                messages=MESSAGES,  # type: ignore[arg-type]
                stream=True,
                extra_body={
                    "mock": {"usage": {"prompt_tokens": 20, "completion_tokens": 9, "cached_tokens": 4}}
                },
            )
        )
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(
                model="openai/gpt-4o",
                messages=MESSAGES,
                extra_body={"mock": {"status": 429}},  # type: ignore[arg-type]
            )
        rows = usage_rows(gw.data_dir, 3)
    assert [(r["model"], r["stream"], r["status"], r["outcome"]) for r in rows] == [
        ("gpt-4o", 0, 200, "success"),
        ("gpt-4o-mini", 1, 200, "success"),
        ("gpt-4o", 0, 429, "error"),
    ]
    assert (rows[1]["input_tokens"], rows[1]["output_tokens"], rows[1]["cached_tokens"]) == (20, 9, 4)
    assert rows[0]["provider"] == "openai" and rows[0]["requested_model"] == "openai/gpt-4o"
    assert rows[1]["ttft_ms"] is not None


def test_provider_credentials_are_encrypted_at_rest(gateway: GatewayProcess) -> None:
    raw = (gateway.data_dir / "omniroute.sqlite").read_bytes()
    assert UPSTREAM_KEY.encode() not in raw
    key_file = gateway.data_dir / "storage.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_sigterm_lets_an_in_flight_stream_finish(mock: MockProvider, tmp_path: Path) -> None:
    gw = GatewayProcess(tmp_path / "data", gateway_config(mock)).start()
    received: list[bytes] = []
    errors: list[BaseException] = []

    def consume() -> None:
        body = {
            "model": "openai/gpt-4o",
            "messages": MESSAGES,
            "stream": True,
            "mock": {"text": " ".join(["tok"] * 15), "chunks": 15, "chunk_delay_ms": 100},
        }
        try:
            with httpx.stream("POST", f"{gw.url}/v1/chat/completions", json=body, timeout=20) as resp:
                received.extend(resp.iter_raw())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=consume)
    thread.start()
    try:
        time.sleep(0.5)
        gw.terminate()
        thread.join(20)
        code = gw.wait(20)
    finally:
        gw.stop()
    raw = b"".join(received)
    assert not errors, errors
    assert raw.endswith(b"data: [DONE]\n\n"), raw[-200:]
    assert raw.count(b"tok") == 15
    assert code == 0


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omniroute.cli", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )


def test_malformed_config_fails_start_naming_file_line_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[connections]]\nprovider = "openai"\nname = "a"\npriority = "high"\n', encoding="utf-8")
    result = run_cli("--config", str(cfg), "--data-dir", str(tmp_path / "d"), "--port", str(free_port()))
    assert result.returncode == 2
    assert f"{cfg}:4" in result.stderr and "priority" in result.stderr


def test_public_bind_without_keys_is_refused(tmp_path: Path) -> None:
    result = run_cli("--host", "0.0.0.0", "--data-dir", str(tmp_path / "d"), "--port", str(free_port()))
    assert result.returncode == 2
    assert "refusing to bind 0.0.0.0" in result.stderr


def test_version_flag() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("omniroute ")


def test_gemini_surface_accepts_query_key_and_lists_models(keyed_gateway: GatewayProcess) -> None:
    assert httpx.get(f"{keyed_gateway.url}/v1beta/models").status_code == 401
    denied = httpx.get(f"{keyed_gateway.url}/v1beta/models", params={"key": "sk-wrong-key-xxxxxxxxxxxxxxxx"})
    assert denied.status_code == 401 and denied.json()["error"]["status"] == "UNAUTHENTICATED"
    listed = httpx.get(f"{keyed_gateway.url}/v1beta/models", params={"key": CI_KEY})
    names = {m["name"] for m in listed.json()["models"]}
    assert "models/openai/gpt-4o" in names


def test_anthropic_surface_accepts_beta_query_and_bearer(keyed_gateway: GatewayProcess) -> None:
    resp = httpx.post(
        f"{keyed_gateway.url}/v1/messages",
        params={"beta": "true"},
        headers={"authorization": f"Bearer {CI_KEY}", "anthropic-version": "2023-06-01"},
        json={"model": "openai/gpt-4o", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "message"
    missing = httpx.post(f"{keyed_gateway.url}/v1/messages", json={"model": "openai/gpt-4o", "messages": []})
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
