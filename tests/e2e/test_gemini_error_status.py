"""Upstream error statuses as a Gemini client (google-genai) sees them: `error.code` is the HTTP
status and `error.status` its google.rpc.Code name (rust/core/src/rpc_status.rs), never a
blanket INTERNAL; a Gemini upstream's own status name is kept when it fits the status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from tests.e2e.test_dialect_matrix import matrix_config
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess

OPENAI_KEY = "sk-openai-upstream"
GEMINI_KEY = "gemini-upstream-key"


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("gemini-status")
    config = matrix_config(mock) + "\n[routing]\nretry_delay = 0.01\n"
    with GatewayProcess(base / "data", config) as proc:
        yield proc


def ask(gw: GatewayProcess, model: str) -> genai_errors.APIError:
    client = genai.Client(
        api_key="sk-client", http_options=gtypes.HttpOptions(base_url=gw.url, api_version="v1beta")
    )
    with pytest.raises(genai_errors.APIError) as info:
        client.models.generate_content(model=model, contents="x")
    return info.value


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (405, "UNIMPLEMENTED"),
        (409, "ABORTED"),
        (410, "NOT_FOUND"),
        (422, "INVALID_ARGUMENT"),
        (451, "FAILED_PRECONDITION"),
        (500, "INTERNAL"),
        (501, "UNIMPLEMENTED"),
        (502, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
        (507, "UNKNOWN"),
    ],
)
def test_an_openai_upstreams_status_gets_its_rpc_name(
    gw: GatewayProcess, mock: MockProvider, status: int, name: str
) -> None:
    mock.script_for_key(OPENAI_KEY, {"status": status, "error_message": f"upstream said {status}"})
    error = ask(gw, "openai/gpt-4o")
    assert (error.code, error.status) == (status, name)
    assert f"upstream said {status}" in (error.message or "")


@pytest.mark.parametrize(
    ("status", "upstream_name", "name"),
    [
        (400, "FAILED_PRECONDITION", "FAILED_PRECONDITION"),
        (409, "ALREADY_EXISTS", "ALREADY_EXISTS"),
        # A name that does not belong with the status is replaced by the status's own.
        (500, "INVALID_ARGUMENT", "INTERNAL"),
    ],
)
def test_a_gemini_upstreams_own_status_name_is_kept_when_it_fits(
    gw: GatewayProcess, mock: MockProvider, status: int, upstream_name: str, name: str
) -> None:
    mock.script_for_key(GEMINI_KEY, {"status": status, "error_type": upstream_name, "error_message": "no"})
    error = ask(gw, "gemini/gemini-2.5-flash")
    assert (error.code, error.status) == (status, name)
