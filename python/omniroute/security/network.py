"""Network guards applied before any route runs (settings `[network]`).

* **IP lists**: `ip_allow` / `ip_deny` are CIDRs (IPv4 and IPv6; a bare address is a /32 or
  /128). A denied address is refused even when it is also allowed; when `ip_allow` is not empty
  only the addresses it covers get in. IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`) are matched as
  IPv4. Refusals are 403 `ip_denied`.
* **Client address**: the peer address Granian reports (`"ip:port"` / `"[v6]:port"`), or, with
  `trust_forwarded_for`, the last address of `X-Forwarded-For` (only behind a proxy that sets
  that header itself; an unparseable value falls back to the peer address).
* **Per-IP rate limit**: `per_ip_rpm` admissions per sliding 60-second window and client address,
  one `omniroute._core.Limiter` each, kept in an LRU map of at most `max_tracked_ips` entries (an
  evicted address starts over). Refusals are 429 `rate_limited` with `retry-after` (seconds).
  Health probes (`/health/*`), Prometheus scrapes (`/metrics`) and CORS preflights are not counted. Limits are per worker process.
* **Body limits**: `route_body_limits` maps path prefixes to byte limits; the longest matching
  prefix wins, other paths use `max_body_bytes` (`body_limit(path)`).
* **CORS**: `cors_origins` lists exact origins (`scheme://host[:port]`) or `"*"`. Allowed origins
  get `Access-Control-Allow-Origin` on every answer; preflights (`OPTIONS` with `Origin` and
  `Access-Control-Request-Method`) from them are answered 204 with the allowed methods, headers
  and max age. Other origins get no CORS headers (and their preflights a 403).

Every setting is validated when the guard is built (`validate_network_settings`, also run by the
CLI before it starts workers): a bad CIDR, origin or limit is a ConfigError naming it.
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

from omniroute import _core
from omniroute.errors import ConfigError
from omniroute.http.request import Request
from omniroute.settings import NetworkSettings, Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Client addresses whose per-IP limiter is kept at once (least recently seen are dropped).
MAX_TRACKED_IPS = 16_384
#: Seconds a browser may cache a preflight answer.
CORS_MAX_AGE = 600
CORS_ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
#: Request headers every allowed origin may send.
CORS_ALLOW_HEADERS: tuple[str, ...] = (
    "authorization",
    "content-type",
    "x-api-key",
    "x-goog-api-key",
    "anthropic-version",
    "anthropic-beta",
    "x-request-id",
)
#: Further request headers allowed when a preflight asks for them: what the official browser
#: SDKs add (`x-stainless-*` telemetry, `openai-organization`, `anthropic-dangerous-...`).
CORS_ALLOW_HEADER_PREFIXES: tuple[str, ...] = ("x-stainless-", "openai-", "anthropic-")
#: Response headers browsers may read.
CORS_EXPOSE_HEADERS = "x-request-id, retry-after, x-omniroute-token-estimate"
#: Paths never rate-limited per IP (load-balancer probes).
UNLIMITED_PREFIXES: tuple[str, ...] = ("/health/", "/metrics")
_HEADER_NAME = re.compile(r"[a-z0-9-]{1,64}")


class Refusal(NamedTuple):
    """Why a request is refused before any route runs."""

    status: int
    message: str
    code: str
    headers: tuple[tuple[str, str], ...] = ()


def dialect_for_path(path: str) -> str:
    """The error format of the client a path belongs to (before any route ran)."""
    if path.startswith("/v1beta"):
        return "gemini"
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1/responses"):
        return "responses"
    return "openai"


def is_models_path(path: str) -> bool:
    """`/v1/models` and `/v1/models/{id}`: paths the OpenAI and the Anthropic SDK both call."""
    return path == "/v1/models" or path.startswith("/v1/models/")


def client_dialect(req: Request, path: str) -> str:
    """`dialect_for_path`, except that on the model paths a client sending `anthropic-version`
    (the Anthropic SDK always does) is answered in Anthropic's format."""
    if is_models_path(path) and req.header("anthropic-version"):
        return "anthropic"
    return dialect_for_path(path)


