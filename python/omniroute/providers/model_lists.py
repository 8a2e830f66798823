"""Live model lists from upstreams without a configured list (control plane, via httpx).

Cached per account for five minutes; a failing upstream yields an empty list (and is asked
again after the cache expires) rather than failing `/v1/models`.
"""

from __future__ import annotations

import logging
import time

from omniroute.providers.executor import auth_headers, models_url
from omniroute.routing.catalog import Account

log = logging.getLogger("omniroute.models")
TTL_SECONDS = 300.0


class ModelLister:
    def __init__(self, *, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}

    async def list(self, account: Account) -> tuple[str, ...]:
        key = f"{account.provider.id}|{account.base_url}"
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        # Imported on first use: httpx costs a worker ~7 MiB, and most never list models live.
        import httpx

        models: tuple[str, ...] = ()
        try:
            async with httpx.AsyncClient(timeout=self._timeout, trust_env=False) as client:
                resp = await client.get(models_url(account), headers=auth_headers(account))
            if resp.status_code == 200:
                payload = resp.json()
                items: list[object] = []
                if isinstance(payload, dict):
                    found = payload.get("data") or payload.get("models")
                    items = found if isinstance(found, list) else []
                models = tuple(
                    str(item.get("id") or item.get("name")) for item in items if isinstance(item, dict)
                )
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("model list of %s unavailable: %s", account.provider.id, exc)
        self._cache[key] = (time.monotonic() + TTL_SECONDS, models)
        return models
