"""The shared commit counter (store/commit_signal.py) that `db.connect` connections move."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import apsw

from omniroute.store.commit_signal import AUTOCHECKPOINT_PAGES, SUFFIX, CommitSignal, commit_signal
from omniroute.store.db import connect


def test_every_commit_moves_the_counter_and_a_rollback_does_not(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    conn = connect(db)
    signal = commit_signal(db)
    conn.execute("CREATE TABLE t (a)")
    seen = {signal.read()}
    for i in range(20):
        conn.execute("INSERT INTO t VALUES (?)", (i,))
        assert signal.read() not in seen  # a new value every time, never one seen before
        seen.add(signal.read())
    before = signal.read()
    conn.execute("BEGIN")
    conn.execute("INSERT INTO t VALUES (1)")
    assert signal.read() == before  # not yet committed
    conn.execute("ROLLBACK")
    assert signal.read() == before
    with conn:
        conn.execute("INSERT INTO t VALUES (1)")
        conn.execute("INSERT INTO t VALUES (2)")
    assert signal.read() != before
    assert oct((db.parent / (db.name + SUFFIX)).stat().st_mode & 0o777) == "0o600"


def test_the_counter_is_shared_with_other_processes(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    connect(db).execute("CREATE TABLE t (a)")
    signal = commit_signal(db)
    before = signal.read()
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_insert_one, args=(str(db),))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert signal.read() != before
    # A fresh mapping of the same file reads the same value.
    assert CommitSignal(Path(str(db) + SUFFIX)).read() == signal.read()


def _insert_one(db: str) -> None:
    connect(Path(db)).execute("INSERT INTO t VALUES (1)")


def test_the_wal_is_still_checkpointed(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    conn = connect(db)
    conn.execute("CREATE TABLE t (a)")
    for _ in range(3 * AUTOCHECKPOINT_PAGES):
        conn.execute("INSERT INTO t VALUES (?)", (b"x" * 4000,))
    wal = os.path.getsize(str(db) + "-wal")
    # Without checkpoints the WAL would hold every page written (about 12 MB here).
    assert wal < 2 * AUTOCHECKPOINT_PAGES * 4096 + 100_000


def test_read_only_and_memory_connections_have_no_counter(tmp_path: Path) -> None:
    db = tmp_path / "x.sqlite"
    connect(db).execute("CREATE TABLE t (a)")
    os.unlink(str(db) + SUFFIX)
    reader = connect(db, readonly=True)
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)
    assert not os.path.exists(str(db) + SUFFIX)
    memory = connect(Path(":memory:"))
    memory.execute("CREATE TABLE t (a)")
    assert not os.path.exists(":memory:" + SUFFIX)
    assert isinstance(memory, apsw.Connection)
