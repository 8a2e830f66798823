"""Admin login against real gateways: session cookie, CSRF, logout, throttling, restarts, the
`omniroute admin reset-password` CLI, credentials that must not open `/api/*`, and the audit log."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import gateway_config
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess

PASSWORD = "correct horse battery staple"
ADMIN_TOKEN = "admin-token-e2e-0123456789abcdef"
INFERENCE_KEY = "sk-admin-e2e-inference-0123456789abcdef"
LOCKOUT = 2.0
COMBO = {"name": "admin-e2e", "models": ["openai/gpt-4o"]}


def at_once(entries: list[dict[str, Any]]) -> bool:
    """`audit_entries` condition that takes the first answer."""
    return True


def admin_config(mock: MockProvider) -> str:
    return gateway_config(
        mock,
        f"""
[admin]
login_max_failures = 5
login_window = 60.0
lockout = {LOCKOUT}

[[api_keys]]
name = "inference"
key = "{INFERENCE_KEY}"
""",
    )


@pytest.fixture(scope="module")
def admin_gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("admin")
    env = {"INITIAL_PASSWORD": PASSWORD, "OMNIROUTE_ADMIN_TOKEN": ADMIN_TOKEN}
    with GatewayProcess(base / "data", admin_config(mock), env=env) as proc:
        yield proc


class Session:
    def __init__(self, cookie: str, csrf: str) -> None:
        self.cookie = cookie
        self.csrf = csrf

    def headers(self, *, csrf: bool = False) -> dict[str, str]:
        headers = {"cookie": f"omniroute_session={self.cookie}"}
        if csrf:
            headers["x-csrf-token"] = self.csrf
        return headers


def login(gw: GatewayProcess, password: str = PASSWORD) -> Session:
    resp = httpx.post(f"{gw.url}/api/auth/login", json={"password": password}, timeout=10)
    assert resp.status_code == 200, resp.text
    cookie = resp.cookies["omniroute_session"]
    return Session(cookie, resp.json()["csrf_token"])


def token_headers() -> dict[str, str]:
    return {"authorization": f"Bearer {ADMIN_TOKEN}"}


def audit_entries(
    gw: GatewayProcess, until: Any, timeout: float = 5.0, **params: Any
) -> list[dict[str, Any]]:
    """Entries of `GET /api/audit` once `until(entries)` holds (the writer batches)."""
    deadline = time.monotonic() + timeout
    while True:
        resp = httpx.get(f"{gw.url}/api/audit", params=params, headers=token_headers(), timeout=10)
        assert resp.status_code == 200, resp.text
        entries: list[dict[str, Any]] = resp.json()["entries"]
        if until(entries) or time.monotonic() > deadline:
            return entries
        time.sleep(0.1)


def test_login_issues_a_hardened_session_cookie(admin_gw: GatewayProcess) -> None:
    resp = httpx.post(f"{admin_gw.url}/api/auth/login", json={"password": PASSWORD})
    assert resp.status_code == 200
    body = resp.json()
    assert body["authenticated"] is True and body["expires_at"] > time.time() + 3600
    cookies = resp.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("omniroute_session="))
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/api", "Max-Age=43200"):
        assert attribute in session_cookie
    assert "Secure" not in session_cookie  # [admin] cookie_secure is off on plain HTTP
    assert PASSWORD not in resp.text
    session = Session(resp.cookies["omniroute_session"], body["csrf_token"])

    combos = httpx.get(f"{admin_gw.url}/api/combos", headers=session.headers())
    assert combos.status_code == 200 and "combos" in combos.json()
    info = httpx.get(f"{admin_gw.url}/api/auth/session", headers=session.headers()).json()
    assert info == {
        "authenticated": True,
        "method": "session",
        "password_set": True,
        "csrf_token": session.csrf,
        "expires_at": body["expires_at"],
    }
    anonymous = httpx.get(f"{admin_gw.url}/api/auth/session").json()
    assert anonymous == {"authenticated": False, "password_set": True}


def test_state_changing_calls_need_the_sessions_csrf_token(admin_gw: GatewayProcess) -> None:
    session, other = login(admin_gw), login(admin_gw)
    url = f"{admin_gw.url}/api/combos"
    for headers in (
        session.headers(),
        {**session.headers(), "x-csrf-token": "forged"},
        {**session.headers(), "x-csrf-token": other.csrf},  # another session's token
    ):
        resp = httpx.post(url, json=COMBO, headers=headers)
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "csrf_token_invalid"
    cross_site = httpx.post(
        url, json=COMBO, headers={**session.headers(csrf=True), "origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    assert httpx.get(f"{url}/admin-e2e", headers=session.headers()).status_code == 404

    created = httpx.post(url, json=COMBO, headers=session.headers(csrf=True))
    assert created.status_code == 201, created.text
    replaced = httpx.put(
        f"{url}/admin-e2e", json={"models": ["openai/gpt-4o-mini"]}, headers=session.headers(csrf=True)
    )
    assert replaced.status_code == 200
    assert httpx.delete(f"{url}/admin-e2e", headers=session.headers()).status_code == 403
    assert httpx.delete(f"{url}/admin-e2e", headers=session.headers(csrf=True)).status_code == 200


def test_logout_invalidates_the_session(admin_gw: GatewayProcess) -> None:
    session = login(admin_gw)
    url = f"{admin_gw.url}/api/auth/logout"
    assert httpx.post(url, headers=session.headers()).status_code == 403  # CSRF applies to logout too
    resp = httpx.post(url, headers=session.headers(csrf=True))
    assert resp.status_code == 200 and resp.json() == {"logged_out": True}
    assert any("Max-Age=0" in c for c in resp.headers.get_list("set-cookie"))
    after = httpx.get(f"{admin_gw.url}/api/combos", headers=session.headers())
    assert after.status_code == 401 and after.json()["error"]["code"] == "admin_auth_required"
    assert (
        httpx.get(f"{admin_gw.url}/api/auth/session", headers=session.headers()).json()["authenticated"]
        is False
    )
    assert httpx.post(url, headers=session.headers(csrf=True)).json() == {"logged_out": False}


def test_inference_keys_and_wrong_tokens_do_not_open_the_api(admin_gw: GatewayProcess) -> None:
    # The inference key is real: it works on /v1 ...
    client = openai.OpenAI(base_url=f"{admin_gw.url}/v1", api_key=INFERENCE_KEY, max_retries=0, timeout=20)
    assert any(m.id == "openai/gpt-4o" for m in client.models.list().data)
    # ... and opens nothing under /api, however it is sent; nor do wrong tokens or forged cookies.
    url = f"{admin_gw.url}/api/combos"
    for headers in (
        {},
        {"authorization": f"Bearer {INFERENCE_KEY}"},
        {"x-api-key": INFERENCE_KEY},
        {"x-goog-api-key": INFERENCE_KEY},
        {"authorization": "Bearer wrong-admin-token"},
        {"authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"cookie": "omniroute_session=abc.9999999999.forged"},
    ):
        resp = httpx.get(url, headers=headers)
        assert resp.status_code == 401, headers
        assert INFERENCE_KEY not in resp.text and ADMIN_TOKEN not in resp.text
    assert httpx.get(f"{url}?key={INFERENCE_KEY}").status_code == 401
    # The admin token works, without a CSRF token (automation).
    assert httpx.get(url, headers=token_headers()).status_code == 200
    created = httpx.post(url, json={**COMBO, "name": "token-made"}, headers=token_headers())
    assert created.status_code == 201
    assert httpx.delete(f"{url}/token-made", headers=token_headers()).status_code == 200


def test_repeated_bad_logins_lock_logins(admin_gw: GatewayProcess) -> None:
    url = f"{admin_gw.url}/api/auth/login"
    started = time.time()
    for _ in range(4):
        resp = httpx.post(url, json={"password": "not the password"})
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "login_failed"
    fifth = httpx.post(url, json={"password": "still not it"})
    assert fifth.status_code == 429 and fifth.json()["error"]["code"] == "login_locked"
    assert 1 <= int(fifth.headers["retry-after"]) <= LOCKOUT
    # Locked: even the right password is refused until the lock ends.
    locked = httpx.post(url, json={"password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    time.sleep(int(locked.headers["retry-after"]) + 0.2)
    assert httpx.post(url, json={"password": PASSWORD}).status_code == 200
    entries = audit_entries(admin_gw, lambda es: any(e["action"] == "login" for e in es), since=started)
    actions = [e["action"] for e in entries]
    assert actions.count("login_failed") == 5 and "login_locked" in actions
    assert all(e["client_ip"] == "127.0.0.1" for e in entries if e["action"].startswith("login"))


def test_malformed_logins_are_refused_cleanly(admin_gw: GatewayProcess) -> None:
    url = f"{admin_gw.url}/api/auth/login"
    for content in (b"", b"{", b'{"password": 5}', b'{"pass": "x"}', b"\xff\xfe", b"[]"):
        resp = httpx.post(url, content=content, headers={"content-type": "application/json"})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_body"
    huge = httpx.post(url, json={"password": "x" * 20000})
    assert huge.status_code == 413
    assert httpx.get(url).status_code == 405


def test_audit_log_records_admin_actions(admin_gw: GatewayProcess) -> None:
    started = time.time()
    session = login(admin_gw)
    url = f"{admin_gw.url}/api/combos"
    assert httpx.post(url, json={**COMBO, "name": "audited"}, headers=session.headers()).status_code == 403
    assert (
        httpx.post(url, json={**COMBO, "name": "audited"}, headers=session.headers(csrf=True)).status_code
        == 201
    )
    assert httpx.delete(f"{url}/audited", headers=token_headers()).status_code == 200
    assert (
        httpx.post(f"{admin_gw.url}/api/auth/logout", headers=session.headers(csrf=True)).status_code == 200
    )

    entries = audit_entries(admin_gw, lambda es: any(e["action"] == "logout" for e in es), since=started)
    mine = [e for e in entries if e["action"] != "api" or e["path"] != "/api/health/resilience/reset"]
    summary = [(e["action"], e["method"], e["path"], e["status"]) for e in reversed(mine)]
    assert summary == [
        ("login", "POST", "/api/auth/login", 200),
        ("api", "POST", "/api/combos", 403),
        ("api", "POST", "/api/combos", 201),
        ("api", "DELETE", "/api/combos/audited", 200),
        ("logout", "POST", "/api/auth/logout", 200),
    ]
    actor = mine[-1]["actor"]
    assert actor.startswith("session:") and all(e["actor"] == actor for e in mine if e["method"] != "DELETE")
    assert mine[1]["actor"] == "token" and all(e["client_ip"] == "127.0.0.1" for e in mine)
    assert all(e["time"].endswith("+00:00") for e in mine)
    # GETs are not audited; filters work; the log is admin-only.
    assert not any(e["method"] == "GET" for e in entries)
    assert len(audit_entries(admin_gw, at_once, limit=1)) == 1
    assert audit_entries(admin_gw, at_once, since=time.time() + 3600) == []
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started - 1))
    assert len(audit_entries(admin_gw, at_once, since=iso)) >= 5
    assert (
        httpx.get(
            f"{admin_gw.url}/api/audit", params={"since": "yesterday"}, headers=token_headers()
        ).status_code
        == 400
    )
    assert (
        httpx.get(f"{admin_gw.url}/api/audit", params={"limit": "0"}, headers=token_headers()).status_code
        == 400
    )
    assert httpx.get(f"{admin_gw.url}/api/audit").status_code == 401


def test_session_survives_restart_and_cli_reset_password(mock: MockProvider, tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = gateway_config(mock)
    with GatewayProcess(data, config, env={"INITIAL_PASSWORD": PASSWORD}) as first:
        session = login(first)
        # With a password set, loopback alone no longer opens /api/*.
        assert httpx.get(f"{first.url}/api/combos").status_code == 401
    assert (data / "session.key").stat().st_mode & 0o777 == 0o600
    stored = b"".join(p.read_bytes() for p in data.glob("omniroute.sqlite*"))
    assert PASSWORD.encode() not in stored and b"scrypt$32768$8$1$" in stored

    # Same data dir: the session still works; INITIAL_PASSWORD is ignored once a password exists.
    with GatewayProcess(data, config, env={"INITIAL_PASSWORD": "another initial password"}) as second:
        assert httpx.get(f"{second.url}/api/combos", headers=session.headers()).status_code == 200
        created = httpx.post(f"{second.url}/api/combos", json=COMBO, headers=session.headers(csrf=True))
        assert created.status_code == 201
        refused = httpx.post(f"{second.url}/api/auth/login", json={"password": "another initial password"})
        assert refused.status_code == 401

        cli = [sys.executable, "-m", "omniroute.cli", "admin", "reset-password", "--password-stdin"]
        short = subprocess.run(
            [*cli, "--data-dir", str(data)], input=b"short\n", capture_output=True, timeout=60
        )
        assert short.returncode == 2 and b"at least 8" in short.stderr
        done = subprocess.run(
            [*cli, "--data-dir", str(data)], input=b"a new admin password\n", capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        # The reset ended every session; only the new password logs in.
        assert httpx.get(f"{second.url}/api/combos", headers=session.headers()).status_code == 401
        assert httpx.post(f"{second.url}/api/auth/login", json={"password": PASSWORD}).status_code == 401
        fresh = login(second, "a new admin password")
        assert httpx.get(f"{second.url}/api/combos", headers=fresh.headers()).status_code == 200
        entries = httpx.get(f"{second.url}/api/audit", headers=fresh.headers()).json()["entries"]
        actions = [e["action"] for e in entries]
        assert {"password_set", "password_reset", "login", "login_failed", "api"} <= set(actions)
        reset = next(e for e in entries if e["action"] == "password_reset")
        assert reset["actor"] == "cli"


def test_open_gateway_keeps_loopback_access(gateway: GatewayProcess) -> None:
    """No password and no token: loopback callers manage the gateway (as before), but only
    through a local Host and never from another origin."""
    url = f"{gateway.url}/api/combos"
    assert httpx.get(url).status_code == 200
    rebinding = httpx.get(url, headers={"host": "attacker.example"})
    assert rebinding.status_code == 403 and rebinding.json()["error"]["code"] == "admin_forbidden"
    cross_site = httpx.post(url, json=COMBO, headers={"origin": "https://evil.example"})
    assert cross_site.status_code == 403
    info = httpx.get(f"{gateway.url}/api/auth/session").json()
    assert info == {"authenticated": True, "method": "loopback", "password_set": False}
    no_password = httpx.post(f"{gateway.url}/api/auth/login", json={"password": PASSWORD})
    assert no_password.status_code == 409 and no_password.json()["error"]["code"] == "admin_password_not_set"
