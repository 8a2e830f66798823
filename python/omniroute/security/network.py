"""Network guards applied before any route runs: IP allow/deny lists, per-IP rate limit,
per-route body limits and CORS. (Placeholder: allows everything until implemented.)"""

from __future__ import annotations

from omniroute.http.request import Request
from omniroute.settings import Settings


class NetworkGuard:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def check(self, req: Request) -> tuple[int, str] | None:
        """(status, message) when the request must be refused, else None."""
        return None

    def body_limit(self, path: str) -> int:
        return self.settings.max_body_bytes
