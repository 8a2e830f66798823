"""Per-worker services: database, vault, catalog snapshot, upstream client, usage writer.

Created by the app on worker start (`__rsgi_init__`) and closed on worker stop. The catalog
is rebuilt when SQLite's `data_version` shows another connection committed a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import apsw

from omniroute.observability.metrics import Metrics
from omniroute.observability.request_log import RequestLog
from omniroute.observability.telemetry import Telemetry
from omniroute.providers.costs import Pricing
from omniroute.resilience.breakers import Breakers
from omniroute.resilience.cooldowns import Cooldowns
from omniroute.resilience.limits import OutboundLimits
from omniroute.routing.accounts import AccountSelector
from omniroute.routing.catalog import Catalog, build_catalog
from omniroute.routing.combo_metrics import ComboMetrics
from omniroute.routing.combos import ComboOrdering
from omniroute.routing.slots import ModelSlots
from omniroute.security.admin_auth import AdminAuth
from omniroute.security.auth import KeyAuth
from omniroute.security.key_policy import KeyPolicy
from omniroute.security.network import NetworkGuard
from omniroute.security.prompt_guard import PromptGuard
from omniroute.security.settings_store import SecurityOverrides
from omniroute.security.vault import Vault
from omniroute.settings import Settings
from omniroute.store.audit import AuditWriter
from omniroute.store.breaker_store import BreakerStore
from omniroute.store.db import DB_FILE, open_database
from omniroute.store.repositories import Repositories
from omniroute.store.responses_store import ResponsesStore
from omniroute.store.routing_repo import RoutingRepository
from omniroute.store.spend_ledger import SpendLedger
from omniroute.store.usage_repo import UsageRepository, purge_expired
from omniroute.store.usage_writer import UsageWriter
from omniroute.upstream.client import UpstreamClient

log = logging.getLogger("omniroute.runtime")

REFRESH_INTERVAL = 1.0
#: Seconds between applications of `[usage] retention_days` to the raw usage records.
RETENTION_INTERVAL = 3600.0


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        data = settings.data_path
        self.db: apsw.Connection = open_database(data)
        self.vault = Vault.from_settings(settings.encryption_key, data)
        self.repos = Repositories(self.db, self.vault)
        self.routing_repo = RoutingRepository(self.db)
        self.catalog: Catalog = self._load_catalog()
        # Inbound key check secret, and the per-request freshness check of the key table.
        self.key_auth = KeyAuth.from_settings(self.db, settings, self.reload_catalog)
        # Routing and resilience state of this process (behind small classes, so a shared
        # backend can replace them for multi-instance deployments).
        self.cooldowns = Cooldowns()
        self.selector = AccountSelector()
        self.combo_ordering = ComboOrdering()
        self.model_slots = ModelSlots()
        self.combo_metrics = ComboMetrics()
        self.breaker_store = BreakerStore(data / DB_FILE)
        self.breakers = Breakers(
            threshold=settings.breakers.failure_threshold,
            reset_timeout=settings.breakers.reset_timeout,
            persist=self._persist_breaker,
        )
        self.breakers.load(self.routing_repo.list_breakers(), now=time.monotonic(), wall_now=time.time())
        self.limits = OutboundLimits(settings.limits)
        # Inbound guards and accounting (security/, providers/costs.py).
        self.network = NetworkGuard(settings)
        self.prompt_guard = PromptGuard(settings)
        # Guard settings stored through /api/security replace the file's [network] / [guard].
        self.security_overrides = SecurityOverrides(self.db, self.network, self.prompt_guard, settings)
        self.security_overrides.refresh()
        # Spend per key (rollups + not yet committed), shared by the usage writer and budgets.
        self.usage_repo = UsageRepository(self.db)
        self.spend = SpendLedger(data / DB_FILE)
        self.key_policy = KeyPolicy(self.spend)
        self.pricing = Pricing(self.usage_repo.list_pricing())
        self._data_version = self._current_data_version()
        self._config_revision = self._current_config_revision()
        self.upstream = UpstreamClient(
            connect_timeout=settings.connect_timeout, idle_timeout=settings.stream_idle_timeout
        )
        self.usage = UsageWriter(data / DB_FILE, ledger=self.spend)
        # Admin login (sessions, throttle; bootstraps INITIAL_PASSWORD) and the audit log.
        self.audit = AuditWriter(data / DB_FILE)
        self.admin_auth = AdminAuth(settings, self.db, self.audit)
        # Request log (batched writes, retention, capture) and per-provider latency telemetry.
        self.request_log = RequestLog(settings, data / DB_FILE)
        self.telemetry = Telemetry()
        # Prometheus series of this worker (shared files when several workers run).
        self.metrics = Metrics(settings, self)
        self.responses = ResponsesStore(
            data / DB_FILE, ttl=settings.responses_ttl, max_entries=settings.responses_max
        )
        self._refresher: asyncio.Task[None] | None = None
        self._retention: asyncio.Task[None] | None = None

    def _load_catalog(self) -> Catalog:
        return build_catalog(
            self.repos.list_connections(),
            self.repos.list_nodes(),
            self.repos.list_api_keys(),
            combos=self.routing_repo.list_combos(),
            aliases=self.routing_repo.list_aliases(),
            wildcards=self.routing_repo.list_wildcards(),
        )

    def _persist_breaker(self, key: str, state: str, failures: int, opened_at: float | None) -> None:
        """Breakers run on the monotonic clock; storage keeps wall-clock time."""
        wall = None if opened_at is None else time.time() - (time.monotonic() - opened_at)
        self.breaker_store.save(key, state, failures, wall)

    def _current_data_version(self) -> int:
        row = self.db.execute("PRAGMA data_version").fetchone()
        return int(row[0]) if row else 0

    def reload_catalog(self) -> None:
        """After this process wrote routing data itself (`data_version` only shows other writers)."""
        self.catalog = self._load_catalog()

    def _current_config_revision(self) -> int:
        row = self.db.execute("SELECT revision FROM config_revision WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def refresh_if_changed(self) -> bool:
        version = self._current_data_version()
        if version == self._data_version:
            return False
        self._data_version = version
        # Every commit moves data_version, this worker's own usage and log writes included:
        # rebuild only when the configuration tables changed (their triggers bump the revision).
        revision = self._current_config_revision()
        if revision == self._config_revision:
            return False
        self._config_revision = revision
        self.catalog = self._load_catalog()
        # Price overrides another worker stored through /api/pricing.
        self.pricing.replace_overrides(self.usage_repo.list_pricing())
        self.security_overrides.refresh()
        return True

    def database_ok(self) -> bool:
        try:
            self.db.execute("SELECT 1").fetchone()
        except apsw.Error:
            return False
        return True

    def start(self) -> None:
        self.usage.start()
        self.request_log.start()
        self.metrics.start()
        self.audit.start()
        self._refresher = asyncio.ensure_future(self._refresh_loop())
        self._retention = asyncio.ensure_future(self._retention_loop())

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_INTERVAL)
            try:
                if self.refresh_if_changed():
                    log.info("configuration reloaded from the database")
            except Exception:
                log.exception("catalog refresh failed; keeping the previous one")

    async def _retention_loop(self) -> None:
        """Deletes raw usage records past `[usage] retention_days` at start, then hourly (rollups stay)."""
        while True:
            try:
                deleted = await asyncio.to_thread(
                    purge_expired, self.settings.data_path, self.settings.usage.retention_days
                )
                if deleted:
                    days = self.settings.usage.retention_days
                    log.info("deleted %d usage records older than %d days", deleted, days)
            except Exception:
                log.exception("usage retention failed; will retry")
            await asyncio.sleep(RETENTION_INTERVAL)

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        if self._retention is not None:
            self._retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retention
        await self.upstream.close()
        self.usage.close()
        await self.request_log.close()
        await self.metrics.close()
        self.spend.close()
        self.audit.close()
        self.responses.close()
        self.breaker_store.close()
        self.db.close()
