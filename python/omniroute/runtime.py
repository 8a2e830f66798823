"""Per-worker services: database, vault, catalog snapshot, upstream client, usage writer.

Created by the app on worker start (`__rsgi_init__`) and closed on worker stop. The catalog
is rebuilt when SQLite's `data_version` shows another connection committed a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import apsw

from omniroute.routing.catalog import Catalog, build_catalog
from omniroute.security.vault import Vault
from omniroute.settings import Settings
from omniroute.store.db import DB_FILE, open_database
from omniroute.store.repositories import Repositories
from omniroute.store.responses_store import ResponsesStore
from omniroute.store.usage_writer import UsageWriter
from omniroute.upstream.client import UpstreamClient

log = logging.getLogger("omniroute.runtime")

REFRESH_INTERVAL = 1.0


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        data = settings.data_path
        self.db: apsw.Connection = open_database(data)
        self.vault = Vault.from_settings(settings.encryption_key, data)
        self.repos = Repositories(self.db, self.vault)
        self.catalog: Catalog = self._load_catalog()
        self._data_version = self._current_data_version()
        self.upstream = UpstreamClient(
            connect_timeout=settings.connect_timeout, idle_timeout=settings.stream_idle_timeout
        )
        self.usage = UsageWriter(data / DB_FILE)
        self.responses = ResponsesStore(
            data / DB_FILE, ttl=settings.responses_ttl, max_entries=settings.responses_max
        )
        self._refresher: asyncio.Task[None] | None = None

    def _load_catalog(self) -> Catalog:
        return build_catalog(
            self.repos.list_connections(), self.repos.list_nodes(), self.repos.list_api_keys()
        )

    def _current_data_version(self) -> int:
        row = self.db.execute("PRAGMA data_version").fetchone()
        return int(row[0]) if row else 0

    def refresh_if_changed(self) -> bool:
        version = self._current_data_version()
        if version == self._data_version:
            return False
        self._data_version = version
        self.catalog = self._load_catalog()
        return True

    def database_ok(self) -> bool:
        try:
            self.db.execute("SELECT 1").fetchone()
        except apsw.Error:
            return False
        return True

    def start(self) -> None:
        self.usage.start()
        self._refresher = asyncio.ensure_future(self._refresh_loop())

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_INTERVAL)
            try:
                if self.refresh_if_changed():
                    log.info("configuration reloaded from the database")
            except Exception:
                log.exception("catalog refresh failed; keeping the previous one")

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        await self.upstream.close()
        self.usage.close()
        self.responses.close()
        self.db.close()
