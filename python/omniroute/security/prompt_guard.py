"""Prompt guard: injection and PII detectors with modes off / warn / block / redact.
(Placeholder: passes bodies through until implemented.)"""

from __future__ import annotations

from omniroute.settings import Settings


class PromptGuard:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def apply(self, body: bytes, dialect: str, *, request_id: str) -> bytes:
        """The body to forward (redacted when so configured); raises GatewayError to block."""
        return body
