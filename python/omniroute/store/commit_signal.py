"""A cross-process commit counter in shared memory, beside the database file.

Every read-write connection `db.connect` opens moves it after each of its commits (SQLite's WAL
hook, which runs once the commit is visible to other connections). A process that caches what it
read compares the counter, a plain memory read, and asks SQLite (`PRAGMA data_version`, a
statement that releases the GIL and often hands it to another thread) only when it moved.

Only OmniRoute's own connections move it: a change made with another tool (the sqlite3 shell)
is seen at the next commit of any worker, or by readers that also look at the database every
`BACKSTOP` seconds whatever the counter says.

The counter holds a random 64-bit value rewritten on every commit, so two processes committing
at once can never write back a value a reader has already seen.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from pathlib import Path

import apsw

#: Suffix of the counter file (`omniroute.sqlite-commits`), next to SQLite's `-wal` and `-shm`.
SUFFIX = "-commits"
#: Seconds after which readers look at the database even though the counter did not move.
BACKSTOP = 1.0
#: Pages after which a commit checkpoints the WAL (SQLite's own automatic checkpoint, which a
#: WAL hook replaces, uses the same default).
AUTOCHECKPOINT_PAGES = 1000
_SIZE = 8


class CommitSignal:
    """The counter of one database file, mapped into this process."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)
            self._map = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)

    def read(self) -> int:
        return int.from_bytes(self._map[:_SIZE], "little")

    def bump(self) -> None:
        self._map[:_SIZE] = os.urandom(_SIZE)


_SIGNALS: dict[str, CommitSignal] = {}


def commit_signal(db_path: Path) -> CommitSignal:
    """The counter of the database at `db_path` (one mapping per process and file)."""
    key = str(db_path)
    signal = _SIGNALS.get(key)
    if signal is None:
        signal = _SIGNALS[key] = CommitSignal(Path(key + SUFFIX))
    return signal


def signal_commits(conn: apsw.Connection, db_path: Path) -> None:
    """Makes every commit of `conn` (a WAL-mode, read-write connection) move the counter, and
    checkpoints the WAL as SQLite's automatic checkpoint would."""
    signal = commit_signal(db_path)

    def after_commit(connection: apsw.Connection, name: str, pages: int) -> int:
        signal.bump()
        if pages >= AUTOCHECKPOINT_PAGES:
            # Passive: never waits. Busy (another checkpoint running): the next commit tries again.
            with contextlib.suppress(apsw.BusyError):
                connection.wal_checkpoint(name)
        return int(apsw.SQLITE_OK)

    conn.set_wal_hook(after_commit)
