"""Network guard: client address (X-Forwarded-For trust), CIDR allow/deny lists, per-IP rate
limit with an LRU-bounded map, per-route body limits, CORS headers and preflights, and start-up
validation of the `[network]` settings."""

from __future__ import annotations

import ipaddress
import logging
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from omniroute import cli
from omniroute.errors import ConfigError
from omniroute.http.request import Request
from omniroute.security.network import (
    CORS_ALLOW_HEADERS,
    NetworkGuard,
    client_dialect,
    dialect_for_path,
    normalise_origin,
    parse_address,
)
from omniroute.security.prompt_guard import PromptGuard
from omniroute.security.settings_store import (
    SecurityOverrides,
    delete_section,
    load_rows,
    merge_section,
    save_section,
)
from omniroute.settings import NetworkSettings, Settings
from omniroute.store.db import open_database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings(**network: Any) -> Settings:
    return Settings(network=msgspec.convert(network, NetworkSettings))


def guard(clock: Clock | None = None, max_tracked_ips: int = 1000, **network: Any) -> NetworkGuard:
    return NetworkGuard(settings(**network), clock=clock or Clock(), max_tracked_ips=max_tracked_ips)


def request(
    client: str = "203.0.113.7:51234",
    *,
    method: str = "POST",
    path: str = "/v1/chat/completions",
    headers: dict[str, str] | None = None,
) -> Request:
    scope = SimpleNamespace(
        method=method, path=path, query_string="", headers=headers or {}, client=client, proto="http"
    )
    return Request(scope, SimpleNamespace())


# client address -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.7:51234", "203.0.113.7"),
        ("203.0.113.7", "203.0.113.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("[::ffff:10.1.2.3]:80", "10.1.2.3"),
        (" 198.51.100.4 ", "198.51.100.4"),
        ('"198.51.100.4"', "198.51.100.4"),
    ],
)
def test_parse_address(text: str, expected: str) -> None:
    assert parse_address(text) == ipaddress.ip_address(expected)


@pytest.mark.parametrize(
    "text", ["", "unknown", "[2001:db8::1", "999.1.1.1:80", "example.com:80", "unix:/tmp/s"]
)
def test_parse_address_rejects_non_addresses(text: str) -> None:
    assert parse_address(text) is None


def test_forwarded_for_is_ignored_unless_trusted() -> None:
    req = request("127.0.0.1:5000", headers={"x-forwarded-for": "198.51.100.9, 10.0.0.1"})
    assert guard().client_ip(req) == ipaddress.ip_address("127.0.0.1")
    trusted = guard(trust_forwarded_for=True)
    # The rightmost entry is what our proxy appended; the left ones are client-written.
    assert trusted.client_ip(req) == ipaddress.ip_address("10.0.0.1")
    spoofed = request("127.0.0.1:5000", headers={"x-forwarded-for": "203.0.113.66, 198.51.100.9"})
    assert trusted.client_ip(spoofed) == ipaddress.ip_address("198.51.100.9")
    ipv6 = request("127.0.0.1:5000", headers={"x-forwarded-for": "[2001:db8::5]:1234"})
    assert trusted.client_ip(ipv6) == ipaddress.ip_address("2001:db8::5")
    garbage = request("127.0.0.1:5000", headers={"x-forwarded-for": "198.51.100.9, not-an-ip"})
    assert trusted.client_ip(garbage) == ipaddress.ip_address("127.0.0.1")


# IP lists -------------------------------------------------------------------------------------


def test_allow_and_deny_lists_with_deny_winning() -> None:
    g = guard(
        ip_allow=["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"],
        ip_deny=["10.66.0.0/16", "2001:db8:bad::/48"],
    )
    allowed = ["10.1.2.3:1", "[2001:db8::1]:1", "192.0.2.1:1", "[::ffff:10.9.9.9]:1"]
    denied = ["10.66.1.1:1", "[2001:db8:bad::7]:1", "192.0.2.2:1", "203.0.113.1:1", "garbage"]
    for client in allowed:
        assert g.check(request(client)) is None, client
    for client in denied:
        refusal = g.check(request(client))
        assert refusal is not None and (refusal.status, refusal.code) == (403, "ip_denied"), client
        assert "203.0.113" not in refusal.message


