"""The one frozen `Settings` object: defaults < config file `[server]` < environment < flags.

Built once by the CLI and passed down (to Granian workers as JSON in one environment
variable); nothing reads the environment after that.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from omniroute.errors import ConfigError

SETTINGS_ENV = "OMNIROUTE_SETTINGS_JSON"
#: Fields never shown in reprs or logs.
SECRET_FIELDS = ("encryption_key", "admin_token", "api_key_secret", "initial_password", "jwt_secret")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


AccountStrategy = Literal["fill-first", "round-robin", "p2c", "random", "least-used", "cost-optimized"]
ACCOUNT_STRATEGIES: tuple[str, ...] = (
    "fill-first",
    "round-robin",
    "p2c",
    "random",
    "least-used",
    "cost-optimized",
)


class ProviderRouting(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    account_strategy: AccountStrategy | None = None
    sticky_limit: int | None = None


class RoutingSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[routing]`: account selection and the defaults every combo starts from."""

    account_strategy: AccountStrategy = "fill-first"
    #: Round-robin: calls an account keeps before the least recently used one takes over.
    sticky_limit: int = 3
    #: Retries of the same account after a transient failure (408 / 5xx / timeout).
    max_retries: int = 1
    retry_delay: float = 2.0
    #: Round-robin combos: calls in flight per model before the next model is preferred.
    concurrency_per_model: int = 3
    queue_timeout: float = 30.0
    max_depth: int = 3
    providers: dict[str, ProviderRouting] = msgspec.field(default_factory=dict)


class LimitSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[limits]`: outbound limits per connection (0 = off); connections may override each."""

    rpm: int = 0
    min_gap_ms: int = 0
    max_concurrent: int = 0
    #: Longest wait for an outbound slot before the next account is tried.
    queue_timeout: float = 5.0


class BreakerSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[breakers]`: consecutive provider failures that open a circuit, and how long it stays open."""

    failure_threshold: int = 5
    reset_timeout: float = 30.0


GuardMode = Literal["off", "warn", "block", "redact"]


class AdminSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[admin]`: the dashboard / management login."""

    #: Seconds a login session lasts.
    session_ttl: float = 12 * 3600.0
    #: Failed logins within `login_window` seconds that lock logins for `lockout` seconds.
    login_max_failures: int = 5
    login_window: float = 300.0
    lockout: float = 900.0
    #: Mark the session cookie `Secure` (set when served over HTTPS).
    cookie_secure: bool = False


class NetworkSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[network]`: guards applied before any route runs."""

    #: CIDRs allowed to connect (empty = everyone) and CIDRs refused (deny wins).
    ip_allow: list[str] = msgspec.field(default_factory=list)
    ip_deny: list[str] = msgspec.field(default_factory=list)
    #: Requests per minute per client IP (0 = off).
    per_ip_rpm: int = 0
    #: Largest request body per route prefix, e.g. {"/v1/messages" = 8388608}; others use max_body_bytes.
    route_body_limits: dict[str, int] = msgspec.field(default_factory=dict)
    #: Origins allowed by CORS (["*"] = any); empty = no CORS headers.
    cors_origins: list[str] = msgspec.field(default_factory=list)
    #: Take the client IP from X-Forwarded-For (only behind a trusted proxy).
    trust_forwarded_for: bool = False


class GuardSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[guard]`: prompt-injection and PII detectors (off | warn | block | redact)."""

    injection: GuardMode = "warn"
    pii: GuardMode = "warn"


class UsageSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[usage]`: how long raw per-request records are kept (rollups are kept)."""

    retention_days: int = 30


class MetricsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[metrics]`: the Prometheus endpoint `GET /metrics`."""

    enabled: bool = True
    #: Bearer token a scraper must send; without one `/metrics` answers loopback callers only.
    token: str | None = None
    #: Adds per-API-key series (labelled with a short hash of the key id, never the key).
    per_key_labels: bool = False

    def __repr__(self) -> str:
        token = "<hidden>" if self.token else None
        return f"MetricsSettings(enabled={self.enabled!r}, token={token!r}, per_key_labels={self.per_key_labels!r})"


class LoggingSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """`[logging]`: the request log (SQLite), its retention, and debug capture of bodies."""

    #: One row per call in `request_logs` (batched writes), queried through `/api/logs`.
    request_log: bool = True
    #: Request-log rows older than this are deleted (0 = keep forever).
    retention_days: int = 30
    #: Capture every call's bodies (client request, upstream request and response, client
    #: response), redacted; per call instead with `x-omniroute-capture: 1` + the admin token.
    capture: bool = False
    #: Bytes kept of each captured part.
    capture_max_bytes: int = 65536


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 20128
    data_dir: str = "~/.omniroute"
    config_path: str | None = None
    workers: int = 1
    log_level: str = "info"
    require_api_key: bool = False
    #: Allows a non-loopback bind while inbound keys are not required (an open relay).
    allow_open_bind: bool = False
    #: Bearer token for the `/api/*` management API; without it `/api/*` is loopback-only.
    admin_token: str | None = None
    #: Secret for the credential vault; when absent a key file in data_dir is used.
    encryption_key: str | None = msgspec.field(default=None)
    connect_timeout: float = 10.0
    first_byte_timeout: float = 120.0
    stream_idle_timeout: float = 60.0
    request_timeout: float = 120.0
    shutdown_timeout: float = 30.0
    max_body_bytes: int = 32 * 1024 * 1024
    #: Seconds of upstream silence after which a started stream gets a keep-alive (Anthropic
    #: `ping`, an SSE comment elsewhere).
    stream_keepalive: float = 15.0
    #: Stored Responses (`previous_response_id`, `GET /v1/responses/{id}`): lifetime and count.
    responses_ttl: float = 30 * 86400.0
    responses_max: int = 10_000
    #: Secret for the HMAC check part of inbound API keys (env API_KEY_SECRET; else generated).
    api_key_secret: str | None = None
    #: Bootstraps the admin password on first start (env INITIAL_PASSWORD).
    initial_password: str | None = None
    #: Signs admin sessions (env JWT_SECRET; else a generated secret persisted in data_dir).
    jwt_secret: str | None = None
    admin: AdminSettings = msgspec.field(default_factory=AdminSettings)
    network: NetworkSettings = msgspec.field(default_factory=NetworkSettings)
    guard: GuardSettings = msgspec.field(default_factory=GuardSettings)
    usage: UsageSettings = msgspec.field(default_factory=UsageSettings)
    logging: LoggingSettings = msgspec.field(default_factory=LoggingSettings)
    metrics: MetricsSettings = msgspec.field(default_factory=MetricsSettings)
    routing: RoutingSettings = msgspec.field(default_factory=RoutingSettings)
    limits: LimitSettings = msgspec.field(default_factory=LimitSettings)
    breakers: BreakerSettings = msgspec.field(default_factory=BreakerSettings)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={'<hidden>' if name in SECRET_FIELDS and value else repr(value)}"
            for name, value in msgspec.structs.asdict(self).items()
        )
        return f"Settings({shown})"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()

    def to_json(self) -> bytes:
        return msgspec.json.encode(self)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Settings:
        return msgspec.json.decode(raw, type=cls)


#: `[server]` keys of the config file that map onto Settings fields.
SERVER_KEYS = (
    "host",
    "port",
    "require_api_key",
    "allow_open_bind",
    "workers",
    "log_level",
    "connect_timeout",
    "first_byte_timeout",
    "stream_idle_timeout",
    "request_timeout",
    "shutdown_timeout",
    "max_body_bytes",
    "stream_keepalive",
    "responses_ttl",
    "responses_max",
)

#: Environment variable -> Settings field.
ENV_KEYS = {
    "HOSTNAME": "host",
    "PORT": "port",
    "DATA_DIR": "data_dir",
    "OMNIROUTE_CONFIG": "config_path",
    "REQUIRE_API_KEY": "require_api_key",
    "STORAGE_ENCRYPTION_KEY": "encryption_key",
    "OMNIROUTE_WORKERS": "workers",
    "LOG_LEVEL": "log_level",
    "OMNIROUTE_ALLOW_OPEN_BIND": "allow_open_bind",
    "OMNIROUTE_ADMIN_TOKEN": "admin_token",
    "API_KEY_SECRET": "api_key_secret",
    "INITIAL_PASSWORD": "initial_password",
    "JWT_SECRET": "jwt_secret",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce_env(name: str, field: str, raw: str) -> Any:
    default = getattr(Settings(), field)
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"environment variable {name}={raw!r} is not a boolean (use true or false)")
    if isinstance(default, int) and field != "encryption_key":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"environment variable {name}={raw!r} is not an integer") from None
    return raw


def build_settings(
    *,
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    server_section: Mapping[str, Any] | None = None,
    sections: Mapping[str, Any] | None = None,
) -> Settings:
    """Merges the sources in precedence order and validates the result.

    `sections` carries the config file's `[routing]`, `[limits]` and `[breakers]` tables.
    """
    values: dict[str, Any] = dict(sections or {})
    for key, value in (server_section or {}).items():
        values[key] = value
    for env_name, field in ENV_KEYS.items():
        if env_name not in environ:
            continue
        if env_name == "HOSTNAME" and environ[env_name] == socket.gethostname():
            # Shells and container runtimes export the machine's own name as HOSTNAME; only an
            # explicitly chosen bind address (an IP, localhost, ...) counts.
            continue
        values[field] = _coerce_env(env_name, field, environ[env_name])
    for key, value in flags.items():
        if value is not None:
            values[key] = value
    try:
        settings = msgspec.convert(values, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid setting: {exc}") from None
    return validate(settings)


def validate(settings: Settings) -> Settings:
    if not 0 < settings.port < 65536:
        raise ConfigError(f"port {settings.port} is out of range (1-65535)")
    if settings.workers < 1:
        raise ConfigError("workers must be at least 1")
    if settings.log_level.lower() not in LOG_LEVELS:
        raise ConfigError(f"log level {settings.log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    for name in ("connect_timeout", "first_byte_timeout", "stream_idle_timeout", "request_timeout"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{name} must be positive")
    if settings.shutdown_timeout < 0:
        raise ConfigError("shutdown_timeout must not be negative")
    if settings.stream_keepalive <= 0 or settings.responses_ttl <= 0 or settings.responses_max < 1:
        raise ConfigError("stream_keepalive, responses_ttl and responses_max must be positive")
    routing = settings.routing
    if routing.sticky_limit < 1 or routing.max_retries < 0 or routing.retry_delay < 0:
        raise ConfigError("routing: sticky_limit must be >= 1, max_retries and retry_delay >= 0")
    if routing.concurrency_per_model < 1 or routing.queue_timeout < 0 or not 1 <= routing.max_depth <= 3:
        raise ConfigError("routing: concurrency_per_model >= 1, queue_timeout >= 0, max_depth 1-3")
    limits = settings.limits
    if min(limits.rpm, limits.min_gap_ms, limits.max_concurrent) < 0 or limits.queue_timeout < 0:
        raise ConfigError("limits: values must not be negative")
    if settings.breakers.failure_threshold < 1 or settings.breakers.reset_timeout <= 0:
        raise ConfigError("breakers: failure_threshold >= 1 and reset_timeout > 0")
    if settings.max_body_bytes < 1024:
        raise ConfigError("max_body_bytes must be at least 1024")
    if settings.logging.retention_days < 0 or settings.logging.capture_max_bytes < 256:
        raise ConfigError("logging: retention_days must be >= 0 and capture_max_bytes >= 256")
    if settings.metrics.token is not None and not settings.metrics.token.strip():
        raise ConfigError("metrics: token must not be empty (leave it out for loopback-only access)")
    return msgspec.structs.replace(settings, log_level=settings.log_level.lower())


def settings_from_worker_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings handed to a Granian worker by the CLI."""
    env = os.environ if environ is None else environ
    raw = env.get(SETTINGS_ENV)
    if raw is None:
        return build_settings(flags={}, environ=env)
    return Settings.from_json(raw)
