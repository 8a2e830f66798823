"""Reading upstream error answers of every dialect, and the headers relayed to clients."""

from __future__ import annotations

import json

import pytest
from multidict import CIMultiDict

from omniroute.errors import GatewayError
from omniroute.upstream.errors import passthrough_headers, upstream_error


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_upstream_error_parses_openai_shape() -> None:
    raw = body(
        {
            "error": {
                "message": "Rate limit reached for gpt-4o",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }
    )
    error = upstream_error(429, raw, {}, "openai")
    assert isinstance(error, GatewayError)
    assert error.status == 429
    assert error.message == "[openai] Rate limit reached for gpt-4o"
    assert (error.error_type, error.code) == ("requests", "rate_limit_exceeded")


def test_upstream_error_parses_anthropic_shape() -> None:
    raw = body({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    error = upstream_error(529, raw, {}, "anthropic")
    assert (error.status, error.message, error.error_type, error.code) == (
        529,
        "[anthropic] Overloaded",
        "overloaded_error",
        None,
    )


def test_upstream_error_parses_gemini_shape_status_as_code() -> None:
    raw = body(
        {
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
            }
        }
    )
    error = upstream_error(400, raw, {}, "gemini")
    assert (error.status, error.code, error.error_type) == (400, "INVALID_ARGUMENT", None)
    assert error.message == "[gemini] API key not valid. Please pass a valid API key."


def test_upstream_error_parses_string_error_field() -> None:
    error = upstream_error(401, body({"error": "invalid token"}), {}, "kimi")
    assert (error.status, error.message) == (401, "[kimi] invalid token")


def test_upstream_error_parses_top_level_message() -> None:
    error = upstream_error(404, body({"message": "not here", "code": "missing"}), {}, "x")
    assert (error.message, error.code) == ("[x] not here", "missing")


def test_upstream_error_plain_text_body_used_as_message() -> None:
    error = upstream_error(502, b"  Bad Gateway from nginx\n", {}, "groq")
    assert (error.status, error.message, error.code, error.error_type) == (
        502,
        "[groq] Bad Gateway from nginx",
        None,
        None,
    )


def test_upstream_error_plain_text_truncated_to_500_chars() -> None:
    error = upstream_error(500, b"x" * 2000, {}, "p")
    assert error.message == "[p] " + "x" * 500


def test_upstream_error_invalid_utf8_text_replaced() -> None:
    error = upstream_error(500, b"bad \xff byte", {}, "p")
    assert error.message == "[p] bad \ufffd byte"


@pytest.mark.parametrize(
    "raw", [b"", b"   ", b"null", b"[]", b'"just a string"', b"{}", b'{"error": {"code": 5}}']
)
def test_upstream_error_fallback_message_when_body_has_none(raw: bytes) -> None:
    error = upstream_error(503, raw, {}, "p")
    assert error.status == 503
    assert error.message == "[p] upstream returned HTTP 503"


def test_upstream_error_non_string_fields_ignored() -> None:
    raw = body({"error": {"message": 42, "type": ["x"], "code": 7, "status": 8}})
    error = upstream_error(400, raw, {}, "p")
    assert (error.message, error.error_type, error.code) == ("[p] upstream returned HTTP 400", None, None)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429, 500, 503, 529, 599])
def test_upstream_error_keeps_error_status(status: int) -> None:
    assert upstream_error(status, b"{}", {}, "p").status == status


@pytest.mark.parametrize("status", [200, 204, 302, 399, 600, 0, -1])
def test_upstream_error_non_error_status_becomes_502(status: int) -> None:
    error = upstream_error(status, b"oops", {}, "p")
    assert error.status == 502
    assert error.message == "[p] oops"


def test_upstream_error_carries_passthrough_headers() -> None:
    upstream = {
        "Retry-After": "7",
        "Set-Cookie": "a=b",
        "X-Request-Id": "req_up_1",
        "content-type": "application/json",
    }
    error = upstream_error(429, b"{}", upstream, "openai")
    assert error.headers == {"retry-after": "7", "x-upstream-request-id": "req_up_1"}


# passthrough_headers -----------------------------------------------------------------------------------


def test_passthrough_keeps_retry_and_ratelimit_families() -> None:
    upstream = {
        "retry-after": "1",
        "Retry-After-Ms": "1500",
        "openai-processing-ms": "42",
        "x-ratelimit-limit-requests": "500",
        "X-RateLimit-Remaining-Tokens": "1000",
        "anthropic-ratelimit-requests-remaining": "9",
        "Anthropic-RateLimit-Tokens-Reset": "2025-01-01T00:00:00Z",
    }
    assert passthrough_headers(upstream) == [
        ("retry-after", "1"),
        ("retry-after-ms", "1500"),
        ("openai-processing-ms", "42"),
        ("x-ratelimit-limit-requests", "500"),
        ("x-ratelimit-remaining-tokens", "1000"),
        ("anthropic-ratelimit-requests-remaining", "9"),
        ("anthropic-ratelimit-tokens-reset", "2025-01-01T00:00:00Z"),
    ]


@pytest.mark.parametrize("name", ["x-request-id", "X-Request-ID", "request-id"])
def test_passthrough_maps_request_id_to_upstream_request_id(name: str) -> None:
    assert passthrough_headers({name: "req_123"}) == [("x-upstream-request-id", "req_123")]


@pytest.mark.parametrize(
    "name",
    [
        "set-cookie",
        "Set-Cookie",
        "connection",
        "transfer-encoding",
        "content-length",
        "content-type",
        "server",
        "www-authenticate",
        "x-ratelimit",
        "ratelimit-remaining",
        "x-upstream-request-id",
    ],
)
def test_passthrough_drops_other_headers(name: str) -> None:
    assert passthrough_headers({name: "v"}) == []


def test_passthrough_accepts_multidict_with_repeated_headers() -> None:
    upstream = CIMultiDict([("X-RateLimit-Reset", "1s"), ("x-ratelimit-reset", "2s"), ("Set-Cookie", "a=1")])
    assert passthrough_headers(upstream) == [("x-ratelimit-reset", "1s"), ("x-ratelimit-reset", "2s")]


def test_deeply_nested_error_body_is_read_as_text() -> None:
    from omniroute.upstream.errors import upstream_error

    err = upstream_error(502, b"[" * 100_000, {}, "openai")
    assert err.status == 502 and err.message.startswith("[openai] [[[")
