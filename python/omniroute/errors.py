"""The one exception tree of OmniRoute, and the table that maps it to HTTP statuses.

The Rust core raises the base classes (`OmnirouteError`, `InvalidRequestError`, ...); Python
adds the gateway's own failures below the same root, so callers catch one family.
"""

from __future__ import annotations

from collections.abc import Mapping

from omniroute._core import InvalidRequestError, OmnirouteError, UnsupportedError, UpstreamProtocolError

__all__ = [
    "ConfigError",
    "GatewayError",
    "InvalidRequestError",
    "OmnirouteError",
    "UnsupportedError",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamTimeoutError",
    "http_status_for",
]


class ConfigError(OmnirouteError):
    """The configuration (file, environment or flags) is invalid; start-up stops."""


class GatewayError(OmnirouteError):
    """A failure with a definite HTTP status, rendered in the client's error format."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        error_type: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.error_type = error_type
        self.param = param
        self.headers = dict(headers or {})


class UpstreamError(OmnirouteError):
    """The upstream could not be reached or did not answer in time."""


class UpstreamConnectError(UpstreamError):
    """Connecting to the upstream failed."""


class UpstreamTimeoutError(UpstreamError):
    """The upstream did not answer within a configured timeout."""


_STATUS_BY_CLASS: tuple[tuple[type[BaseException], int], ...] = (
    (InvalidRequestError, 400),
    (UnsupportedError, 501),
    (UpstreamProtocolError, 502),
    (UpstreamTimeoutError, 504),
    (UpstreamConnectError, 502),
    (UpstreamError, 502),
)


def http_status_for(exc: BaseException) -> int:
    """HTTP status for an exception; the one place this mapping lives."""
    if isinstance(exc, GatewayError):
        return exc.status
    for cls, status in _STATUS_BY_CLASS:
        if isinstance(exc, cls):
            return status
    return 500
