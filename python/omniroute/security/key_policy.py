"""Per-key admission: budgets (daily / weekly / monthly USD) and request, token and
concurrency limits. (Placeholder: admits everything until implemented.)"""

from __future__ import annotations

from omniroute import _core
from omniroute.store.records import ApiKeyRow


class Admission:
    """One admitted call; `release` is called exactly once when it ends."""

    def release(self, usage: _core.Usage | None, cost_usd: float | None) -> None:
        return None


class KeyPolicy:
    async def admit(self, key: ApiKeyRow | None, *, dialect: str, estimated_tokens: int) -> Admission:
        """Raises GatewayError (429 with retry-after) when the key is over a limit or budget."""
        return Admission()
