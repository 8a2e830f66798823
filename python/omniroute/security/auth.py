"""Inbound authentication of /v1 and /v1beta requests against the catalog's active keys.

`KeyAuth` (one per worker runtime) holds the check secret and keeps the key table fresh: before
a key is looked up it reads the database's commit counter (store/commit_signal.py, a memory
read) and, only when some connection committed since, SQLite's `PRAGMA data_version` and then
the `api_key_revision` counter that triggers bump on every change to `api_keys`. So a key
revoked or rotated by another worker or by the CLI is refused on the very next request, without
reloading the catalog for every usage write. (A change made outside OmniRoute, with the sqlite3
shell, is seen within `BACKSTOP` seconds.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import apsw

from omniroute.errors import GatewayError
from omniroute.http.request import Request
from omniroute.routing.catalog import Catalog
from omniroute.security.api_keys import api_key_secret, hash_key, key_from_headers, passes_check
from omniroute.settings import Settings
from omniroute.store.commit_signal import BACKSTOP, CommitSignal, commit_signal
from omniroute.store.db import DB_FILE
from omniroute.store.records import ApiKeyRow


class KeyAuth:
    def __init__(
        self,
        db: apsw.Connection,
        secret: bytes,
        reload: Callable[[], None],
        commits: CommitSignal | None = None,
    ) -> None:
        self.db = db
        self.secret = secret
        self._reload = reload
        #: The database's commit counter: SQLite is asked only when it moved (or after BACKSTOP).
        self._commits = commits
        self._seen_commits = commits.read() if commits is not None else 0
        self._look_by = time.monotonic() + BACKSTOP
        self._data_version = self._read_data_version()
        self._revision = self._read_revision()

    @classmethod
    def from_settings(cls, db: apsw.Connection, settings: Settings, reload: Callable[[], None]) -> KeyAuth:
        return cls(
            db,
            api_key_secret(settings.api_key_secret, settings.data_path),
            reload,
            commit_signal(settings.data_path / DB_FILE),
        )

    def _read_data_version(self) -> int:
        row = self.db.execute("PRAGMA data_version").fetchone()
        return int(row[0]) if row else 0

    def _read_revision(self) -> int:
        row = self.db.execute("SELECT revision FROM api_key_revision").fetchone()
        return int(row[0]) if row else 0

    def ensure_fresh(self) -> bool:
        """Reloads the catalog when another connection changed `api_keys`; True when it did."""
        commits = self._commits
        if commits is not None:
            # Read before SQLite is asked: a commit landing after the check moves it again.
            seen = commits.read()
            now = time.monotonic()
            if seen == self._seen_commits and now < self._look_by:
                return False
            self._seen_commits, self._look_by = seen, now + BACKSTOP
        version = self._read_data_version()
        if version == self._data_version:
            return False
        self._data_version = version
        revision = self._read_revision()
        if revision == self._revision:
            return False
        self._revision = revision
        self._reload()
        return True

    def passes_check(self, key: str) -> bool:
        return passes_check(key, self.secret)


class KeySource(Protocol):
    """What authentication reads from a worker's runtime."""

    @property
    def catalog(self) -> Catalog: ...

    @property
    def key_auth(self) -> KeyAuth: ...


#: Presented key -> its SHA-256 hex (the catalog's key), for the keys seen lately: the same few
#: keys arrive on every request. Bounded; emptied when full.
_HASHES: dict[str, str] = {}
_HASHES_MAX = 4096


def _hashed(presented: str) -> str:
    digest = _HASHES.get(presented)
    if digest is None:
        if len(_HASHES) >= _HASHES_MAX:
            _HASHES.clear()
        digest = _HASHES[presented] = hash_key(presented)
    return digest


def authenticate(req: Request, source: Catalog | KeySource, *, required: bool) -> ApiKeyRow | None:
    """The caller's key record; None when keys are not required and none (or an unknown one) was sent.

    Given the runtime, a key of the generated shape with a wrong check part is refused before any
    lookup, and keys changed by another process are reloaded first. Given a bare catalog, the
    key is looked up in it as it is."""
    presented = key_from_headers(req.header, req.query("key") if req.query_string else None)
    if presented is None:
        if required:
            raise GatewayError(
                401,
                "Missing API key. Send it as 'Authorization: Bearer <key>', 'x-api-key' or 'x-goog-api-key'",
                code="missing_api_key",
            )
        return None
    row: ApiKeyRow | None
    if isinstance(source, Catalog):
        row = source.keys.get(_hashed(presented))
    elif not source.key_auth.passes_check(presented):
        row = None
    else:
        source.key_auth.ensure_fresh()
        row = source.catalog.keys.get(_hashed(presented))
    if row is None and required:
        raise GatewayError(401, "Invalid API key", code="invalid_api_key")
    return row
