"""The status of update calls by request id: a repeated request id is never executed twice, and a
status is kept until the request's ingress expiry has passed."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from localnet.ingress_expiry import PERMITTED_DRIFT_NS
from localnet.outcome import Outcome, Reply


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
    """Thread-safe map from request id to RequestRecord."""

    def __init__(self) -> None:
        self._records: dict[bytes, RequestRecord] = {}
        self._lock = threading.Lock()

    def claim(self, request_id: bytes, record: RequestRecord) -> tuple[RequestRecord, bool]:
        """Register a new call; if the id is already known return its record and False (do not execute)."""
        with self._lock:
            existing = self._records.get(request_id)
            if existing is not None:
                return existing, False
            self._records[request_id] = record
            return record, True

    def finish(self, request_id: bytes, outcome: Outcome) -> None:
        """Record the outcome of an executed call and wake anyone waiting for it."""
        with self._lock:
            record = self._records[request_id]
            record.outcome = outcome
        record.finished.set()

    def get(self, request_id: bytes) -> RequestRecord | None:
        with self._lock:
            return self._records.get(request_id)

    def prune(self, now_ns: int) -> int:
        """Forget finished calls whose ingress expiry has passed (they can no longer be resubmitted)."""
        with self._lock:
            expired = [
                rid
                for rid, record in self._records.items()
                if record.outcome is not None and record.ingress_expiry + PERMITTED_DRIFT_NS < now_ns
            ]
            for rid in expired:
                del self._records[rid]
        return len(expired)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

