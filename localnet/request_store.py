"""The status of update calls by request id: a repeated request id is never executed twice, and a
status is kept until the request's ingress expiry has passed. Finished calls are also written to a
SQLite file in the state directory, so a client retrying after a restart is not executed twice."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path

from localnet.ingress_expiry import PERMITTED_DRIFT_NS
from localnet.outcome import Outcome, Reject, Reply

_MAX_SQLITE_INTEGER = 2**63 - 1
_SCHEMA = """CREATE TABLE IF NOT EXISTS requests (
    request_id BLOB PRIMARY KEY, sender BLOB NOT NULL, effective_canister_id BLOB NOT NULL,
    ingress_expiry INTEGER NOT NULL, reply BLOB, reject_code INTEGER, reject_message TEXT, error_code TEXT)"""


@dataclass
class RequestRecord:
    """One update call: who sent it, to which effective canister, and its outcome once executed."""

    sender: bytes
    effective_canister_id: bytes
    ingress_expiry: int
    outcome: Outcome | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def status(self) -> str:
        if self.outcome is None:
            return "processing"
        return "replied" if isinstance(self.outcome, Reply) else "rejected"


class RequestStore:
    """Thread-safe map from request id to RequestRecord, optionally persisted to `path`."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._records: dict[bytes, RequestRecord] = {}
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)

    def _load(self, request_id: bytes) -> RequestRecord | None:
        """A finished record written before a restart (caller holds the lock)."""
        if self._db is None:
            return None
        row = self._db.execute(
            "SELECT sender, effective_canister_id, ingress_expiry, reply, reject_code, reject_message,"
            " error_code FROM requests WHERE request_id = ?",
            (request_id,),
        ).fetchone()
        if row is None:
            return None
        sender, effective, expiry, reply, code, message, error_code = row
        outcome = Reply(reply) if reply is not None else Reject(code, message, error_code)
        record = RequestRecord(sender, effective, expiry, outcome)
        record.finished.set()
        self._records[request_id] = record
        return record

    def claim(self, request_id: bytes, record: RequestRecord) -> tuple[RequestRecord, bool]:
        """Register a new call; if the id is already known return its record and False (do not execute)."""
        with self._lock:
            existing = self._records.get(request_id) or self._load(request_id)
            if existing is not None:
                return existing, False
            self._records[request_id] = record
            return record, True

    def finish(self, request_id: bytes, outcome: Outcome) -> None:
        """Record the outcome of an executed call and wake anyone waiting for it."""
        with self._lock:
            record = self._records[request_id]
            record.outcome = outcome
            if self._db is not None:
                reply = outcome.arg if isinstance(outcome, Reply) else None
                reject = (
                    (None, None, None)
                    if reply is not None
                    else (outcome.code, outcome.message, outcome.error_code)
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        request_id,
                        record.sender,
                        record.effective_canister_id,
                        min(record.ingress_expiry, _MAX_SQLITE_INTEGER),
                        reply,
                        *reject,
                    ),
                )
        record.finished.set()

    def get(self, request_id: bytes) -> RequestRecord | None:
        with self._lock:
            return self._records.get(request_id) or self._load(request_id)

    def prune(self, now_ns: int) -> int:
        """Forget finished calls whose ingress expiry has passed (they can no longer be resubmitted)."""
        cutoff = now_ns - PERMITTED_DRIFT_NS
        with self._lock:
            expired = [
                rid
                for rid, record in self._records.items()
                if record.outcome is not None and record.ingress_expiry < cutoff
            ]
            for rid in expired:
                del self._records[rid]
            if self._db is not None:
                self._db.execute("DELETE FROM requests WHERE ingress_expiry < ?", (cutoff,))
        return len(expired)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)
