"""The replica's durable state in one SQLite database: canister registry and every canister's stable memory.

Each executed message is committed in one transaction (WAL journal, synchronous=NORMAL: a killed
process loses nothing committed; only a power loss may drop the last transactions).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS canisters (
    name TEXT PRIMARY KEY,
    id BLOB NOT NULL UNIQUE,
    entry TEXT NOT NULL,
    module_hash BLOB NOT NULL,
    controllers TEXT NOT NULL,
    init_arg BLOB NOT NULL,
    certified_data BLOB NOT NULL DEFAULT x''
);
CREATE TABLE IF NOT EXISTS stable (
    canister BLOB NOT NULL,
    memory INTEGER NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (canister, memory, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS canister_status (id BLOB PRIMARY KEY, status TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stable_maps (
    canister BLOB NOT NULL,
    memory INTEGER NOT NULL,
    max_key_size INTEGER NOT NULL,
    max_value_size INTEGER NOT NULL,
    PRIMARY KEY (canister, memory)
) WITHOUT ROWID;
"""

# dfx/PocketIC's local subnet canister range; the first id handed out is bkyz2-fmaaa-aaaaa-qaaaq-cai.
FIRST_CANISTER = 0x8000000000100001
RANGE_START = 0x8000000000100000
RANGE_END = 0x80000000001FFFFF

Writes = dict[tuple[int, bytes], "bytes | None"]


def canister_id_bytes(counter: int) -> bytes:
    """The principal of a canister id: 8-byte big-endian counter, then 0x01 0x01 (opaque id class)."""
    return counter.to_bytes(8, "big") + b"\x01\x01"


@dataclass
class CanisterRecord:
    name: str
    id: bytes
    entry: str
    module_hash: bytes
    controllers: list[bytes]
    init_arg: bytes
    certified_data: bytes = b""


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def read_stable_rows(path: Path, canister_id: bytes) -> list[tuple[int, bytes, bytes]]:
    """All stable memory rows of one canister (used by the canister process at start)."""
    conn = connect(path)
    try:
        return conn.execute(
            "SELECT memory, key, value FROM stable WHERE canister = ?", (canister_id,)
        ).fetchall()
    finally:
        conn.close()


class StateStore:
    """Registry and stable memory; every method is one transaction."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.conn = connect(path)
        self.conn.executescript(SCHEMA)

    def canisters(self) -> list[CanisterRecord]:
        with self.lock:
            rows = self.conn.execute(
                "SELECT name, id, entry, module_hash, controllers, init_arg, certified_data FROM canisters "
                "ORDER BY id"
            ).fetchall()
        return [
            CanisterRecord(r[0], r[1], r[2], r[3], [bytes.fromhex(c) for c in json.loads(r[4])], r[5], r[6])
            for r in rows
        ]

    def next_id(self) -> bytes:
        """The id the next installed canister gets; it is taken when its install is committed."""
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'next_canister'").fetchone()
        counter = RANGE_START + row[0] if row else FIRST_CANISTER  # stored as offset: fits INTEGER
        if counter > RANGE_END:
            raise RuntimeError("the local subnet's canister id range is exhausted")
        return canister_id_bytes(counter)

    def commit(
        self,
        canister_id: bytes,
        writes: Writes,
        certified_data: bytes | None = None,
        record: CanisterRecord | None = None,
        time_ns: int = 0,
        map_sizes: dict[int, tuple[int, int]] | None = None,
        reset: bool = False,
    ) -> None:
        """Apply one message's effects atomically: stable-memory writes, certified data, the replica's
        clock, and for install/upgrade the registry row and the sizes of newly declared stable maps
        (the first declaration of a memory id is kept, as the IC keeps it in the map's header).
        `reset` first empties the canister's stable memory (a reinstall or an uninstall)."""
        with self.lock:
            c = self.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                if reset:
                    c.execute("DELETE FROM stable WHERE canister = ?", (canister_id,))
                    c.execute("DELETE FROM stable_maps WHERE canister = ?", (canister_id,))
                    c.execute("UPDATE canisters SET certified_data = x'' WHERE id = ?", (canister_id,))
                if time_ns:
                    c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_time', ?)", (time_ns,))
                if map_sizes:
                    c.executemany(
                        "INSERT OR IGNORE INTO stable_maps (canister, memory, max_key_size, max_value_size) "
                        "VALUES (?, ?, ?, ?)",
                        [(canister_id, m, k, v) for m, (k, v) in map_sizes.items()],
                    )
                if record is not None:
                    taken = int.from_bytes(record.id[:8], "big") + 1 - RANGE_START
                    c.execute(
                        "INSERT INTO meta (key, value) VALUES ('next_canister', ?) "
                        "ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
                        (taken,),
                    )
                    c.execute(
                        "INSERT INTO canisters (name, id, entry, module_hash, controllers, init_arg) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET entry = excluded.entry, "
                        "module_hash = excluded.module_hash, controllers = excluded.controllers, "
                        "init_arg = excluded.init_arg",
                        (
                            record.name,
                            record.id,
                            record.entry,
                            record.module_hash,
                            json.dumps([x.hex() for x in record.controllers]),
                            record.init_arg,
                        ),
                    )
                puts = [(canister_id, m, k, v) for (m, k), v in writes.items() if v is not None]
                dels = [(canister_id, m, k) for (m, k), v in writes.items() if v is None]
                if puts:
                    c.executemany(
                        "INSERT OR REPLACE INTO stable (canister, memory, key, value) VALUES (?, ?, ?, ?)",
                        puts,
                    )
                if dels:
                    c.executemany("DELETE FROM stable WHERE canister = ? AND memory = ? AND key = ?", dels)
                if certified_data is not None:
                    c.execute(
                        "UPDATE canisters SET certified_data = ? WHERE id = ?", (certified_data, canister_id)
                    )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def statuses(self) -> dict[bytes, str]:
        """Canisters not running ("stopped"); the others run."""
        with self.lock:
            rows = self.conn.execute("SELECT id, status FROM canister_status").fetchall()
        return {r[0]: r[1] for r in rows}

    def set_status(self, canister_id: bytes, status: str) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO canister_status (id, status) VALUES (?, ?)", (canister_id, status)
            )

    def delete_canister(self, canister_id: bytes) -> None:
        """Forget a deleted canister: registry row, stable memory, map sizes, status (one transaction)."""
        with self.lock:
            c = self.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                for table, column in (
                    ("canisters", "id"),
                    ("stable", "canister"),
                    ("stable_maps", "canister"),
                    ("canister_status", "id"),
                ):
                    c.execute(f"DELETE FROM {table} WHERE {column} = ?", (canister_id,))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def map_sizes(self, canister_id: bytes) -> dict[int, tuple[int, int]]:
        """The max key and value sizes each stable map had when first deployed."""
        with self.lock:
            rows = self.conn.execute(
                "SELECT memory, max_key_size, max_value_size FROM stable_maps WHERE canister = ?",
                (canister_id,),
            ).fetchall()
        return {m: (k, v) for m, k, v in rows}

    def save_time(self, time_ns: int) -> None:
        with self.lock:
            self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_time', ?)", (time_ns,))

    def last_time(self) -> int:
        with self.lock:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'last_time'").fetchone()
        return row[0] if row else 0

    def stable_size(self, canister_id: bytes) -> int:
        with self.lock:
            row = self.conn.execute(
                "SELECT COALESCE(SUM(LENGTH(key) + LENGTH(value)), 0) FROM stable WHERE canister = ?",
                (canister_id,),
            ).fetchone()
        return row[0]

    def close(self) -> None:
        with self.lock:
            self.conn.close()
