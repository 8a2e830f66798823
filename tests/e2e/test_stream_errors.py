"""An upstream error in the middle of a stream, through the real SDKs: a client of another dialect
gets its meaning in its own words (rust/core/src/error_kinds.rs): a Gemini client the matching
google.rpc status and code (so google-genai raises a ClientError or a ServerError as it should),
an Anthropic client the matching `event: error` type, an OpenAI client the matching `type`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from google.genai import errors as genai_errors

from tests.e2e.test_dialect_matrix import matrix_config
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess
from tests.support.sdk_clients import anthropic_client, gemini_client, openai_client

KEY = "sk-stream-errors-client"
OPENAI = "openai/gpt-4o"
ANTHROPIC = "anthropic/claude-mock-1"
GEMINI = "gemini/gemini-2.5-flash"
RESPONSES = "resp/gpt-5-codex"


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("stream-errors")
    with GatewayProcess(base / "data", matrix_config(mock)) as proc:
        yield proc


def fail_midstream(mock: MockProvider, **error: str) -> None:
    """The next upstream stream sends some text, then its dialect's in-band error: OpenAI
    `error_type` / `error_code`, Anthropic `error_type` (default overloaded_error), Gemini
    `error_type` as the status name, Responses `error_code`."""
    mock.enqueue({"text": "partial answer that breaks", "chunks": 3, "fail_midstream": True, **error})


# upstream model, its error, google-genai's exception class, error.code, error.status
GEMINI_CASES = [
    (
        OPENAI,
        {"error_type": "rate_limit_error", "error_code": "rate_limit_exceeded"},
        "client",
        429,
        "RESOURCE_EXHAUSTED",
    ),
    (OPENAI, {"error_type": "invalid_request_error"}, "client", 400, "INVALID_ARGUMENT"),
    (OPENAI, {"error_type": "server_error"}, "server", 500, "INTERNAL"),
    (ANTHROPIC, {}, "server", 503, "UNAVAILABLE"),  # the mock's default: overloaded_error
    (ANTHROPIC, {"error_type": "rate_limit_error"}, "client", 429, "RESOURCE_EXHAUSTED"),
    (ANTHROPIC, {"error_type": "api_error"}, "server", 500, "INTERNAL"),
    (ANTHROPIC, {"error_type": "invalid_request_error"}, "client", 400, "INVALID_ARGUMENT"),
    (ANTHROPIC, {"error_type": "timeout_error"}, "server", 504, "DEADLINE_EXCEEDED"),
    (RESPONSES, {"error_code": "rate_limit_exceeded"}, "client", 429, "RESOURCE_EXHAUSTED"),
    (RESPONSES, {}, "server", 500, "INTERNAL"),  # the mock's default: server_error
]


@pytest.mark.parametrize(("model", "error", "family", "code", "status"), GEMINI_CASES)
def test_a_gemini_client_gets_the_matching_rpc_status(
    gw: GatewayProcess,
    mock: MockProvider,
    model: str,
    error: dict[str, str],
    family: str,
    code: int,
    status: str,
) -> None:
    fail_midstream(mock, **error, error_message="upstream gave up")
    client = gemini_client(gw, KEY)
    chunks: list[Any] = []
    expected = genai_errors.ClientError if family == "client" else genai_errors.ServerError
    with pytest.raises(expected) as info:
        chunks.extend(client.models.generate_content_stream(model=model, contents="x"))
    assert chunks, "the error came before any text: not a mid-stream error"
    assert (info.value.code, info.value.status) == (code, status)
    assert info.value.message == "upstream gave up"


# upstream model, its error, the Anthropic client's error.type
ANTHROPIC_CASES = [
    (OPENAI, {"error_type": "rate_limit_error"}, "rate_limit_error"),
    (OPENAI, {"error_type": "requests", "error_code": "rate_limit_exceeded"}, "rate_limit_error"),
    (OPENAI, {"error_type": "invalid_request_error"}, "invalid_request_error"),
    (OPENAI, {"error_type": "server_error"}, "api_error"),
    (GEMINI, {"error_type": "RESOURCE_EXHAUSTED"}, "rate_limit_error"),
    (GEMINI, {"error_type": "UNAVAILABLE"}, "overloaded_error"),
    (GEMINI, {"error_type": "INVALID_ARGUMENT"}, "invalid_request_error"),
    (GEMINI, {"error_type": "INTERNAL"}, "api_error"),
    (RESPONSES, {"error_code": "rate_limit_exceeded"}, "rate_limit_error"),
]


@pytest.mark.parametrize(("model", "error", "error_type"), ANTHROPIC_CASES)
def test_an_anthropic_client_gets_the_matching_error_event(
    gw: GatewayProcess, mock: MockProvider, model: str, error: dict[str, str], error_type: str
) -> None:
    fail_midstream(mock, **error, error_message="upstream gave up")
    texts: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        anthropic_client(gw, KEY).messages.stream(
            model=model, max_tokens=50, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        texts.extend(stream.text_stream)
    assert texts, "the error came before any text: not a mid-stream error"
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"] == {"type": error_type, "message": "upstream gave up"}


# upstream model, its error, the OpenAI client's error.type and error.code
OPENAI_CASES = [
    (ANTHROPIC, {}, "server_error", "overloaded_error"),
    (ANTHROPIC, {"error_type": "rate_limit_error"}, "rate_limit_error", "rate_limit_error"),
    (GEMINI, {"error_type": "RESOURCE_EXHAUSTED"}, "rate_limit_error", "RESOURCE_EXHAUSTED"),
    (GEMINI, {"error_type": "INVALID_ARGUMENT"}, "invalid_request_error", "INVALID_ARGUMENT"),
    (RESPONSES, {"error_code": "rate_limit_exceeded"}, "rate_limit_error", "rate_limit_exceeded"),
]


@pytest.mark.parametrize(("model", "error", "error_type", "code"), OPENAI_CASES)
def test_an_openai_client_gets_the_matching_error_type(
    gw: GatewayProcess, mock: MockProvider, model: str, error: dict[str, str], error_type: str, code: str
) -> None:
    fail_midstream(mock, **error, error_message="upstream gave up")
    chunks: list[Any] = []
    stream = openai_client(gw, KEY).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError) as info:
        chunks.extend(stream)
    assert chunks, "the error came before any chunk: not a mid-stream error"
    assert (info.value.type, info.value.code, info.value.message) == (error_type, code, "upstream gave up")


def test_a_responses_client_gets_the_matching_failure_code(gw: GatewayProcess, mock: MockProvider) -> None:
    fail_midstream(mock, error_type="rate_limit_error")
    events = list(openai_client(gw, KEY).responses.create(model=ANTHROPIC, input="x", stream=True))
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.error is not None and failed.response.error.code == "rate_limit_exceeded"
