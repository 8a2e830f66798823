"""End-to-end fixtures: one mock provider and one real gateway process per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess

UPSTREAM_KEY = "sk-upstream-secret-0123456789"


def gateway_config(mock: MockProvider, extra: str = "") -> str:
    return f"""
[[connections]]
provider = "openai"
name = "main"
api_key = "{UPSTREAM_KEY}"
base_url = "{mock.base_url}"

[[connections]]
provider = "groq"
name = "fast"
api_key = "gsk-upstream"
base_url = "{mock.base_url}"
models = ["llama-3.3-70b-versatile"]

[[nodes]]
id = "local-vllm"
prefix = "vllm"
dialect = "openai"
base_url = "{mock.base_url}"
api_key = "node-key"
{extra}
"""


@pytest.fixture(scope="session")
def mock() -> Iterator[MockProvider]:
    with MockProvider() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _clean_state(mock: MockProvider) -> None:
    """Each test starts with an empty mock and gateways without cooldowns or open breakers."""
    mock.clear()
    for gateway in list(GatewayProcess.running):
        if gateway.proc is not None and gateway.proc.poll() is None:
            gateway.reset_resilience()


@pytest.fixture(scope="session")
def gateway(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("gw")
    with GatewayProcess(base / "data", gateway_config(mock)) as proc:
        yield proc
        assert proc.proc is not None and proc.proc.poll() is None, "gateway died during the session"


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway.url}/v1", api_key="unused-when-keys-optional", max_retries=0, timeout=20
    )


def data_dir_db(gateway: GatewayProcess) -> Path:
    return gateway.data_dir / "omniroute.sqlite"
