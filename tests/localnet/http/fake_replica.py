"""A small in-memory stand-in with the Replica's interface: one counter canister, enough to exercise
every HTTP endpoint and real clients without the Kybra host."""

from __future__ import annotations

import hashlib
import threading
import time

from ic.candid import Types, decode, encode

from localnet.outcome import Reject, Reply

COUNTER_DID = """service : {
  get : () -> (nat) query;
  whoami : () -> (principal) query;
  inc : () -> (nat);
  add : (nat) -> (nat);
  fail : () -> (nat);
}
"""
_KINDS = {"get": "query", "whoami": "query", "inc": "update", "add": "update", "fail": "update"}


class FakeReplica:
    """Hosts counters (one per deployed name) whose update count is observable by tests."""

    def __init__(self, state_dir=None):
        self._ids: dict[str, bytes] = {}
        self.counters: dict[bytes, int] = {}
        self.executions = 0
        self._lock = threading.Lock()
        self._last_time = 0

    def deploy(self, name, entry, init_arg=b"DIDL\x00\x00", controllers=None) -> bytes:
        with self._lock:
            if name not in self._ids:
                cid = (len(self._ids) + 1).to_bytes(8, "big") + b"\x01\x01"
                self._ids[name] = cid
                self.counters[cid] = 0
            return self._ids[name]

    def canisters(self) -> dict[str, bytes]:
        return dict(self._ids)

    def method_kind(self, canister_id, method):
        return _KINDS.get(method) if canister_id in self.counters else None

    def _run(self, canister_id, method, arg, sender):
        if method == "get":
            return Reply(encode([{"type": Types.Nat, "value": self.counters[canister_id]}]))
        if method == "whoami":
            return Reply(b"DIDL\x00\x01\x68\x01" + bytes([len(sender)]) + sender)
        if method == "fail":
            return Reject(5, "Canister called `ic0.trap` with message: 'deliberate failure'", "IC0503")
        try:
            amount = 1 if method == "inc" else decode(arg, Types.Nat)[0]["value"]
        except Exception as exc:
            return Reject(5, f"Canister trapped: cannot decode the argument: {exc}", "IC0503")
        with self._lock:
            self.executions += 1
            self.counters[canister_id] += amount
            return Reply(encode([{"type": Types.Nat, "value": self.counters[canister_id]}]))

    def query(self, canister_id, method, arg, sender):
        return self._run(canister_id, method, arg, sender)

    def update(self, canister_id, method, arg, sender):
        return self._run(canister_id, method, arg, sender)

    def metadata(self, canister_id, name):
        return COUNTER_DID.encode() if name == "candid:service" and canister_id in self.counters else None

    def module_hash(self, canister_id):
        return hashlib.sha256(b"fake counter").digest() if canister_id in self.counters else None

    def controllers(self, canister_id):
        return [b"\x04"]

    def time_ns(self) -> int:
        with self._lock:
            self._last_time = max(self._last_time + 1, time.time_ns())
            return self._last_time

    def close(self) -> None:
        pass
