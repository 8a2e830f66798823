"""Inbound keys (generation, hashing, extraction), allowed-model globs, and request authentication."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from omniroute.errors import GatewayError
from omniroute.http.request import Request
from omniroute.routing.catalog import build_catalog
from omniroute.security.api_keys import KEY_PREFIX, generate_key, hash_key, key_from_headers, key_hint
from omniroute.security.auth import authenticate
from omniroute.security.model_globs import model_allowed
from omniroute.store.records import ApiKeyRow

# model globs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "name"),
    [
        ("openai/*", "openai/gpt-4o"),
        ("openai/*", "openai/"),
        ("openai/*", "openai/a/b/c"),
        ("gpt-4?", "gpt-4o"),
        ("*", "anything/at/all"),
        ("*-mini", "gpt-4o-mini"),
        ("gpt-4.1", "gpt-4.1"),
        ("a+b", "a+b"),
        ("model[1]", "model[1]"),
        ("(x)|y", "(x)|y"),
        ("^$\\{2}", "^$\\{2}"),
        ("line*", "line\nbreak"),
    ],
)
def test_model_allowed_when_glob_matches(glob: str, name: str) -> None:
    assert model_allowed([glob], [name]) is True


@pytest.mark.parametrize(
    ("glob", "name"),
    [
        ("openai/*", "gpt-4o"),
        ("openai/*", "xopenai/gpt-4o"),
        ("openai/*", "anthropic/openai/x"),
        ("gpt-4?", "gpt-4"),
        ("gpt-4?", "gpt-4o-mini"),
        ("gpt-4.1", "gpt-4x1"),
        ("a+b", "aab"),
        ("a+b", "ab"),
        ("model[1]", "model1"),
        ("model[1]", "model"),
        ("(x)|y", "y"),
        ("gpt-4o", "gpt-4o-mini"),
        ("gpt-4o", "my-gpt-4o"),
    ],
)
def test_model_not_allowed_when_glob_does_not_match(glob: str, name: str) -> None:
    assert model_allowed([glob], [name]) is False


def test_model_allowed_when_any_glob_matches_any_candidate() -> None:
    assert model_allowed(["ds/*", "gpt-4?"], ["openai/gpt-4o", "gpt-4o"]) is True
    assert model_allowed(["ds/*", "claude-*"], ["openai/gpt-4o", "gpt-4o"]) is False


def test_model_not_allowed_with_no_globs_or_candidates() -> None:
    assert model_allowed([], ["gpt-4o"]) is False
    assert model_allowed(["*"], []) is False


def test_model_allowed_accepts_generators() -> None:
    assert model_allowed((g for g in ["x", "gpt-*"]), (n for n in ["gpt-4o"])) is True


# keys -------------------------------------------------------------------------------------------


def test_generate_key_has_prefix_and_urlsafe_body() -> None:
    key = generate_key()
    assert key.startswith(KEY_PREFIX)
    body = key.removeprefix(KEY_PREFIX)
    assert re.fullmatch(r"[A-Za-z0-9_-]{40}", body)


def test_generate_key_unique() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200


def test_generated_key_long_enough_for_config_validation() -> None:
    assert len(generate_key()) >= 16


def test_hash_key_is_sha256_hex_of_utf8() -> None:
    assert hash_key("sk-omr-abc") == hashlib.sha256(b"sk-omr-abc").hexdigest()
    assert hash_key("ключ") == hashlib.sha256("ключ".encode()).hexdigest()
    assert hash_key("a") != hash_key("b")
    assert re.fullmatch(r"[0-9a-f]{64}", hash_key(""))


def test_key_hint_shows_last_four_characters() -> None:
    assert key_hint("sk-omr-abcdWXYZ") == "...WXYZ"


def headers(**values: str) -> Callable[[str], str | None]:
    table = {k.replace("_", "-"): v for k, v in values.items()}
    return table.get


def test_key_from_headers_bearer_wins_over_others() -> None:
    get = headers(authorization="Bearer tok-bearer", x_api_key="tok-x", x_goog_api_key="tok-goog")
    assert key_from_headers(get, "tok-query") == "tok-bearer"


@pytest.mark.parametrize("value", ["bearer tok", "BEARER tok", "Bearer   tok  ", "  Bearer tok"])
def test_key_from_headers_bearer_scheme_case_and_spacing(value: str) -> None:
    assert key_from_headers(headers(authorization=value)) == "tok"


def test_key_from_headers_x_api_key_wins_over_goog_and_query() -> None:
    assert key_from_headers(headers(x_api_key="tok-x", x_goog_api_key="tok-goog"), "tok-query") == "tok-x"


def test_key_from_headers_goog_wins_over_query() -> None:
    assert key_from_headers(headers(x_goog_api_key="tok-goog"), "tok-query") == "tok-goog"


def test_key_from_headers_query_used_last() -> None:
    assert key_from_headers(headers(), "tok-query") == "tok-query"


@pytest.mark.parametrize("auth", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "tok-without-scheme", ""])
def test_key_from_headers_falls_through_non_bearer_authorization(auth: str) -> None:
    assert key_from_headers(headers(authorization=auth, x_api_key="tok-x")) == "tok-x"


def test_key_from_headers_blank_x_api_key_ignored() -> None:
    assert key_from_headers(headers(x_api_key="   ", x_goog_api_key=" tok-goog ")) == "tok-goog"


def test_key_from_headers_none_when_nothing_presented() -> None:
    assert key_from_headers(headers()) is None
    assert key_from_headers(headers(), "") is None


# authenticate -------------------------------------------------------------------------------------

KEY = "sk-omr-authenticated-key-0001"
ROW = ApiKeyRow(
    id="key_1",
    name="ci",
    key_hash=hash_key(KEY),
    key_hint=key_hint(KEY),
    allowed_models=(),
    created_at=1.0,
    revoked_at=None,
)
REVOKED_KEY = "sk-omr-revoked-key-000000002"
REVOKED = ApiKeyRow(
    id="key_2",
    name="old",
    key_hash=hash_key(REVOKED_KEY),
    key_hint=key_hint(REVOKED_KEY),
    allowed_models=(),
    created_at=1.0,
    revoked_at=5.0,
)
CATALOG = build_catalog([], [], [ROW, REVOKED])


def request(query: str = "", **hdrs: str) -> Request:
    scope = SimpleNamespace(
        method="POST",
        path="/v1/chat/completions",
        query_string=query,
        headers={k.replace("_", "-"): v for k, v in hdrs.items()},
        client="127.0.0.1:5000",
    )
    return Request(scope, protocol=None)


def test_authenticate_returns_row_for_valid_bearer() -> None:
    assert authenticate(request(authorization=f"Bearer {KEY}"), CATALOG, required=True) == ROW


def test_authenticate_accepts_query_key() -> None:
    assert authenticate(request(query=f"key={KEY}"), CATALOG, required=True) == ROW


def test_authenticate_missing_key_401_when_required() -> None:
    with pytest.raises(GatewayError) as info:
        authenticate(request(), CATALOG, required=True)
    assert (info.value.status, info.value.code) == (401, "missing_api_key")


@pytest.mark.parametrize("presented", ["sk-omr-unknown", REVOKED_KEY])
def test_authenticate_unknown_or_revoked_key_401_when_required(presented: str) -> None:
    with pytest.raises(GatewayError) as info:
        authenticate(request(x_api_key=presented), CATALOG, required=True)
    assert (info.value.status, info.value.code) == (401, "invalid_api_key")


def test_authenticate_returns_none_when_not_required() -> None:
    assert authenticate(request(), CATALOG, required=False) is None
    assert authenticate(request(x_api_key="sk-omr-unknown"), CATALOG, required=False) is None
    assert authenticate(request(x_api_key=KEY), CATALOG, required=False) == ROW