def parse_address(text: str) -> IPAddress | None:
    """The IP of `"ip"`, `"ip:port"` or `"[v6]:port"` (IPv4-mapped IPv6 as IPv4); None if not one."""
    value = text.strip().strip('"')
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host = value[1:end]
    elif value.count(":") == 1:
        host = value.split(":", 1)[0]
    else:
        host = value
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_networks(values: Iterable[str], setting: str) -> tuple[IPNetwork, ...]:
    networks: list[IPNetwork] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ConfigError(f"network.{setting}: {value!r} is not an IP address or CIDR") from None
    return tuple(networks)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value: str) -> str | None:
    """`scheme://host[:port]` lower-cased, or None when `value` is not a bare origin."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port == _DEFAULT_PORTS[scheme]:
        port = None  # browsers send origins without the default port
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def validate_network_settings(network: NetworkSettings) -> None:
    """Raises ConfigError naming the first invalid `[network]` value."""
    parse_networks(network.ip_allow, "ip_allow")
    parse_networks(network.ip_deny, "ip_deny")
    if network.per_ip_rpm < 0:
        raise ConfigError("network.per_ip_rpm must not be negative")
    if network.per_ip_rpm > 2**32 - 1:
        raise ConfigError("network.per_ip_rpm is too large")
    for prefix, limit in network.route_body_limits.items():
        if not prefix.startswith("/"):
            raise ConfigError(
                f"network.route_body_limits: {prefix!r} is not a path prefix (start it with '/')"
            )
        if limit < 1:
            raise ConfigError(f"network.route_body_limits: the limit for {prefix!r} must be positive")
    for origin in network.cors_origins:
        if origin != "*" and normalise_origin(origin) is None:
            raise ConfigError(
                f"network.cors_origins: {origin!r} is not an origin (use scheme://host[:port] "
                'without a path or trailing slash, or "*")'
            )


class NetworkGuard:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_tracked_ips: int = MAX_TRACKED_IPS,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._max_tracked = max(1, max_tracked_ips)
        self._limiters: OrderedDict[str, _core.Limiter] = OrderedDict()
        self._rpm = 0
        self.network = settings.network
        self.reconfigure(settings.network)

    def reconfigure(self, network: NetworkSettings) -> None:
        """Applies new `[network]` settings (validated first; ConfigError leaves the old ones).
        Per-IP limiters are kept unless the rate changes."""
        validate_network_settings(network)
        self._allow = parse_networks(network.ip_allow, "ip_allow")
        self._deny = parse_networks(network.ip_deny, "ip_deny")
        self._trust_xff = network.trust_forwarded_for
        if network.per_ip_rpm != self._rpm:
            self._limiters.clear()
        self._rpm = network.per_ip_rpm
        # Longest prefix first, so the first match is the longest.
        self._body_limits = sorted(network.route_body_limits.items(), key=lambda item: -len(item[0]))
        self._any_origin = "*" in network.cors_origins
        self._origins = frozenset(
            origin for origin in (normalise_origin(o) for o in network.cors_origins if o != "*") if origin
        )
        self.network = network
        #: Whether `check` needs the client address at all (no lists, no per-IP limit: it does not).
        self._address_matters = bool(self._allow or self._deny or self._rpm)

    # client address -----------------------------------------------------------------------------
    def client_ip(self, req: Request) -> IPAddress | None:
        if self._trust_xff:
            forwarded = req.header("x-forwarded-for")
            if forwarded:
                # The rightmost entry is the one our (trusted) proxy appended; entries to its left
                # are whatever the client wrote and must not decide allow/deny or limits.
                address = parse_address(forwarded.rsplit(",", 1)[-1])
                if address is not None:
                    return address
        return parse_address(req.client_addr)

    def ip_allowed(self, address: IPAddress | None) -> bool:
        if address is not None and any(address in net for net in self._deny):
            return False
        if self._allow:
            return address is not None and any(address in net for net in self._allow)
        return True

    # checks -------------------------------------------------------------------------------------
    def check(self, req: Request) -> Refusal | None:
        """Why the request must be refused (403 address not allowed, 429 per-IP limit), else None."""
        if not self._address_matters:
            return None
        address = self.client_ip(req)
        if not self.ip_allowed(address):
            return Refusal(403, "Requests from your address are not allowed", "ip_denied")
        if self._rpm and not self._exempt(req):
            wait_ms = self._limiter(str(address) if address is not None else "unknown").try_acquire(
                self._now_ms()
            )
            if wait_ms:
                seconds = max(1, math.ceil(wait_ms / 1000))
                return Refusal(
                    429,
                    f"Too many requests from your address (limit {self._rpm} per minute); "
                    f"retry in {seconds} s",
                    "rate_limited",
                    (("retry-after", str(seconds)),),
                )
        return None

    def _exempt(self, req: Request) -> bool:
        return req.path.startswith(UNLIMITED_PREFIXES) or self.is_preflight(req)

    def _now_ms(self) -> int:
        return max(0, math.floor(self._clock() * 1000))

    def _limiter(self, key: str) -> _core.Limiter:
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = _core.Limiter(rpm=self._rpm)
            self._limiters[key] = limiter
            while len(self._limiters) > self._max_tracked:
                self._limiters.popitem(last=False)
        else:
            self._limiters.move_to_end(key)
        return limiter

    @property
    def tracked_ips(self) -> int:
        return len(self._limiters)

    def body_limit(self, path: str) -> int:
        """Largest body accepted on `path`: the longest matching `route_body_limits` prefix."""
        for prefix, limit in self._body_limits:
            if path.startswith(prefix):
                return limit
        return self.settings.max_body_bytes

    # CORS ---------------------------------------------------------------------------------------
    @property
    def cors_enabled(self) -> bool:
        return self._any_origin or bool(self._origins)

    def origin_allowed(self, origin: str | None) -> bool:
        if not origin or not self.cors_enabled:
            return False
        if self._any_origin:
            return True
        return normalise_origin(origin) in self._origins

    def _allow_origin(self, origin: str) -> list[tuple[str, str]]:
        if self._any_origin:
            return [("access-control-allow-origin", "*")]
        return [("access-control-allow-origin", origin), ("vary", "Origin")]

    def cors_headers(self, req: Request) -> list[tuple[str, str]]:
        """Headers for any answer to `req`: CORS ones when its Origin is allowed, else none."""
        origin = req.header("origin")
        if origin is None or not self.origin_allowed(origin):
            return []
        return [*self._allow_origin(origin), ("access-control-expose-headers", CORS_EXPOSE_HEADERS)]

    @staticmethod
    def is_preflight(req: Request) -> bool:
        return (
            req.method == "OPTIONS"
            and req.header("origin") is not None
            and req.header("access-control-request-method") is not None
        )

    def preflight(self, req: Request) -> tuple[int, list[tuple[str, str]]]:
        """Status and headers answering a CORS preflight: 204 with the CORS headers, or 403."""
        origin = req.header("origin") or ""
        if not self.origin_allowed(origin):
            return 403, []
        allowed = list(CORS_ALLOW_HEADERS)
        for name in (req.header("access-control-request-headers") or "").split(","):
            name = name.strip().lower()
            if (
                _HEADER_NAME.fullmatch(name)
                and name not in allowed
                and name.startswith(CORS_ALLOW_HEADER_PREFIXES)
            ):
                allowed.append(name)
        headers = [
            *self._allow_origin(origin),
            ("access-control-allow-methods", CORS_ALLOW_METHODS),
            ("access-control-allow-headers", ", ".join(allowed)),
            ("access-control-max-age", str(CORS_MAX_AGE)),
        ]
        if not self._any_origin:
            headers = [h for h in headers if h[0] != "vary"]
        headers.append(("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"))
        return 204, headers
