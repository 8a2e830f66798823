"""Admin authentication primitives: the password (scrypt), signed session cookies, CSRF tokens
and login throttling. The HTTP side (who may call `/api/*`) is in `admin/common.py` and
`admin/auth.py`.

- The admin password is stored only as `scrypt$N$r$p$salt$hash` (scrypt from `cryptography`,
  N=2**15, r=8, p=1: ~32 MiB and tens of milliseconds per guess), in `admin_credentials`.
  `INITIAL_PASSWORD` sets it on first start and is ignored once a password exists.
- A session cookie is `<session id>.<expiry>.<HMAC-SHA256>`; the key comes from `JWT_SECRET`
  or from `DATA_DIR/session.key` (32 random bytes, mode 0600, generated once), so sessions
  survive restarts. The session id's SHA-256 is kept in `admin_sessions`: logout, password
  reset and expiry end a session even though the cookie is still correctly signed.
- The CSRF token is an HMAC of the session id under a separate derived key: tied to that
  session, recomputable by every worker, useless for another session.
- Throttling state lives in the database (shared by all workers): `login_max_failures`
  failures within `login_window` seconds lock logins for `lockout` seconds, per client IP
  and for the account as a whole.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import apsw
import msgspec
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from omniroute.http.request import Request
from omniroute.security.secret_files import load_or_create_secret_file as _load_secret
from omniroute.settings import AdminSettings, Settings
from omniroute.store.audit import AuditEntry, AuditWriter, write_entries

log = logging.getLogger("omniroute.admin")

SESSION_KEY_FILE = "session.key"
SESSION_COOKIE = "omniroute_session"
CSRF_COOKIE = "omniroute_csrf"
CSRF_HEADER = "x-csrf-token"
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_HASH_BYTES = 32


class PasswordPolicyError(ValueError):
    """A new password that is too short or too long."""


# Passwords -----------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _password_bytes(password: str) -> bytes:
    return unicodedata.normalize("NFC", password).encode("utf-8")


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"the admin password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"the admin password may have at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    key = Scrypt(salt=salt, length=_HASH_BYTES, n=n, r=r, p=p).derive(_password_bytes(password))
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of `password` against a `hash_password` result; False on any malformed hash."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return False
    # Bounds keep a tampered row from asking for gigabytes of memory.
    if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16 and len(expected) >= 16):
        return False
    key = Scrypt(salt=salt, length=len(expected), n=n, r=r, p=p).derive(_password_bytes(password))
    return hmac.compare_digest(key, expected)


# Secrets ------------------------------------------------------------------------------------


def load_or_create_secret_file(path: Path) -> bytes:
    """The session-signing secret kept in `path` (see security/secret_files.py)."""
    return _load_secret(path, what="session key")


def session_secret(settings: Settings) -> bytes:
    if settings.jwt_secret:
        if len(settings.jwt_secret) < 16:
            log.warning("JWT_SECRET is shorter than 16 characters; use a long random value")
        return hmac.new(settings.jwt_secret.encode("utf-8"), b"omniroute-admin-session-v1", "sha256").digest()
    return load_or_create_secret_file(settings.data_path / SESSION_KEY_FILE)


# Sessions and CSRF --------------------------------------------------------------------------


class Session(msgspec.Struct, frozen=True):
    sid: str
    expires_at: int

    @property
    def id_hash(self) -> str:
        return session_id_hash(self.sid)


def session_id_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("ascii")).hexdigest()


class SessionCodec:
    """Signs and checks session cookies and derives CSRF tokens (keys derived from one secret)."""

    def __init__(self, secret: bytes) -> None:
        self._sign_key = hmac.new(secret, b"session-cookie", "sha256").digest()
        self._csrf_key = hmac.new(secret, b"csrf-token", "sha256").digest()

    def _signature(self, sid: str, expires_at: int) -> str:
        return _b64(hmac.new(self._sign_key, f"v1.{sid}.{expires_at}".encode("ascii"), "sha256").digest())

    def issue(self, now: float, ttl: float) -> tuple[Session, str]:
        """A new session and its cookie value."""
        session = Session(secrets.token_urlsafe(32), int(now + max(ttl, 1.0)))
        return (
            session,
            f"{session.sid}.{session.expires_at}.{self._signature(session.sid, session.expires_at)}",
        )

    def parse(self, value: str, now: float) -> Session | None:
        """The session a cookie names when its signature is valid and it has not expired."""
        if len(value) > 256:
            return None
        parts = value.split(".")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[0].isascii() or not parts[2].isascii():
            return None
        sid, expires_at = parts[0], int(parts[1])
        if not hmac.compare_digest(self._signature(sid, expires_at).encode(), parts[2].encode()):
            return None
        if expires_at <= now:
            return None
        return Session(sid, expires_at)

    def csrf_token(self, session: Session) -> str:
        return _b64(hmac.new(self._csrf_key, f"csrf.{session.sid}".encode("ascii"), "sha256").digest())

    def check_csrf(self, session: Session, presented: str | None) -> bool:
        if not presented or len(presented) > 128 or not presented.isascii():
            return False
        return hmac.compare_digest(self.csrf_token(session).encode(), presented.encode())


def parse_cookies(header: str | None) -> dict[str, str]:
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies


def session_cookies(session: Session, cookie_value: str, csrf: str, admin: AdminSettings) -> list[str]:
    """`Set-Cookie` values for a new session: the HttpOnly session cookie and a readable CSRF cookie."""
    secure = "; Secure" if admin.cookie_secure else ""
    max_age = max(1, int(admin.session_ttl))
    return [
        f"{SESSION_COOKIE}={cookie_value}; Path=/api; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}",
        f"{CSRF_COOKIE}={csrf}; Path=/; Max-Age={max_age}; SameSite=Strict{secure}",
    ]


def clear_cookies(admin: AdminSettings) -> list[str]:
    secure = "; Secure" if admin.cookie_secure else ""
    return [
        f"{SESSION_COOKIE}=; Path=/api; Max-Age=0; HttpOnly; SameSite=Strict{secure}",
        f"{CSRF_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict{secure}",
    ]


# Client address -----------------------------------------------------------------------------


def _strip_port(addr: str) -> str:
    if addr.startswith("["):
        return addr[1:].partition("]")[0]
    if addr.count(":") == 1:
        return addr.rsplit(":", 1)[0]
    return addr


def client_ip(req: Request, settings: Settings) -> str:
    """The caller's IP: the peer address, or the nearest X-Forwarded-For hop behind a trusted proxy."""
    if settings.network.trust_forwarded_for:
        forwarded = req.header("x-forwarded-for")
        if forwarded:
            hop = _strip_port(forwarded.split(",")[-1].strip())
            with contextlib.suppress(ValueError):
                return str(ipaddress.ip_address(hop))
    return _strip_port(req.client_addr)


