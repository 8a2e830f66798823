"""Admin authentication primitives: password hashing, session cookies, CSRF, throttling, the
`/api/*` authorization rules and the audit log."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import apsw
import msgspec
import pytest

from omniroute.admin.common import (
    AdminError,
    authorize,
    check_admin,
    check_origin,
    current_principal,
    grant,
    revoke,
)
from omniroute.errors import ConfigError
from omniroute.http.request import Request
from omniroute.security.admin_auth import (
    SESSION_COOKIE,
    SESSION_KEY_FILE,
    AdminAuth,
    LoginThrottle,
    PasswordPolicyError,
    SessionCodec,
    bootstrap_password,
    client_ip,
    hash_password,
    is_loopback_host,
    load_or_create_secret_file,
    parse_cookies,
    password_hash,
    reset_password,
    session_cookies,
    session_secret,
    verify_password,
)
from omniroute.settings import AdminSettings, NetworkSettings, Settings
from omniroute.store.audit import AuditEntry, AuditWriter, list_entries, write_entries
from omniroute.store.db import DB_FILE, open_database

PASSWORD = "correct horse battery staple"


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_request(
    method: str = "GET",
    path: str = "/api/combos",
    *,
    headers: dict[str, str] | None = None,
    client: str = "127.0.0.1:50000",
) -> Request:
    scope = SimpleNamespace(
        proto="http",
        method=method,
        path=path,
        query_string="",
        headers=dict(headers or {}),
        client=client,
        authority=None,
    )
    return Request(scope, SimpleNamespace())


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[apsw.Connection]:
    db = open_database(tmp_path / "data")
    yield db
    db.close()


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=str(tmp_path / "data"), **overrides)


# Passwords -----------------------------------------------------------------------------------


def test_hash_and_verify_password() -> None:
    encoded = hash_password(PASSWORD)
    assert encoded.startswith("scrypt$32768$8$1$")
    assert PASSWORD not in encoded
    assert verify_password(PASSWORD, encoded)
    assert not verify_password(PASSWORD + "!", encoded)
    assert not verify_password("", encoded)
    # Fresh salt each time.
    assert hash_password(PASSWORD, n=1024) != hash_password(PASSWORD, n=1024)


def test_verify_normalises_unicode() -> None:
    encoded = hash_password("caf\u00e9-password", n=1024)
    assert verify_password("cafe\u0301-password", encoded)


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "plain-text-password",
        "bcrypt$1$2$3$4$5",
        "scrypt$abc$8$1$c2FsdA$aGFzaA",
        "scrypt$1024$8$1$!!!$aGFzaA",
        "scrypt$1000$8$1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",  # N not a power of two
        "scrypt$4294967296$8$1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",  # absurd memory
        "scrypt$1024$8$1$c2FsdHNhbHQ$aA",  # too short a hash
    ],
)
def test_malformed_hashes_never_verify(encoded: str) -> None:
    assert not verify_password(PASSWORD, encoded)


def test_overlong_password_is_refused_without_hashing() -> None:
    encoded = hash_password(PASSWORD, n=1024)
    assert not verify_password("x" * 5000, encoded)


# Sessions and CSRF ---------------------------------------------------------------------------


def test_session_cookie_round_trip() -> None:
    codec = SessionCodec(b"k" * 32)
    session, cookie = codec.issue(now=1000.0, ttl=60)
    assert session.expires_at == 1060
    assert codec.parse(cookie, now=1001.0) == session
    assert session.sid not in session.id_hash


def test_tampered_session_cookie_is_refused() -> None:
    codec = SessionCodec(b"k" * 32)
    _, cookie = codec.issue(now=1000.0, ttl=60)
    sid, expires, sig = cookie.split(".")
    flipped = "A" if sig[0] != "A" else "B"
    for forged in (
        f"{sid}.{int(expires) + 3600}.{sig}",  # extended expiry
        f"{sid[:-1]}{'x' if sid[-1] != 'x' else 'y'}.{expires}.{sig}",  # other session id
        f"{sid}.{expires}.{flipped}{sig[1:]}",  # bad signature
        f"{sid}.{expires}",
        f"{sid}.{expires}.{sig}.extra",
        f"{sid}.-5.{sig}",
        "",
        "x" * 1000,
        f"{sid}.{expires}.{sig}\u00e9",
    ):
        assert codec.parse(forged, now=1001.0) is None, forged
    assert SessionCodec(b"j" * 32).parse(cookie, now=1001.0) is None


def test_expired_session_cookie_is_refused() -> None:
    codec = SessionCodec(b"k" * 32)
    _, cookie = codec.issue(now=1000.0, ttl=60)
    assert codec.parse(cookie, now=1059.0) is not None
    assert codec.parse(cookie, now=1060.0) is None
    assert codec.parse(cookie, now=5000.0) is None


def test_csrf_token_is_tied_to_its_session() -> None:
    codec = SessionCodec(b"k" * 32)
    first, _ = codec.issue(now=1000.0, ttl=60)
    second, _ = codec.issue(now=1000.0, ttl=60)
    token = codec.csrf_token(first)
    assert codec.check_csrf(first, token)
    assert not codec.check_csrf(second, token)
    assert not codec.check_csrf(first, None)
    assert not codec.check_csrf(first, "")
    assert not codec.check_csrf(first, token[:-1])
    assert not codec.check_csrf(first, token + "\u00e9")
    # Another secret gives other tokens for the same session id.
    assert SessionCodec(b"j" * 32).csrf_token(first) != token


def test_cookie_attributes() -> None:
    codec = SessionCodec(b"k" * 32)
    session, value = codec.issue(now=1000.0, ttl=60)
    plain = session_cookies(session, value, "csrf", AdminSettings(session_ttl=60))
    assert plain[0].startswith(f"{SESSION_COOKIE}={value};")
    assert "HttpOnly" in plain[0] and "SameSite=Strict" in plain[0] and "Max-Age=60" in plain[0]
    assert "Secure" not in plain[0]
    assert "HttpOnly" not in plain[1]
    secure = session_cookies(session, value, "csrf", AdminSettings(cookie_secure=True))
    assert all(c.endswith("; Secure") for c in secure)


def test_parse_cookies() -> None:
    assert parse_cookies(None) == {}
    assert parse_cookies('a=1; b="2" ; junk; =x; a=3') == {"a": "1", "b": "2"}


def test_session_secret_from_jwt_secret_and_from_file(tmp_path: Path) -> None:
    a = session_secret(settings_for(tmp_path, jwt_secret="a-long-jwt-secret-value"))
    assert a == session_secret(settings_for(tmp_path, jwt_secret="a-long-jwt-secret-value"))
    assert a != session_secret(settings_for(tmp_path, jwt_secret="another-jwt-secret-value"))
    assert not (tmp_path / "data" / SESSION_KEY_FILE).exists()
    (tmp_path / "data").mkdir()
    generated = session_secret(settings_for(tmp_path))
    path = tmp_path / "data" / SESSION_KEY_FILE
    assert len(generated) == 32 and path.read_bytes() == generated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert session_secret(settings_for(tmp_path)) == generated
    assert [p.name for p in path.parent.iterdir()] == [SESSION_KEY_FILE]


def test_corrupt_session_key_file(tmp_path: Path) -> None:
    path = tmp_path / SESSION_KEY_FILE
    path.write_bytes(b"short")
    with pytest.raises(ConfigError, match="corrupt"):
        load_or_create_secret_file(path)


# Stored password, sessions, throttle ---------------------------------------------------------


def test_bootstrap_sets_the_password_once(conn: apsw.Connection) -> None:
    assert password_hash(conn) is None
    assert not bootstrap_password(conn, None)
    with pytest.raises(PasswordPolicyError):
        bootstrap_password(conn, "short")
    assert bootstrap_password(conn, PASSWORD)
    stored = password_hash(conn)
    assert stored is not None and PASSWORD not in stored and verify_password(PASSWORD, stored)
    # Ignored once a password exists (even a different or too short one).
    assert not bootstrap_password(conn, "another password")
    assert not bootstrap_password(conn, "short")
    assert password_hash(conn) == stored
    assert [e["action"] for e in list_entries(conn)] == ["password_set"]


def test_reset_password_ends_sessions_and_clears_locks(tmp_path: Path, conn: apsw.Connection) -> None:
    auth = AdminAuth(settings_for(tmp_path, initial_password=PASSWORD), conn)
    _, cookie = auth.create_session(ip="127.0.0.1", user_agent="pytest")
    req = make_request(headers={"cookie": f"{SESSION_COOKIE}={cookie}"})
    assert auth.session_from(req) is not None
    for _ in range(5):
        auth.throttle.failure("10.0.0.1", auth.clock())
    assert auth.throttle.retry_after("10.0.0.1", auth.clock()) > 0
    with pytest.raises(PasswordPolicyError):
        reset_password(conn, "tiny")
    reset_password(conn, "a brand new password")
    assert auth.session_from(req) is None
    assert auth.throttle.retry_after("10.0.0.1", auth.clock()) == 0
    stored = password_hash(conn)
    assert stored is not None and verify_password("a brand new password", stored)
    assert not verify_password(PASSWORD, stored)
    assert list_entries(conn)[0]["action"] == "password_reset"


def test_sessions_end_on_logout_and_expiry(tmp_path: Path, conn: apsw.Connection) -> None:
    clock = FakeClock()
    settings = settings_for(tmp_path, admin=AdminSettings(session_ttl=100))
    auth = AdminAuth(settings, conn, clock=clock)
    session, cookie = auth.create_session(ip="127.0.0.1", user_agent=None)
    req = make_request(headers={"cookie": f"other=1; {SESSION_COOKIE}={cookie}"})
    assert auth.session_from(req) == session
    assert auth.end_session(session)
    assert auth.session_from(req) is None
    assert not auth.end_session(session)
    _, cookie = auth.create_session(ip="127.0.0.1", user_agent=None)
    req = make_request(headers={"cookie": f"{SESSION_COOKIE}={cookie}"})
    clock.now += 101
    assert auth.session_from(req) is None
    # A correctly signed cookie whose row is gone (e.g. another secret's database) does not open.
    other_db = open_database(tmp_path / "other")
    try:
        assert AdminAuth(settings, other_db, clock=clock).session_from(req) is None
    finally:
        other_db.close()


def test_sessions_survive_a_new_instance(tmp_path: Path, conn: apsw.Connection) -> None:
    settings = settings_for(tmp_path)
    _, cookie = AdminAuth(settings, conn).create_session(ip="127.0.0.1", user_agent=None)
    again = open_database(tmp_path / "data")
    try:
        req = make_request(headers={"cookie": f"{SESSION_COOKIE}={cookie}"})
        assert AdminAuth(settings, again).session_from(req) is not None
    finally:
        again.close()


def test_throttle_locks_per_ip_and_account(conn: apsw.Connection) -> None:
    clock = FakeClock()
    throttle = LoginThrottle(conn, AdminSettings(login_max_failures=5, login_window=300, lockout=900))
    for _ in range(4):
        assert throttle.failure("10.0.0.1", clock()) == 0
    assert throttle.retry_after("10.0.0.1", clock()) == 0
    assert throttle.failure("10.0.0.1", clock()) == pytest.approx(900)
    assert throttle.retry_after("10.0.0.1", clock() + 100) == pytest.approx(800)
    # The account as a whole is locked too: another address cannot keep guessing.
    assert throttle.retry_after("10.0.0.2", clock()) == pytest.approx(900)
    assert throttle.retry_after("10.0.0.1", clock() + 900) == 0


def test_throttle_window_and_success_reset_counts(conn: apsw.Connection) -> None:
    clock = FakeClock()
    throttle = LoginThrottle(conn, AdminSettings(login_max_failures=3, login_window=60, lockout=30))
    throttle.failure("10.0.0.1", clock())
    throttle.failure("10.0.0.1", clock())
    clock.now += 61  # window over: counting starts again
    assert throttle.failure("10.0.0.1", clock()) == 0
    assert throttle.failure("10.0.0.1", clock()) == 0
    throttle.success("10.0.0.1")
    assert throttle.failure("10.0.0.1", clock()) == 0
    assert throttle.failure("10.0.0.1", clock()) == 0
    assert throttle.failure("10.0.0.1", clock()) == pytest.approx(30)


def test_per_ip_lock_without_account_lock(conn: apsw.Connection) -> None:
    clock = FakeClock()
    throttle = LoginThrottle(conn, AdminSettings(login_max_failures=2, login_window=60, lockout=30))
    throttle.failure("10.0.0.1", clock())
    throttle.success("10.0.0.2")  # another client logs in: the account count is cleared
    assert throttle.failure("10.0.0.1", clock()) == pytest.approx(30)  # this IP reached 2
    assert throttle.retry_after("10.0.0.1", clock()) == pytest.approx(30)
    assert throttle.retry_after("10.0.0.2", clock()) == 0


# Authorization of /api/* -----------------------------------------------------------------------


def test_open_mode_is_loopback_only_with_a_local_host(tmp_path: Path, conn: apsw.Connection) -> None:
    settings = settings_for(tmp_path)
    auth = AdminAuth(settings, conn)
    assert authorize(make_request(headers={"host": "127.0.0.1:20128"}), auth, settings).kind == "loopback"
    assert authorize(make_request(client="[::1]:5000", headers={"host": "localhost"}), auth, settings)
    # An inference key is irrelevant in open mode (and grants nothing).
    assert authorize(make_request(headers={"authorization": "Bearer sk-x"}), auth, settings)
    with pytest.raises(AdminError) as exc:
        authorize(make_request(client="192.0.2.7:5000"), auth, settings)
    assert exc.value.status == 403
    with pytest.raises(AdminError) as exc:  # DNS rebinding: a foreign name resolving to 127.0.0.1
        authorize(make_request(headers={"host": "attacker.example:20128"}), auth, settings)
    assert exc.value.status == 403


def test_password_closes_loopback_access(tmp_path: Path, conn: apsw.Connection) -> None:
    settings = settings_for(tmp_path, initial_password=PASSWORD)
    auth = AdminAuth(settings, conn)
    with pytest.raises(AdminError) as exc:
        authorize(make_request(), auth, settings)
    assert (exc.value.status, exc.value.code) == (401, "admin_auth_required")


def test_token_rules(tmp_path: Path, conn: apsw.Connection) -> None:
    settings = settings_for(tmp_path, admin_token="admin-token-123")
    auth = AdminAuth(settings, conn)
    ok = authorize(make_request("POST", headers={"authorization": "Bearer admin-token-123"}), auth, settings)
    assert ok.kind == "token"  # no CSRF needed for bearer callers
    for value in ("Bearer wrong", "Bearer sk-inference-key", "Basic admin-token-123", "admin-token-123"):
        with pytest.raises(AdminError) as exc:
            authorize(make_request(headers={"authorization": value}), auth, settings)
        assert exc.value.status == 401
    with pytest.raises(AdminError):
        authorize(make_request(), auth, settings)  # loopback alone is not enough with a token


def test_session_needs_csrf_on_state_changing_methods(tmp_path: Path, conn: apsw.Connection) -> None:
    settings = settings_for(tmp_path, initial_password=PASSWORD)
    auth = AdminAuth(settings, conn)
    session, cookie = auth.create_session(ip="127.0.0.1", user_agent=None)
    csrf = auth.codec.csrf_token(session)
    jar = {"cookie": f"{SESSION_COOKIE}={cookie}"}
    assert authorize(make_request("GET", headers=jar), auth, settings).kind == "session"
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        with pytest.raises(AdminError) as exc:
            authorize(make_request(method, headers=jar), auth, settings)
        assert (exc.value.status, exc.value.code) == (403, "csrf_token_invalid")
        assert exc.value.actor is not None and exc.value.actor.startswith("session:")
        principal = authorize(make_request(method, headers={**jar, "x-csrf-token": csrf}), auth, settings)
        assert principal.session == session
    other, _ = auth.create_session(ip="127.0.0.1", user_agent=None)
    with pytest.raises(AdminError):
        authorize(
            make_request("POST", headers={**jar, "x-csrf-token": auth.codec.csrf_token(other)}),
            auth,
            settings,
        )


def test_origin_check() -> None:
    settings = Settings(network=NetworkSettings(cors_origins=["https://dash.example"]))
    check_origin(make_request("POST", headers={"host": "127.0.0.1:1"}), settings)
    check_origin(
        make_request("POST", headers={"host": "127.0.0.1:1", "origin": "http://127.0.0.1:1"}), settings
    )
    check_origin(make_request("POST", headers={"host": "x", "origin": "https://dash.example"}), settings)
    check_origin(
        make_request("GET", headers={"host": "127.0.0.1:1", "origin": "https://evil.example"}), settings
    )
    for origin in ("https://evil.example", "null", "http://127.0.0.1:2"):
        with pytest.raises(AdminError) as exc:
            check_origin(make_request("DELETE", headers={"host": "127.0.0.1:1", "origin": origin}), settings)
        assert exc.value.status == 403


def test_check_admin_trusts_the_guard_and_falls_back_strictly() -> None:
    req = make_request(client="192.0.2.7:5000")
    with pytest.raises(AdminError):
        check_admin(req, Settings())
    from omniroute.admin.common import Principal

    token = grant(req, Principal("session", "session:x"))
    try:
        check_admin(req, Settings())
        assert current_principal(req) is not None
        assert current_principal(make_request()) is None  # only the granted request
    finally:
        revoke(token)
    with pytest.raises(AdminError):
        check_admin(req, Settings())
    check_admin(make_request(), Settings())  # loopback, nothing configured
    with pytest.raises(AdminError):
        check_admin(make_request(), Settings(initial_password=PASSWORD))
    check_admin(make_request(headers={"authorization": "Bearer t0k"}), Settings(admin_token="t0k"))


def test_client_ip_and_hosts() -> None:
    assert client_ip(make_request(client="10.1.2.3:4444"), Settings()) == "10.1.2.3"
    assert client_ip(make_request(client="[::1]:4444"), Settings()) == "::1"
    forwarded = make_request(headers={"x-forwarded-for": "1.1.1.1, 203.0.113.9"})
    assert client_ip(forwarded, Settings()) == "127.0.0.1"
    trusting = Settings(network=NetworkSettings(trust_forwarded_for=True))
    assert client_ip(forwarded, trusting) == "203.0.113.9"
    assert client_ip(make_request(headers={"x-forwarded-for": "garbage"}), trusting) == "127.0.0.1"
    assert (
        is_loopback_host("localhost:20128") and is_loopback_host("[::1]:1") and is_loopback_host("127.0.0.2")
    )
    assert not is_loopback_host("example.com") and not is_loopback_host("10.0.0.1:80")


# Audit log ---------------------------------------------------------------------------------


def test_audit_writer_batches_and_lists(tmp_path: Path, conn: apsw.Connection) -> None:
    writer = AuditWriter(tmp_path / "data" / DB_FILE, interval=0.05)
    writer.start()
    base = time.time()
    for i in range(5):
        writer.record(
            AuditEntry(
                action="api", actor="token", method="POST", path=f"/api/x/{i}", status=200, ts=base + i
            )
        )
    writer.record(AuditEntry(action="login_failed", actor="anonymous", client_ip="10.0.0.1", ts=base + 10))
    writer.close()
    entries = list_entries(conn)
    assert [e["action"] for e in entries] == ["login_failed"] + ["api"] * 5
    assert entries[1]["path"] == "/api/x/4" and entries[1]["status"] == 200
    assert [e["path"] for e in list_entries(conn, since=base + 3, action="api")] == ["/api/x/4", "/api/x/3"]
    assert len(list_entries(conn, limit=2)) == 2
    assert writer.written == 6 and writer.dropped == 0


def test_audit_writer_prunes_old_entries(tmp_path: Path, conn: apsw.Connection) -> None:
    write_entries(conn, [AuditEntry(action="api", actor="token", ts=time.time() - 400 * 86400)])
    write_entries(conn, [AuditEntry(action="api", actor="token")])
    writer = AuditWriter(tmp_path / "data" / DB_FILE, interval=0.05)
    writer.start()
    writer.close()
    assert len(list_entries(conn)) == 1


def test_audit_entries_are_plain_json() -> None:
    entry = AuditEntry(action="login", actor="session:abc")
    assert msgspec.json.decode(msgspec.json.encode(entry))["action"] == "login"


def test_secret_file_mode_survives_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        load_or_create_secret_file(tmp_path / "k")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600


# CLI ---------------------------------------------------------------------------------------


def test_cli_reset_password_prompts_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import getpass
    import io

    from omniroute import cli

    data = tmp_path / "cli-data"
    answers = iter(["first password", "second password"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert cli.main(["admin", "reset-password", "--data-dir", str(data)]) == 1
    answers = iter(["matching password", "matching password"])
    assert cli.main(["admin", "reset-password", "--data-dir", str(data)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin password\nignored\n"))
    assert cli.main(["--data-dir", str(data), "admin", "reset-password", "--password-stdin"]) == 0
    conn = open_database(data)
    try:
        stored = password_hash(conn)
        assert stored is not None and verify_password("from stdin password", stored)
        assert [e["actor"] for e in list_entries(conn, action="password_reset")] == ["cli", "cli"]
    finally:
        conn.close()
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["admin", "reset-password", "--password-stdin", "--data-dir", str(data)]) == 2


def test_cli_refuses_a_short_initial_password(tmp_path: Path) -> None:
    from omniroute import cli

    settings = settings_for(tmp_path, initial_password="short")
    with pytest.raises(ConfigError, match="INITIAL_PASSWORD"):
        cli.prepare_storage(settings, None, {})