def test_deny_list_alone_lets_everyone_else_in() -> None:
    g = guard(ip_deny=["203.0.113.0/24", "::1/128"])
    assert g.check(request("203.0.113.200:9")) is not None
    assert g.check(request("[::1]:9")) is not None
    assert g.check(request("198.51.100.1:9")) is None
    assert g.check(request("unknown")) is None  # an address that cannot be read is not on a deny list


def test_forwarded_address_is_what_the_lists_see() -> None:
    g = guard(ip_deny=["198.51.100.0/24"], trust_forwarded_for=True)
    assert g.check(request("127.0.0.1:1", headers={"x-forwarded-for": "198.51.100.3"})) is not None
    assert g.check(request("127.0.0.1:1", headers={"x-forwarded-for": "192.0.2.3"})) is None


@pytest.mark.parametrize(
    ("network", "named"),
    [
        ({"ip_allow": ["10.0.0.0/8", "10.0.0.0/33"]}, "'10.0.0.0/33'"),
        ({"ip_deny": ["not-a-cidr"]}, "'not-a-cidr'"),
        ({"ip_deny": ["2001:db8::/129"]}, "'2001:db8::/129'"),
        ({"cors_origins": ["https://app.example.com/"]}, "'https://app.example.com/'"),
        ({"cors_origins": ["app.example.com"]}, "'app.example.com'"),
        ({"route_body_limits": {"v1/messages": 10}}, "'v1/messages'"),
        ({"route_body_limits": {"/v1/messages": 0}}, "'/v1/messages'"),
        ({"per_ip_rpm": -1}, "per_ip_rpm"),
    ],
)
def test_bad_settings_are_config_errors_naming_the_value(network: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        NetworkGuard(settings(**network))


def test_the_cli_refuses_to_start_with_a_bad_cidr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "omniroute.toml"
    config.write_text('[network]\nip_deny = ["10.0.0.0/8", "300.1.1.0/24"]\n', encoding="utf-8")
    code = cli.main(["--config", str(config), "--data-dir", str(tmp_path / "data")])
    assert code == 2
    assert "network.ip_deny: '300.1.1.0/24' is not an IP address or CIDR" in capsys.readouterr().err


# per-IP rate limit ----------------------------------------------------------------------------


def test_per_ip_rate_limit_with_retry_after() -> None:
    clock = Clock()
    g = guard(clock, per_ip_rpm=3)
    for _ in range(3):
        assert g.check(request("198.51.100.1:1")) is None
        clock.now += 1
    refusal = g.check(request("198.51.100.1:2"))
    assert refusal is not None and (refusal.status, refusal.code) == (429, "rate_limited")
    assert dict(refusal.headers) == {"retry-after": "57"}  # the first admission leaves the window at +60 s
    assert g.check(request("198.51.100.2:1")) is None  # other addresses have their own budget
    clock.now += 57
    assert g.check(request("198.51.100.1:3")) is None


def test_health_probes_and_preflights_are_not_counted() -> None:
    g = guard(per_ip_rpm=1, cors_origins=["*"])
    assert g.check(request("198.51.100.1:1")) is None
    for _ in range(5):
        assert g.check(request("198.51.100.1:1", method="GET", path="/health/ready")) is None
        preflight = request(
            "198.51.100.1:1",
            method="OPTIONS",
            headers={"origin": "https://a.example", "access-control-request-method": "POST"},
        )
        assert g.check(preflight) is None
    assert g.check(request("198.51.100.1:1")) is not None


def test_rate_limit_map_is_lru_bounded() -> None:
    clock = Clock()
    g = guard(clock, max_tracked_ips=3, per_ip_rpm=1)
    for i in range(50):
        assert g.check(request(f"198.51.100.{i}:1")) is None
        assert g.tracked_ips <= 3
    # The three most recent addresses are still limited; an evicted one starts over.
    assert g.check(request("198.51.100.49:1")) is not None
    assert g.check(request("198.51.100.0:1")) is None


def test_rate_limit_off_tracks_nothing() -> None:
    g = guard()
    for i in range(20):
        assert g.check(request(f"198.51.100.{i}:1")) is None
    assert g.tracked_ips == 0


# body limits ----------------------------------------------------------------------------------


def test_body_limit_uses_the_longest_matching_prefix() -> None:
    g = guard(
        route_body_limits={
            "/v1": 4096,
            "/v1/messages": 2048,
            "/v1/messages/count_tokens": 1024,
            "/v1beta/": 8192,
        }
    )
    assert g.body_limit("/v1/chat/completions") == 4096
    assert g.body_limit("/v1/messages") == 2048
    assert g.body_limit("/v1/messages/count_tokens") == 1024
    assert g.body_limit("/v1beta/models/gemini-2.5-flash:generateContent") == 8192
    assert g.body_limit("/api/combos") == Settings().max_body_bytes
    assert guard().body_limit("/v1/messages") == Settings().max_body_bytes


# CORS -----------------------------------------------------------------------------------------


def test_normalise_origin() -> None:
    assert normalise_origin("HTTPS://App.Example.com") == "https://app.example.com"
    assert normalise_origin("https://app.example.com:443") == "https://app.example.com"
    assert normalise_origin("http://localhost:5173") == "http://localhost:5173"
    assert normalise_origin("http://[::1]:8080") == "http://[::1]:8080"
    for bad in (
        "null",
        "file:///x",
        "https://a.example/path",
        "https://a.example?x=1",
        "https://u@a.example",
    ):
        assert normalise_origin(bad) is None, bad


def test_cors_headers_only_for_allowed_origins() -> None:
    g = guard(cors_origins=["https://app.example.com", "http://localhost:5173"])
    headers = dict(g.cors_headers(request(headers={"origin": "https://app.example.com"})))
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["vary"] == "Origin"
    assert "x-request-id" in headers["access-control-expose-headers"]
    assert g.cors_headers(request(headers={"origin": "https://evil.example"})) == []
    assert g.cors_headers(request()) == []
    assert guard().cors_headers(request(headers={"origin": "https://app.example.com"})) == []
    star = guard(cors_origins=["*"])
    assert (
        dict(star.cors_headers(request(headers={"origin": "https://any.example"})))[
            "access-control-allow-origin"
        ]
        == "*"
    )


def test_preflight_from_an_allowed_origin() -> None:
    g = guard(cors_origins=["https://app.example.com"])
    req = request(
        method="OPTIONS",
        headers={
            "origin": "https://app.example.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "Content-Type, X-Stainless-OS, anthropic-dangerous-direct-browser-"
            "access, x-evil, bad header",
        },
    )
    assert g.is_preflight(req)
    status, headers = g.preflight(req)
    got = dict(headers)
    assert status == 204
    assert got["access-control-allow-origin"] == "https://app.example.com"
    assert got["access-control-allow-methods"] == "GET, POST, PUT, DELETE, OPTIONS"
    assert got["access-control-max-age"] == "600"
    allowed = got["access-control-allow-headers"].split(", ")
    assert allowed[: len(CORS_ALLOW_HEADERS)] == list(CORS_ALLOW_HEADERS)
    assert {"x-stainless-os", "anthropic-dangerous-direct-browser-access"} <= set(allowed)
    assert "x-evil" not in allowed and "bad header" not in allowed
    assert {"authorization", "x-api-key", "x-goog-api-key", "anthropic-version", "anthropic-beta"} <= set(
        allowed
    )


def test_preflight_from_other_origins_is_refused() -> None:
    g = guard(cors_origins=["https://app.example.com"])
    req = request(
        method="OPTIONS", headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
    )
    assert g.preflight(req) == (403, [])
    assert not g.is_preflight(request(method="OPTIONS"))  # not a CORS preflight at all
    assert not g.is_preflight(request(method="OPTIONS", headers={"origin": "https://app.example.com"}))


def test_dialect_for_path() -> None:
    assert dialect_for_path("/v1/messages") == "anthropic"
    assert dialect_for_path("/v1/messages/count_tokens") == "anthropic"
    assert dialect_for_path("/v1beta/models/x:generateContent") == "gemini"
    assert dialect_for_path("/v1/responses") == "responses"
    assert dialect_for_path("/v1/chat/completions") == "openai"
    assert dialect_for_path("/api/keys") == "openai"


@pytest.mark.parametrize(
    ("path", "headers", "dialect"),
    [
        ("/v1/models", {"anthropic-version": "2023-06-01"}, "anthropic"),
        ("/v1/models/openai/gpt-4o", {"anthropic-version": "2023-06-01"}, "anthropic"),
        ("/v1/models", {}, "openai"),
        ("/v1/models/x", {"anthropic-version": ""}, "openai"),
        # Elsewhere the path alone decides.
        ("/v1/chat/completions", {"anthropic-version": "2023-06-01"}, "openai"),
        ("/v1/modelsx", {"anthropic-version": "2023-06-01"}, "openai"),
        ("/v1beta/models", {"anthropic-version": "2023-06-01"}, "gemini"),
        ("/v1/messages", {}, "anthropic"),
    ],
)
def test_the_model_paths_answer_an_anthropic_client_in_its_format(
    path: str, headers: dict[str, str], dialect: str
) -> None:
    assert client_dialect(request(path=path, headers=headers), path) == dialect


# settings changed through the API (security_settings) -----------------------------------------


def test_stored_sections_replace_the_files_and_deleting_restores_them(tmp_path: Path) -> None:
    base = settings(ip_deny=["203.0.113.0/24"], per_ip_rpm=5)
    conn = open_database(tmp_path)
    network, prompt = NetworkGuard(base), PromptGuard(base)
    overrides = SecurityOverrides(conn, network, prompt, base)
    overrides.refresh()
    assert overrides.overridden() == [] and network.check(request("203.0.113.1:1")) is not None

    changed = merge_section("network", network.network, {"ip_deny": ["198.51.100.0/24"]})
    assert isinstance(changed, NetworkSettings) and changed.per_ip_rpm == 5  # other fields kept
    save_section(conn, "network", changed)
    save_section(conn, "guard", merge_section("guard", prompt.guard, {"injection": "block"}))
    assert set(load_rows(conn)) == {"network", "guard"}
    overrides.refresh()
    assert overrides.overridden() == ["network", "guard"]
    assert network.check(request("203.0.113.1:1")) is None
    assert network.check(request("198.51.100.1:1")) is not None
    assert prompt.injection_mode == "block" and prompt.pii_mode == "warn"

    # A second worker built from the same file sees the stored values.
    other = NetworkGuard(base)
    SecurityOverrides(conn, other, PromptGuard(base), base).refresh()
    assert other.check(request("198.51.100.1:1")) is not None

    assert delete_section(conn, "network") and not delete_section(conn, "network")
    overrides.refresh()
    assert network.network == base.network and overrides.overridden() == ["guard"]
    conn.close()


def test_invalid_changes_and_stored_values_are_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    base = settings()
    with pytest.raises(ConfigError, match=re.escape("'10.0.0.0/40'")):
        merge_section("network", base.network, {"ip_allow": ["10.0.0.0/40"]})
    with pytest.raises(ConfigError, match="guard"):
        merge_section("guard", base.guard, {"injection": "loud"})
    with pytest.raises(ConfigError):
        merge_section("network", base.network, {"no_such_field": 1})
    conn = open_database(tmp_path)
    conn.execute(
        "INSERT INTO security_settings (section, value, updated_at) VALUES ('network', ?, 0)",
        ('{"ip_deny": ["bad"]}',),
    )
    network = NetworkGuard(base)
    logging.getLogger("omniroute").propagate = True
    with caplog.at_level(logging.ERROR, logger="omniroute.security"):
        SecurityOverrides(conn, network, PromptGuard(base), base).refresh()
    assert network.network == base.network
    assert "ignoring the stored network settings" in caplog.text
    conn.close()


def test_reconfigure_keeps_limiters_unless_the_rate_changes() -> None:
    clock = Clock()
    g = guard(clock, per_ip_rpm=1)
    assert g.check(request("198.51.100.1:1")) is None
    g.reconfigure(msgspec.structs.replace(g.network, cors_origins=["*"]))
    assert g.check(request("198.51.100.1:1")) is not None  # same budget
    g.reconfigure(msgspec.structs.replace(g.network, per_ip_rpm=2))
    assert g.check(request("198.51.100.1:1")) is None  # a new rate starts over
    with pytest.raises(ConfigError):
        g.reconfigure(msgspec.structs.replace(g.network, ip_deny=["x"]))
    assert g.network.per_ip_rpm == 2
