"""The routing table: path rewrites, exact and prefix matches, 404 vs 405 detection."""

from __future__ import annotations

import pytest

from omniroute.http.request import Request
from omniroute.http.routes import Router, normalise_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/chat/completions", "/v1/chat/completions"),
        ("/models", "/v1/models"),
        ("/responses", "/v1/responses"),
        ("/embeddings", "/v1/embeddings"),
        ("/v1/v1/chat/completions", "/v1/chat/completions"),
        ("/v1/v1/v1/models", "/v1/models"),
        ("/v1/chat/completions/", "/v1/chat/completions"),
        ("/v1/models//", "/v1/models"),
        ("/v1/v1/chat/completions/", "/v1/chat/completions"),
        ("/v1/chat/completions", "/v1/chat/completions"),
        ("/health/live", "/health/live"),
        ("/", "/"),
        ("/v1/v1", "/v1/v1"),
        ("/v1beta/models/gemini:generateContent", "/v1beta/models/gemini:generateContent"),
        ("/completions", "/completions"),
        ("/chat/completions/extra", "/chat/completions/extra"),
    ],
)
def test_normalise_path_rewrites(path: str, expected: str) -> None:
    assert normalise_path(path) == expected


@pytest.mark.parametrize("path", ["/chat/completions/", "/models/", "/responses//"])
def test_normalise_path_unversioned_alias_with_trailing_slash(path: str) -> None:
    result = normalise_path(path)
    assert result.startswith("/v1/")
    assert not result.endswith("/")


@pytest.mark.parametrize(
    "path",
    ["/chat/completions", "/v1/v1/models/", "/v1/chat/completions/", "/x/", "/", "/v1/v1/v1/responses"],
)
def test_normalise_path_idempotent_on_already_rewritten_output(path: str) -> None:
    once = normalise_path(path)
    assert normalise_path(once) == once


async def handler_a(req: Request) -> None:
    """Exact-route stand-in."""


async def handler_b(req: Request) -> None:
    """Second exact-route stand-in."""


async def handler_prefix(req: Request) -> None:
    """Prefix-route stand-in."""


async def handler_prefix_get(req: Request) -> None:
    """Prefix-route stand-in for another method."""


@pytest.fixture
def router() -> Router:
    r = Router()
    r.add("POST", "/v1/chat/completions", handler_a)
    r.add("GET", "/v1/models", handler_b)
    r.add("GET", "/v1/chat/completions", handler_b)
    r.add_prefix("POST", "/v1/providers/", handler_prefix)
    return r


def test_router_exact_match(router: Router) -> None:
    assert router.match("POST", "/v1/chat/completions") == (handler_a, True)
    assert router.match("GET", "/v1/chat/completions") == (handler_b, True)
    assert router.match("GET", "/v1/models") == (handler_b, True)


def test_router_known_path_wrong_method_is_405(router: Router) -> None:
    assert router.match("DELETE", "/v1/chat/completions") == (None, True)
    assert router.match("POST", "/v1/models") == (None, True)


def test_router_unknown_path_is_404(router: Router) -> None:
    assert router.match("GET", "/v1/nothing") == (None, False)
    assert router.match("POST", "/v1/chat/completions/x") == (None, False)


def test_router_exact_match_is_case_sensitive(router: Router) -> None:
    assert router.match("post", "/v1/chat/completions") == (None, True)
    assert router.match("POST", "/V1/chat/completions") == (None, False)


def test_router_prefix_match(router: Router) -> None:
    assert router.match("POST", "/v1/providers/openai/chat/completions") == (handler_prefix, True)
    assert router.match("POST", "/v1/providers/") == (handler_prefix, True)


def test_router_prefix_wrong_method_is_405(router: Router) -> None:
    assert router.match("GET", "/v1/providers/openai/chat/completions") == (None, True)


def test_router_prefix_requires_full_prefix(router: Router) -> None:
    assert router.match("POST", "/v1/providers") == (None, False)
    assert router.match("POST", "/v1/providersx/y") == (None, False)


def test_router_exact_route_wins_over_prefix() -> None:
    r = Router()
    r.add_prefix("POST", "/v1/", handler_prefix)
    r.add("POST", "/v1/chat/completions", handler_a)
    assert r.match("POST", "/v1/chat/completions") == (handler_a, True)
    assert r.match("POST", "/v1/other") == (handler_prefix, True)


def test_router_later_registration_replaces_exact_handler() -> None:
    r = Router()
    r.add("GET", "/x", handler_a)
    r.add("GET", "/x", handler_b)
    assert r.match("GET", "/x") == (handler_b, True)


def test_empty_router_matches_nothing() -> None:
    assert Router().match("GET", "/") == (None, False)


def test_router_same_prefix_different_methods_both_reachable() -> None:
    r = Router()
    r.add_prefix("GET", "/v1/providers/", handler_prefix_get)
    r.add_prefix("POST", "/v1/providers/", handler_prefix)
    assert r.match("GET", "/v1/providers/openai/models") == (handler_prefix_get, True)
    assert r.match("POST", "/v1/providers/openai/chat/completions") == (handler_prefix, True)
