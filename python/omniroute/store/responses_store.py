"""Stored Responses for `previous_response_id` and `GET /v1/responses/{id}`.

A response is kept with the input that produced it (already expanded with its own
predecessors), so a follow-up needs one lookup. Recent entries stay in a per-process LRU;
every entry goes to SQLite from one background thread (bounded by `ttl` and `max_entries`,
expired rows pruned as it writes). A lookup that misses both waits briefly for writes still
in flight, so a follow-up sent right after an answer finds it.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import apsw
import msgspec

from omniroute.store.db import connect


class StoredResponse(msgspec.Struct, frozen=True):
    id: str
    created_at: float
    input: list[object]
    response: dict[str, object]


class ResponsesStore:
    def __init__(self, db_path: Path, *, ttl: float, max_entries: int, memory_entries: int = 512) -> None:
        self._db_path = db_path
        self._ttl = ttl
        self._max = max_entries
        self._memory: collections.OrderedDict[str, tuple[float, StoredResponse]] = collections.OrderedDict()
        self._memory_entries = memory_entries
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="omniroute-responses")
        self._conn: apsw.Connection | None = None
        self._lock = threading.Lock()
        self._in_flight = 0
        self._writes = 0

    def _connection(self) -> apsw.Connection:
        if self._conn is None:
            self._conn = connect(self._db_path)
        return self._conn

    def put(self, entry: StoredResponse) -> None:
        expires = time.time() + self._ttl
        self._memory[entry.id] = (expires, entry)
        self._memory.move_to_end(entry.id)
        while len(self._memory) > self._memory_entries:
            self._memory.popitem(last=False)
        with self._lock:
            self._in_flight += 1
        self._executor.submit(self._write, entry, expires)

    def _write(self, entry: StoredResponse, expires: float) -> None:
        try:
            with self._lock:
                conn = self._connection()
                with conn:
                    conn.execute(
                        "INSERT OR REPLACE INTO stored_responses (id, created_at, expires_at, input, response) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (
                            entry.id,
                            entry.created_at,
                            expires,
                            msgspec.json.encode(entry.input).decode(),
                            msgspec.json.encode(entry.response).decode(),
                        ),
                    )
                    self._writes += 1
                    if self._writes % 100 == 1:
                        self._prune(conn)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _prune(self, conn: apsw.Connection) -> None:
        conn.execute("DELETE FROM stored_responses WHERE expires_at < ?", (time.time(),))
        conn.execute(
            "DELETE FROM stored_responses WHERE id IN (SELECT id FROM stored_responses "
            "ORDER BY created_at DESC LIMIT -1 OFFSET ?)",
            (self._max,),
        )

    def _read(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            row = (
                self._connection()
                .execute(
                    "SELECT id, created_at, input, response FROM stored_responses WHERE id = ? AND expires_at >= ?",
                    (response_id, time.time()),
                )
                .fetchone()
            )
        if row is None:
            return None
        return StoredResponse(
            id=str(row[0]),
            created_at=float(row[1]),
            input=msgspec.json.decode(str(row[2])),
            response=msgspec.json.decode(str(row[3])),
        )

    async def get(self, response_id: str) -> StoredResponse | None:
        cached = self._memory.get(response_id)
        if cached is not None:
            expires, entry = cached
            return entry if expires >= time.time() else None
        loop = asyncio.get_running_loop()
        for _ in range(10):
            found = await loop.run_in_executor(self._executor, self._read, response_id)
            if found is not None or self._in_flight == 0:
                return found
            await asyncio.sleep(0.05)
        return None

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