def is_loopback_ip(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def is_loopback_host(host: str) -> bool:
    """A Host header naming this machine (guards loopback-only access against DNS rebinding)."""
    name = _strip_port(host.strip()).lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost") or is_loopback_ip(name)


# Storage ------------------------------------------------------------------------------------


def password_hash(conn: apsw.Connection) -> str | None:
    row = conn.execute("SELECT password_hash FROM admin_credentials WHERE id = 1").fetchone()
    return str(row[0]) if row else None


def bootstrap_password(conn: apsw.Connection, initial: str | None) -> bool:
    """Sets `initial` as the admin password when none exists; True when it did."""
    if not initial or password_hash(conn) is not None:
        return False
    check_password_policy(initial)
    encoded = hash_password(initial)
    with conn:
        conn.execute(
            "INSERT OR IGNORE INTO admin_credentials (id, password_hash, updated_at) VALUES (1, ?, ?)",
            (encoded, time.time()),
        )
        created = conn.changes() > 0
        if created:
            write_entries(
                conn, [AuditEntry(action="password_set", actor="system", detail="INITIAL_PASSWORD")]
            )
    return created


def reset_password(conn: apsw.Connection, new_password: str, *, actor: str = "cli") -> None:
    """Replaces the admin password, ends every session and clears login locks."""
    check_password_policy(new_password)
    encoded = hash_password(new_password)
    with conn:
        conn.execute(
            "INSERT INTO admin_credentials (id, password_hash, updated_at) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
            (encoded, time.time()),
        )
        conn.execute("DELETE FROM admin_sessions")
        conn.execute("DELETE FROM admin_login_throttle")
        write_entries(conn, [AuditEntry(action="password_reset", actor=actor)])


class LoginThrottle:
    """Failed-login counters per client IP and for the account, kept in the database."""

    ACCOUNT = "account"

    def __init__(self, conn: apsw.Connection, admin: AdminSettings) -> None:
        self._conn = conn
        self.max_failures = max(1, admin.login_max_failures)
        self.window = max(1.0, admin.login_window)
        self.lockout = max(1.0, admin.lockout)

    def _scopes(self, ip: str) -> tuple[str, str]:
        return (self.ACCOUNT, f"ip:{ip}")

    def retry_after(self, ip: str, now: float) -> float:
        """Seconds until logins from `ip` are allowed again (0 = allowed now)."""
        row = self._conn.execute(
            "SELECT MAX(locked_until) FROM admin_login_throttle WHERE scope IN (?, ?)", self._scopes(ip)
        ).fetchone()
        locked_until = float(row[0]) if row and row[0] is not None else 0.0
        return max(0.0, locked_until - now)

    def failure(self, ip: str, now: float) -> float:
        """Counts a failed login; returns the lock now in force (seconds, 0 = none)."""
        lock = 0.0
        with self._conn:
            for scope in self._scopes(ip):
                row = self._conn.execute(
                    "SELECT failures, window_start, locked_until FROM admin_login_throttle WHERE scope = ?",
                    (scope,),
                ).fetchone()
                failures, window_start, locked_until = (0, now, 0.0) if row is None else row
                if now - float(window_start) >= self.window:
                    failures, window_start = 0, now
                failures = int(failures) + 1
                if failures >= self.max_failures:
                    locked_until, failures, window_start = now + self.lockout, 0, now
                self._conn.execute(
                    "INSERT INTO admin_login_throttle (scope, failures, window_start, locked_until) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (scope) DO UPDATE SET failures = excluded.failures, "
                    "window_start = excluded.window_start, locked_until = excluded.locked_until",
                    (scope, failures, window_start, locked_until),
                )
                lock = max(lock, float(locked_until) - now)
            # Forget idle per-IP rows so the table stays small.
            self._conn.execute(
                "DELETE FROM admin_login_throttle WHERE scope != ? AND locked_until < ? AND window_start < ?",
                (self.ACCOUNT, now, now - self.window),
            )
        return max(0.0, lock)

    def success(self, ip: str) -> None:
        with self._conn:
            self._conn.execute("DELETE FROM admin_login_throttle WHERE scope IN (?, ?)", self._scopes(ip))


class AdminAuth:
    """Per-worker admin authentication state: password store, sessions, throttle, audit sink."""

    def __init__(
        self,
        settings: Settings,
        conn: apsw.Connection,
        audit: AuditWriter | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.conn = conn
        self.audit = audit
        self.clock = clock
        self.codec = SessionCodec(session_secret(settings))
        self.throttle = LoginThrottle(conn, settings.admin)
        if bootstrap_password(conn, settings.initial_password):
            log.info("admin password set from INITIAL_PASSWORD")
        elif settings.initial_password:
            log.debug("INITIAL_PASSWORD ignored: an admin password is already set")

    def password_set(self) -> bool:
        return password_hash(self.conn) is not None

    def record(self, entry: AuditEntry) -> None:
        if self.audit is not None:
            self.audit.record(entry)

    # Sessions --------------------------------------------------------------------------------
    def create_session(self, *, ip: str, user_agent: str | None) -> tuple[Session, str]:
        now = self.clock()
        session, cookie = self.codec.issue(now, self.settings.admin.session_ttl)
        with self.conn:
            self.conn.execute("DELETE FROM admin_sessions WHERE expires_at <= ?", (now,))
            self.conn.execute(
                "INSERT INTO admin_sessions (id_hash, created_at, expires_at, client_ip, user_agent) "
                "VALUES (?, ?, ?, ?, ?)",
                (session.id_hash, now, session.expires_at, ip, (user_agent or "")[:200] or None),
            )
        return session, cookie

    def session_from(self, req: Request) -> Session | None:
        """The live session named by the request's cookie, if any."""
        value = parse_cookies(req.header("cookie")).get(SESSION_COOKIE)
        if not value:
            return None
        now = self.clock()
        session = self.codec.parse(value, now)
        if session is None:
            return None
        row = self.conn.execute(
            "SELECT expires_at FROM admin_sessions WHERE id_hash = ?", (session.id_hash,)
        ).fetchone()
        if row is None or float(row[0]) <= now:
            return None
        return session

    def end_session(self, session: Session) -> bool:
        with self.conn:
            self.conn.execute("DELETE FROM admin_sessions WHERE id_hash = ?", (session.id_hash,))
        return bool(self.conn.changes() > 0)
