"""The upstream-failure decision table: every row, backoff, retry hints, and robustness."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from omniroute.resilience.classify import (
    MAX_HINT_SECONDS,
    TABLE,
    Decision,
    FailureKind,
    classify,
    retry_after_seconds,
)

NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z


def js(doc: object) -> bytes:
    return json.dumps(doc).encode()


def iso(offset: float) -> str:
    return datetime.fromtimestamp(NOW + offset, UTC).isoformat().replace("+00:00", "Z")


def http_date(offset: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + offset, UTC), usegmt=True)


# --------------------------------------------------------------------------------------------------
# Expected decisions (each helper spells out every field)


def rate_limit(cooldown: float, *, hinted: bool = False, breaker: bool = False) -> Decision:
    return Decision(
        kind=FailureKind.RATE_LIMIT,
        retry_same_account=False,
        next_account=True,
        next_target=True,
        cooldown=cooldown,
        cooldown_scope="model",
        refresh_credentials=False,
        counts_for_breaker=breaker,
        hinted=hinted,
    )


def quota(
    cooldown: float = 3600.0, *, hinted: bool = False, scope: Literal["model", "account"] = "account"
) -> Decision:
    return Decision(
        kind=FailureKind.QUOTA,
        retry_same_account=False,
        next_account=True,
        next_target=True,
        cooldown=cooldown,
        cooldown_scope=scope,
        refresh_credentials=False,
        counts_for_breaker=False,
        hinted=hinted,
    )


def transient(cooldown: float, *, hinted: bool = False) -> Decision:
    return Decision(
        kind=FailureKind.TRANSIENT,
        retry_same_account=True,
        next_account=True,
        next_target=True,
        cooldown=cooldown,
        cooldown_scope="model",
        refresh_credentials=False,
        counts_for_breaker=True,
        hinted=hinted,
    )


AUTH = Decision(
    kind=FailureKind.AUTH,
    retry_same_account=False,
    next_account=True,
    next_target=True,
    cooldown=120.0,
    cooldown_scope="account",
    refresh_credentials=True,
    counts_for_breaker=False,
    hinted=False,
)
NOT_FOUND = Decision(
    kind=FailureKind.NOT_FOUND,
    retry_same_account=False,
    next_account=False,
    next_target=True,
    cooldown=None,
    cooldown_scope=None,
    refresh_credentials=False,
    counts_for_breaker=False,
    hinted=False,
)
TOO_LARGE = Decision(
    kind=FailureKind.TOO_LARGE,
    retry_same_account=False,
    next_account=False,
    next_target=False,
    cooldown=None,
    cooldown_scope=None,
    refresh_credentials=False,
    counts_for_breaker=False,
    hinted=False,
)
BAD_REQUEST = Decision(
    kind=FailureKind.BAD_REQUEST,
    retry_same_account=False,
    next_account=False,
    next_target=False,
    cooldown=None,
    cooldown_scope=None,
    refresh_credentials=False,
    counts_for_breaker=False,
    hinted=False,
)


# --------------------------------------------------------------------------------------------------
# Realistic upstream bodies


def openai_error(message: str, err_type: str | None, code: str | None) -> bytes:
    return js({"error": {"message": message, "type": err_type, "param": None, "code": code}})


def anthropic_error(err_type: str, message: str) -> bytes:
    return js({"type": "error", "error": {"type": err_type, "message": message}, "request_id": "req_011C"})


def gemini_error(code: int, status: str, message: str, details: list[dict[str, Any]] | None = None) -> bytes:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        err["details"] = details
    return js({"error": err})


OPENAI_RATE_MESSAGE = (
    "Rate limit reached for gpt-4o in organization org-a1b2c3 on tokens per min (TPM): Limit 30000, "
    "Used 29120, Requested 1650. Please try again in 1.54s. Visit https://platform.openai.com/account/"
    "rate-limits to learn more. You can increase your rate limit by adding a payment method to your "
    "account at https://platform.openai.com/account/billing."
)
OPENAI_RATE_HEADERS = {
    "x-ratelimit-limit-requests": "500",
    "x-ratelimit-limit-tokens": "30000",
    "x-ratelimit-remaining-requests": "499",
    "x-ratelimit-remaining-tokens": "0",
    "x-ratelimit-reset-requests": "120ms",
    "x-ratelimit-reset-tokens": "3.3s",
    "x-request-id": "req_8f1e",
}
OPENAI_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information "
    "on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)
GEMINI_FREE_TIER_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more information "
    "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. Please retry in 38.286395515s."
)
GEMINI_HELP = {
    "@type": "type.googleapis.com/google.rpc.Help",
    "links": [{"description": "Learn more", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}],
}


def gemini_quota_failure(quota_id: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": quota_id,
                "quotaDimensions": {"location": "global", "model": "gemini-2.0-flash"},
                "quotaValue": "15",
            }
        ],
    }


def gemini_retry_info(delay: object) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def gemini_error_info(reason: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }


NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    b"</center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n"
)

Row = tuple[
    int | None, Mapping[str, str], bytes, int, Literal["timeout", "connect", "protocol"] | None, Decision
]

ROWS: dict[str, Row] = {
    # ---- rate limits ---------------------------------------------------------------------------
    "openai 429 rate_limit_exceeded (reset header of the spent limit wins, billing link ignored)": (
        429,
        OPENAI_RATE_HEADERS,
        openai_error(OPENAI_RATE_MESSAGE, "tokens", "rate_limit_exceeded"),
        0,
        None,
        rate_limit(3.3, hinted=True),
    ),
    "openai 429 rate_limit_exceeded, hint only in the message": (
        429,
        {},
        openai_error(OPENAI_RATE_MESSAGE, "requests", "rate_limit_exceeded"),
        4,
        None,
        rate_limit(1.54, hinted=True),
    ),
    "openai 429 without any hint backs off 1 s * 2^n": (
        429,
        {},
        openai_error("Rate limit exceeded.", "requests", "rate_limit_exceeded"),
        3,
        None,
        rate_limit(8.0),
    ),
    "anthropic 429 rate_limit_error with retry-after": (
        429,
        {
            "retry-after": "17",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": iso(40),
        },
        anthropic_error(
            "rate_limit_error",
            "This request would exceed the rate limit for your organization (a1b2) of 40,000 input tokens "
            "per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
        ),
        2,
        None,
        rate_limit(17.0, hinted=True),
    ),
    "anthropic 429 rate_limit_error, only the reset timestamp": (
        429,
        {
            "anthropic-ratelimit-input-tokens-remaining": "0",
            "anthropic-ratelimit-input-tokens-reset": iso(25),
            "anthropic-ratelimit-requests-remaining": "48",
            "anthropic-ratelimit-requests-reset": iso(2),
        },
        anthropic_error(
            "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit"
        ),
        0,
        None,
        rate_limit(25.0, hinted=True),
    ),
    "anthropic 529 overloaded_error": (
        529,
        {},
        anthropic_error("overloaded_error", "Overloaded"),
        0,
        None,
        rate_limit(1.0, breaker=True),
    ),
    "openai 503 overloaded message": (
        503,
        {},
        openai_error(
            "That model is currently overloaded with other requests. You can retry your request, or contact "
            "us through our help center at help.openai.com if the error persists.",
            "server_error",
            None,
        ),
        1,
        None,
        rate_limit(2.0, breaker=True),
    ),
    "gemini 429 RESOURCE_EXHAUSTED with RetryInfo (per-minute free tier)": (
        429,
        {},
        gemini_error(
            429,
            "RESOURCE_EXHAUSTED",
            GEMINI_FREE_TIER_MESSAGE,
            [
                gemini_quota_failure("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
                GEMINI_HELP,
                gemini_retry_info("38s"),
            ],
        ),
        0,
        None,
        rate_limit(38.0, hinted=True),
    ),
    "gemini 429 RESOURCE_EXHAUSTED 'check quota' without details": (
        429,
        {},
        gemini_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        2,
        None,
        rate_limit(4.0),
    ),
    "gemini streaming 429 wrapped in an array": (
        429,
        {},
        js([{"error": {"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED"}}]),
        0,
        None,
        rate_limit(1.0),
    ),
    "gemini 503 UNAVAILABLE 'model is overloaded'": (
        503,
        {},
        gemini_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
        0,
        None,
        rate_limit(1.0, breaker=True),
    ),
    "403 secondary rate limit (not auth)": (
        403,
        {"retry-after": "60"},
        js(
            {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            }
        ),
        0,
        None,
        rate_limit(60.0, hinted=True),
    ),
    "azure 429 plain message mentioning quota increase and rate limit": (
        429,
        {},
        js(
            {
                "error": {
                    "code": "429",
                    "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
                    "2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please "
                    "retry after 6 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like "
                    "to further increase the default rate limit.",
                }
            }
        ),
        0,
        None,
        rate_limit(6.0, hinted=True),
    ),
    "plain text 429 from a proxy with an HTTP-date retry-after": (
        429,
        {"Retry-After": http_date(90)},
        b"Too Many Requests",
        0,
        None,
        rate_limit(90.0, hinted=True),
    ),
    # ---- quota -------------------------------------------------------------------------------------
    "openai 429 insufficient_quota": (
        429,
        {"x-request-id": "req_1"},
        openai_error(OPENAI_QUOTA_MESSAGE, "insufficient_quota", "insufficient_quota"),
        5,
        None,
        quota(),
    ),
    "openrouter 402 insufficient credits": (
        402,
        {},
        js(
            {
                "error": {
                    "message": "Insufficient credits. Add more using https://openrouter.ai/credits",
                    "code": 402,
                }
            }
        ),
        0,
        None,
        quota(),
    ),
    "deepseek 402 insufficient balance": (
        402,
        {},
        js(
            {
                "error": {
                    "message": "Insufficient Balance",
                    "type": "unknown_error",
                    "param": None,
                    "code": "invalid_request_error",
                }
            }
        ),
        0,
        None,
        quota(),
    ),
    "anthropic 400 credit balance too low": (
        400,
        {},
        anthropic_error(
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to "
            "upgrade or purchase credits.",
        ),
        0,
        None,
        quota(),
    ),
    "anthropic billing_error": (
        400,
        {},
        anthropic_error("billing_error", "Your organization has an outstanding invoice."),
        0,
        None,
        quota(),
    ),
    "gemini 429 RESOURCE_EXHAUSTED billing, no details": (
        429,
        {},
        gemini_error(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        0,
        None,
        quota(),
    ),
    "gemini 429 per-day quota is a quota, scoped to the model, reset from RetryInfo": (
        429,
        {},
        gemini_error(
            429,
            "RESOURCE_EXHAUSTED",
            GEMINI_FREE_TIER_MESSAGE,
            [
                gemini_quota_failure("GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
                gemini_retry_info("20s"),
            ],
        ),
        0,
        None,
        quota(20.0, hinted=True, scope="model"),
    ),
    "gemini 403 PERMISSION_DENIED billing disabled": (
        403,
        {},
        gemini_error(
            403,
            "PERMISSION_DENIED",
            "This API method requires billing to be enabled. Please enable billing on project #4711 by "
            "visiting https://console.developers.google.com/billing/enable?project=4711 then retry.",
            [gemini_error_info("BILLING_DISABLED")],
        ),
        0,
        None,
        quota(),
    ),
    "gemini 403 PERMISSION_DENIED billing text only": (
        403,
        {},
        gemini_error(403, "PERMISSION_DENIED", "Billing account for project '4711' is not found or closed."),
        0,
        None,
        quota(),
    ),
    # ---- auth --------------------------------------------------------------------------------------
    "openai 401 invalid_api_key": (
        401,
        {},
        openai_error(
            "Incorrect API key provided: sk-proj-****abcd. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        ),
        7,
        None,
        AUTH,
    ),
    "anthropic 401 authentication_error": (
        401,
        {"retry-after": "30"},
        anthropic_error("authentication_error", "invalid x-api-key"),
        0,
        None,
        AUTH,
    ),
    "anthropic 403 permission_error": (
        403,
        {},
        anthropic_error(
            "permission_error", "Your API key does not have permission to use the specified resource."
        ),
        0,
        None,
        AUTH,
    ),
    "gemini 401 UNAUTHENTICATED": (
        401,
        {},
        gemini_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
            "other valid authentication credential.",
        ),
        0,
        None,
        AUTH,
    ),
    "gemini 403 PERMISSION_DENIED suspended key": (
        403,
        {},
        gemini_error(
            403, "PERMISSION_DENIED", "Permission denied: Consumer 'api_key:AIza' has been suspended."
        ),
        0,
        None,
        AUTH,
    ),
    "gemini 400 INVALID_ARGUMENT API_KEY_INVALID is auth": (
        400,
        {},
        gemini_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [gemini_error_info("API_KEY_INVALID")],
        ),
        0,
        None,
        AUTH,
    ),
    # ---- transient ---------------------------------------------------------------------------------
    "plain text 502 from a proxy": (502, {"content-type": "text/html"}, NGINX_502, 1, None, transient(6.0)),
    "openai 500 server_error": (
        500,
        {},
        openai_error(
            "The server had an error while processing your request. Sorry about that!", "server_error", None
        ),
        0,
        None,
        transient(3.0),
    ),
    "gemini 503 UNAVAILABLE": (
        503,
        {},
        gemini_error(503, "UNAVAILABLE", "The service is currently unavailable."),
        2,
        None,
        transient(12.0),
    ),
    "gemini 500 INTERNAL": (
        500,
        {},
        gemini_error(
            500,
            "INTERNAL",
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
        ),
        0,
        None,
        transient(3.0),
    ),
    "503 with retry-after is honoured": (
        503,
        {"Retry-After": "7"},
        b"",
        4,
        None,
        transient(7.0, hinted=True),
    ),
    "408 request timeout": (408, {}, b"", 0, None, transient(3.0)),
    "connection error": (None, {}, b"", 0, "connect", transient(3.0)),
    "timeout before first byte": (None, {}, b"", 3, "timeout", transient(24.0)),
    "protocol error": (None, {}, b"", 9, "protocol", transient(60.0)),
    "no answer, reason unknown": (None, {}, b"", 0, None, transient(3.0)),
    "200 where an error was expected": (200, {}, b"{}", 0, None, transient(3.0)),
    # ---- not found ---------------------------------------------------------------------------------
    "openai 404 model_not_found": (
        404,
        {},
        openai_error(
            "The model `gpt-4.1-mega` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        ),
        0,
        None,
        NOT_FOUND,
    ),
    "anthropic 404 not_found_error model": (
        404,
        {},
        anthropic_error("not_found_error", "model: claude-3-opus-20990101"),
        0,
        None,
        NOT_FOUND,
    ),
    "gemini 404 NOT_FOUND model": (
        404,
        {},
        gemini_error(
            404,
            "NOT_FOUND",
            "models/gemini-1.5-pro-999 is not found for API version v1beta, or is not supported for "
            "generateContent. Call ListModels to see the list of available models and their supported methods.",
        ),
        0,
        None,
        NOT_FOUND,
    ),
    "openai-compatible 400 model does not exist": (
        400,
        {},
        openai_error(
            "The model `gpt-4.1-mega` does not exist or you do not have access to it.",
            "invalid_request_error",
            None,
        ),
        0,
        None,
        NOT_FOUND,
    ),
    "codex 400 model not supported with this account": (
        400,
        {},
        js({"detail": "The 'gpt-5-pro' model is not supported when using Codex with a ChatGPT account."}),
        0,
        None,
        NOT_FOUND,
    ),
    "422 unknown model": (422, {}, js({"detail": "Unknown model: llama-9-405b"}), 0, None, NOT_FOUND),
    # ---- too large ---------------------------------------------------------------------------------
    "anthropic 400 prompt is too long": (
        400,
        {},
        anthropic_error("invalid_request_error", "prompt is too long: 215031 tokens > 200000 maximum"),
        0,
        None,
        TOO_LARGE,
    ),
    "anthropic 413 request_too_large": (
        413,
        {},
        anthropic_error("request_too_large", "Request exceeds the maximum allowed number of bytes."),
        0,
        None,
        TOO_LARGE,
    ),
    "openai 400 context_length_exceeded": (
        400,
        {},
        openai_error(
            "This model's maximum context length is 128000 tokens. However, your messages resulted in "
            "131072 tokens. Please reduce the length of the messages.",
            "invalid_request_error",
            "context_length_exceeded",
        ),
        0,
        None,
        TOO_LARGE,
    ),
    "gemini 400 input token count exceeds maximum": (
        400,
        {},
        gemini_error(
            400,
            "INVALID_ARGUMENT",
            "The input token count (1212345) exceeds the maximum number of tokens allowed (1048576).",
        ),
        0,
        None,
        TOO_LARGE,
    ),
    "plain 413 from a proxy": (
        413,
        {},
        b"<html><title>413 Request Entity Too Large</title></html>",
        0,
        None,
        TOO_LARGE,
    ),
    # ---- bad request -------------------------------------------------------------------------------
    "anthropic 400 invalid_request_error": (
        400,
        {},
        anthropic_error(
            "invalid_request_error", 'messages: roles must alternate between "user" and "assistant"'
        ),
        0,
        None,
        BAD_REQUEST,
    ),
    "openai 400 unsupported parameter (mentions the model, still a bad request)": (
        400,
        {},
        openai_error(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.",
            "invalid_request_error",
            "unsupported_parameter",
        ),
        0,
        None,
        BAD_REQUEST,
    ),
    "gemini 400 INVALID_ARGUMENT": (
        400,
        {},
        gemini_error(
            400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unknown name \"foo\" at 'contents[0]'."
        ),
        0,
        None,
        BAD_REQUEST,
    ),
    "409 conflict": (409, {}, b"conflict", 0, None, BAD_REQUEST),
    "422 validation error": (
        422,
        {},
        js({"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}),
        0,
        None,
        BAD_REQUEST,
    ),
    "400 with empty body": (400, {}, b"", 0, None, BAD_REQUEST),
}


@pytest.mark.parametrize(
    ("status", "headers", "body", "n", "error", "expected"), ROWS.values(), ids=ROWS.keys()
)
def test_decision_table(
    status: int | None,
    headers: Mapping[str, str],
    body: bytes,
    n: int,
    error: Literal["timeout", "connect", "protocol"] | None,
    expected: Decision,
) -> None:
    assert classify(status, headers, body, failures_so_far=n, error=error, now=NOW) == expected


def test_every_kind_has_a_row_and_decisions_follow_it() -> None:
    assert set(TABLE) == set(FailureKind)
    for row in ROWS.values():
        decision = row[-1]
        policy = TABLE[decision.kind]
        assert (decision.retry_same_account, decision.next_account, decision.next_target) == (
            policy.retry_same_account,
            policy.next_account,
            policy.next_target,
        )
        assert decision.refresh_credentials == policy.refresh_credentials
        assert decision.cooldown_scope is None or decision.cooldown is not None


def test_defect_5_is_absent() -> None:
    """Retry-After sets the cooldown (never a fixed 60 s), and rate limits cool one (account, model)."""
    body = anthropic_error("rate_limit_error", "rate limited")
    hinted = classify(429, {"Retry-After": "4"}, body, failures_so_far=0, now=NOW)
    assert (hinted.cooldown, hinted.hinted, hinted.cooldown_scope) == (4.0, True, "model")
    plain = classify(429, {}, body, failures_so_far=0, now=NOW)
    assert (plain.cooldown, plain.hinted, plain.cooldown_scope) == (1.0, False, "model")


def test_now_defaults_to_the_clock() -> None:
    in_an_hour = format_datetime(datetime.fromtimestamp(time.time() + 3600, UTC), usegmt=True)
    decision = classify(429, {"retry-after": in_an_hour}, b"", failures_so_far=0)
    assert decision.hinted
    assert decision.cooldown is not None and 3000 < decision.cooldown <= 3600


# --------------------------------------------------------------------------------------------------
# Backoff


RATE_BACKOFF = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 120.0, 120.0, 120.0, 120.0]
TRANSIENT_BACKOFF = [3.0, 6.0, 12.0, 24.0, 48.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0]


@pytest.mark.parametrize("n", range(11))
def test_backoff_growth_and_caps(n: int) -> None:
    def cooldown(status: int | None, body: bytes = b"") -> float | None:
        return classify(status, {}, body, failures_so_far=n, error="connect", now=NOW).cooldown

    assert cooldown(429) == RATE_BACKOFF[n]
    assert cooldown(529) == RATE_BACKOFF[n]
    assert cooldown(503) == TRANSIENT_BACKOFF[n]
    assert cooldown(None) == TRANSIENT_BACKOFF[n]
    assert cooldown(402) == 3600.0
    assert (
        cooldown(429, openai_error(OPENAI_QUOTA_MESSAGE, "insufficient_quota", "insufficient_quota"))
        == 3600.0
    )
    assert cooldown(401) == 120.0
    assert cooldown(403) == 120.0
    assert cooldown(400) is None
    assert cooldown(404) is None
    assert cooldown(413) is None


@pytest.mark.parametrize(
    ("n", "rate", "transient_s"), [(-3, 1.0, 3.0), (64, 120.0, 60.0), (10**9, 120.0, 60.0)]
)
def test_backoff_odd_counts(n: int, rate: float, transient_s: float) -> None:
    assert classify(429, {}, b"", failures_so_far=n, now=NOW).cooldown == rate
    assert classify(None, {}, b"", failures_so_far=n, error="timeout", now=NOW).cooldown == transient_s


def test_hint_overrides_backoff_only_where_the_row_allows_it() -> None:
    headers = {"retry-after": "5"}
    assert classify(429, headers, b"", failures_so_far=6, now=NOW).cooldown == 5.0
    assert classify(402, headers, b"", failures_so_far=6, now=NOW).cooldown == 5.0
    assert classify(502, headers, b"", failures_so_far=6, now=NOW).cooldown == 5.0
    auth = classify(401, headers, b"", failures_so_far=6, now=NOW)
    assert (auth.cooldown, auth.hinted) == (120.0, False)
    assert classify(400, headers, b"", failures_so_far=6, now=NOW).cooldown is None


# --------------------------------------------------------------------------------------------------
# Retry hints: every source


def after(headers: Mapping[str, str], body: bytes = b"") -> float | None:
    return retry_after_seconds(headers, body, now=NOW)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "250.5"}, 0.2505),
        ({"retry-after": "30"}, 30.0),
        ({"retry-after": "1.25"}, 1.25),
        ({"retry-after": "0"}, 0.0),
        ({"Retry-After": http_date(120)}, 120.0),
        ({"retry-after": "Sun, 15 Jun 2025 15:08:40 -0000"}, 120.0),  # zone-less date means UTC
        ({"x-ratelimit-reset-requests": "1s"}, 1.0),
        ({"x-ratelimit-reset-requests": "6m0s", "x-ratelimit-remaining-requests": "0"}, 360.0),
        ({"x-ratelimit-reset-tokens": "20ms"}, 0.02),
        ({"x-ratelimit-reset-tokens": "1h2m3.5s"}, 3723.5),
        ({"x-ratelimit-reset-tokens": "2m59.56s"}, 179.56),
        ({"x-ratelimit-reset-tokens": "7"}, 7.0),
        ({"anthropic-ratelimit-requests-reset": iso(12)}, 12.0),
        ({"anthropic-ratelimit-tokens-reset": iso(8.5), "anthropic-ratelimit-tokens-remaining": "0"}, 8.5),
        ({"anthropic-ratelimit-input-tokens-reset": iso(33)}, 33.0),
        ({"anthropic-ratelimit-output-tokens-reset": iso(44)}, 44.0),
        ({"anthropic-ratelimit-requests-reset": datetime.fromtimestamp(NOW + 5, UTC).isoformat()}, 5.0),
    ],
)
def test_each_header_source(headers: Mapping[str, str], expected: float) -> None:
    assert after(headers) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (gemini_error(429, "RESOURCE_EXHAUSTED", "x", [gemini_retry_info("30s")]), 30.0),
        (gemini_error(429, "RESOURCE_EXHAUSTED", "x", [GEMINI_HELP, gemini_retry_info("1.5s")]), 1.5),
        (
            gemini_error(
                429, "RESOURCE_EXHAUSTED", "x", [gemini_retry_info({"seconds": 2, "nanos": 500000000})]
            ),
            2.5,
        ),
        (js([{"error": {"status": "RESOURCE_EXHAUSTED", "details": [gemini_retry_info("9s")]}}]), 9.0),
        (openai_error("Please try again in 20s.", "requests", "rate_limit_exceeded"), 20.0),
        (openai_error("Please try again in 6m0s. Visit ...", "tokens", "rate_limit_exceeded"), 360.0),
        (openai_error("Please try again in 820ms.", "tokens", "rate_limit_exceeded"), 0.82),
        (js({"error": {"message": "Too busy, try again in 1.5 seconds"}}), 1.5),
        (js({"message": "Throttled. Retry after 7 seconds."}), 7.0),
        (b"limit will reset after 1h2m3s", 3723.0),
        (b"Please retry in 2 minutes and 30 seconds", 150.0),
        (b"Rate limited; try again in 45 sec", 45.0),
    ],
)
def test_each_body_source(body: bytes, expected: float) -> None:
    assert after({}, body) == pytest.approx(expected)


def test_sources_precedence() -> None:
    headers = {
        "retry-after-ms": "1000",
        "retry-after": "2",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "3s",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": iso(4),
    }
    body = gemini_error(429, "RESOURCE_EXHAUSTED", "Please retry in 6s.", [gemini_retry_info("5s")])
    order = [
        "retry-after-ms",
        "retry-after",
        "x-ratelimit-reset-tokens",
        "anthropic-ratelimit-requests-reset",
    ]
    expected = [1.0, 2.0, 3.0, 4.0]
    for name, value in zip(order, expected, strict=True):
        assert after(headers, body) == pytest.approx(value), name
        headers.pop(name)
    assert after(headers, body) == 5.0  # RetryInfo before the message
    assert after(headers, gemini_error(429, "RESOURCE_EXHAUSTED", "Please retry in 6s.")) == 6.0
    assert after(headers, b"") is None


def test_rate_limit_family_only_counts_spent_limits_and_takes_the_longest() -> None:
    assert after({"x-ratelimit-reset-requests": "10s", "x-ratelimit-remaining-requests": "3"}) is None
    assert (
        after(
            {
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "2s",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "9s",
            }
        )
        == 9.0
    )
    assert (
        after(
            {
                "x-ratelimit-remaining-requests": "10",
                "x-ratelimit-reset-requests": "50s",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "9s",
            }
        )
        == 9.0
    )
    anthropic = {
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": iso(50),
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": iso(11),
        "anthropic-ratelimit-output-tokens-reset": iso(3),
    }
    assert after(anthropic) == pytest.approx(11.0)
    anthropic["anthropic-ratelimit-tokens-remaining"] = "1200"
    assert after(anthropic) == pytest.approx(3.0)


def test_header_names_are_case_insensitive_and_multidicts_work() -> None:
    assert after({"RETRY-AFTER": "3"}) == 3.0
    assert after({"X-RateLimit-Reset-Tokens": "4s", "X-RateLimit-Remaining-Tokens": "0"}) == 4.0
    assert after(CIMultiDict([("Retry-After", "5"), ("retry-after", "99")])) == 5.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "-5", "retry-after": "3"}, 3.0),
        ({"retry-after-ms": "nan", "retry-after": "3"}, 3.0),
        ({"retry-after-ms": "inf", "retry-after": "3"}, 3.0),
        ({"retry-after-ms": "999999999999", "retry-after": "3"}, 3.0),
        ({"retry-after": "-1", "x-ratelimit-reset-tokens": "2s"}, 2.0),
        ({"retry-after": str(MAX_HINT_SECONDS + 1), "x-ratelimit-reset-tokens": "2s"}, 2.0),
        ({"retry-after": "1e309", "x-ratelimit-reset-tokens": "2s"}, 2.0),
        ({"retry-after": http_date(-30), "x-ratelimit-reset-tokens": "2s"}, 2.0),  # already past
        ({"retry-after": "soon", "x-ratelimit-reset-tokens": "2s"}, 2.0),
        ({"retry-after": str(int(NOW)), "x-ratelimit-reset-tokens": "2s"}, 2.0),  # an epoch, not a delay
        ({"x-ratelimit-reset-tokens": "30h", "anthropic-ratelimit-tokens-reset": iso(6)}, 6.0),
        ({"x-ratelimit-reset-tokens": "6m0", "anthropic-ratelimit-tokens-reset": iso(6)}, 6.0),
        ({"anthropic-ratelimit-tokens-reset": iso(-60)}, None),
        ({"anthropic-ratelimit-tokens-reset": iso(2 * 86_400)}, None),
        ({"anthropic-ratelimit-tokens-reset": "tomorrow"}, None),
        ({"retry-after": "", "retry-after-ms": ""}, None),
        ({}, None),
    ],
)
def test_bad_hints_fall_through_to_the_next_source(
    headers: Mapping[str, str], expected: float | None
) -> None:
    assert after(headers) == expected


def test_bad_body_hints_fall_through() -> None:
    body = gemini_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Please retry in 4s.",
        [gemini_retry_info("-3s"), gemini_retry_info(17), gemini_retry_info("soon"), gemini_retry_info("2d")],
    )
    assert after({}, body) == 4.0
    assert after({}, b"try again in 99999999 seconds, or try again in 3 seconds") == 3.0
    assert after({}, b"try again later") is None


# --------------------------------------------------------------------------------------------------
# Robustness: malformed input never raises


MALFORMED_BODIES = [
    b"",
    b"\xff\xfe\x00garbage",
    b"[" * 100_000,
    b'{"error": 1e400}',
    b'{"error": null}',
    b'{"error": ["a", 1]}',
    b"[]",
    b"[1, 2]",
    b'"just a json string about rate limits"',
    b"42",
    b'{"error": {"message": 5, "type": [], "code": {}, "status": 7, "details": "x"}}',
    b'{"error": {"details": [1, "a", null, {"@type": 5}, {"@type": "google.rpc.RetryInfo", "retryDelay": null}]}}',
    b'{"error": {"details": [{"@type": "google.rpc.QuotaFailure", "violations": [null, {"quotaId": 3}]}]}}',
    b'{"error": {"status": "RESOURCE_EXHAUSTED", "details": [{"@type": "google.rpc.QuotaFailure", "violations": 1}]}}',
    b'{"error": {"details": [{"@type": "google.rpc.RetryInfo", "retryDelay": {"seconds": "x", "nanos": []}}]}}',
    b'data: {"error": {"type": "overloaded_error"}}\n\n',
    b"try again in " + b"1" * 5000 + b"s",
]
MALFORMED_HEADERS: list[Mapping[str, str]] = [
    {"retry-after": "\x00"},
    {"retry-after": "Mon, 99 Foo 2025 99:99:99 GMT"},
    {"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"},
    {"retry-after": "Mon, 01 Jan 0001 00:00:00 GMT"},
    {"retry-after-ms": "1_000_000_000"},
    {"x-ratelimit-reset-tokens": "1.2.3s", "x-ratelimit-remaining-tokens": "lots"},
    {"x-ratelimit-reset-requests": "ms", "x-ratelimit-remaining-requests": "-1"},
    {"anthropic-ratelimit-requests-reset": "9999-99-99T99:99:99Z"},
    {"anthropic-ratelimit-requests-reset": "0001-01-01T00:00:00Z"},
    {"anthropic-ratelimit-requests-reset": "Z"},
    {"": ""},
]


@pytest.mark.parametrize("body", MALFORMED_BODIES)
@pytest.mark.parametrize("status", [None, 200, 400, 401, 403, 404, 429, 500, 529, 600, -1])
def test_malformed_bodies_never_raise(body: bytes, status: int | None) -> None:
    decision = classify(status, {}, body, failures_so_far=1, now=NOW)
    assert isinstance(decision.kind, FailureKind)
    retry_after_seconds({}, body, now=NOW)


@pytest.mark.parametrize("headers", MALFORMED_HEADERS)
def test_malformed_headers_never_raise(headers: Mapping[str, str]) -> None:
    decision = classify(429, headers, b"", failures_so_far=0, now=NOW)
    assert decision.kind is FailureKind.RATE_LIMIT
    assert decision.cooldown is not None and 0 <= decision.cooldown <= MAX_HINT_SECONDS
    hint = retry_after_seconds(headers, b"", now=NOW)
    assert hint is None or 0 <= hint <= MAX_HINT_SECONDS


def test_non_string_header_values_are_skipped() -> None:
    weird: Any = {"retry-after": 5, b"retry-after-ms": b"2500", None: "x"}
    assert retry_after_seconds(weird, b"", now=NOW) == 2.5


@settings(max_examples=300, deadline=None)
@given(
    status=st.one_of(st.none(), st.integers(min_value=-1000, max_value=1000)),
    headers=st.dictionaries(
        st.sampled_from(
            [
                "retry-after",
                "retry-after-ms",
                "x-ratelimit-reset-tokens",
                "x-ratelimit-remaining-tokens",
                "anthropic-ratelimit-tokens-reset",
                "anthropic-ratelimit-tokens-remaining",
                "other",
            ]
        ),
        st.text(max_size=40),
    ),
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
            lambda inner: (
                st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda doc: json.dumps({"error": doc}).encode()),
    ),
    n=st.integers(min_value=-5, max_value=10_000),
)
def test_fuzz_never_raises_and_stays_consistent(
    status: int | None, headers: dict[str, str], body: bytes, n: int
) -> None:
    decision = classify(status, headers, body, failures_so_far=n, now=NOW)
    policy = TABLE[decision.kind]
    assert decision.next_account == policy.next_account
    assert (decision.cooldown is None) == (decision.cooldown_scope is None)
    if decision.cooldown is not None:
        assert 0 <= decision.cooldown <= MAX_HINT_SECONDS
    if status is not None and 400 <= status < 500 and status != 408:
        assert not decision.counts_for_breaker
