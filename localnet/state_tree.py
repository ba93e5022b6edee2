"""The certified state tree read_state serves: time, request status, canister information (with the
canister's certified data) and the subnet's keys, materialised only for the paths a request asks for."""

from __future__ import annotations

from collections.abc import Sequence

import leb128

from ic_protocol.tagged_cbor import dumps_tagged
from localnet.http_error import HttpError
from localnet.management import SYSTEM_METHODS
from localnet.outcome import Reject, Reply
from localnet.request_store import RequestRecord, RequestStore
from localnet.subnet_keys import SubnetKeys

INVALID_PATH = "Invalid path requested."


def nat(value: int) -> bytes:
    """A natural number as a state-tree leaf (unsigned LEB128)."""
    return bytes(leb128.u.encode(value))


def request_status_subtree(record: RequestRecord) -> dict[bytes, bytes]:
    """The `/request_status/<id>` subtree for one call."""
    subtree = {b"status": record.status.encode()}
    outcome = record.outcome
    if isinstance(outcome, Reply):
        subtree[b"reply"] = outcome.arg
    elif isinstance(outcome, Reject):
        subtree[b"reject_code"] = nat(outcome.code)
        subtree[b"reject_message"] = outcome.message.encode()
        subtree[b"error_code"] = outcome.error_code.encode()
    return subtree


def _select(subtree: dict | bytes, path: Sequence[bytes]) -> dict | bytes | None:
    """The part of `subtree` along `path` (everything below its end), or None if the path is absent."""
    if not path:
        return subtree
    if not isinstance(subtree, dict) or path[0] not in subtree:
        return None
    below = _select(subtree[path[0]], path[1:])
    return None if below is None else {path[0]: below}


def _merge(into: dict, other: dict) -> None:
    for label, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(label), dict):
            _merge(into[label], value)
        else:
            into[label] = value


class StateTree:
    """Builds the labeled map for a read_state request from the replica, the keys and the call store."""

    def __init__(self, replica, keys: SubnetKeys, store: RequestStore):
        self.replica = replica
        self.keys = keys
        self.store = store

    def canister_ranges(self) -> list[list[bytes]]:
        """Every hosted canister and system canister (cycles ledger, cycles minting) as its own closed
        range, sorted as the IC orders principals."""
        hosted = set(self.replica.canisters().values()) | {c for c in SYSTEM_METHODS if c}
        return [[cid, cid] for cid in sorted(hosted)]

    def subnet(self) -> dict:
        """The `/subnet` subtree: this subnet's public key, canister ranges and its node's key."""
        keys = self.keys
        return {
            keys.subnet_id: {
                b"public_key": keys.root_key_der,
                b"canister_ranges": dumps_tagged(self.canister_ranges()),
                b"node": {keys.node_id: {b"public_key": keys.node_key_der}},
            }
        }

    def _canister(self, path: Sequence[bytes], effective_id: bytes | None) -> dict:
        if len(path) < 2:
            raise HttpError(400, "canister paths must name a canister id")
        canister_id = path[1]
        if canister_id != effective_id:
            raise HttpError(400, "canister paths may only be read at that canister's own read_state endpoint")
        info: dict = {}
        if hasattr(self.replica, "certified_data") and canister_id in self.replica.canisters().values():
            info[b"certified_data"] = self.replica.certified_data(canister_id)
        module_hash = self.replica.module_hash(canister_id)
        if module_hash is not None:
            info[b"module_hash"] = module_hash
            info[b"controllers"] = dumps_tagged(list(self.replica.controllers(canister_id)))
        names = [path[3]] if len(path) > 3 and path[2] == b"metadata" else [b"candid:service"]
        metadata = {}
        for name in names:
            try:
                value = self.replica.metadata(canister_id, name.decode())
            except UnicodeDecodeError as exc:
                raise HttpError(400, "metadata names must be UTF-8") from exc
            if value is not None:
                metadata[name] = value
        if metadata:
            info[b"metadata"] = metadata
        return {canister_id: info}

    def _request_status(self, path: Sequence[bytes], sender: bytes, effective_id: bytes | None) -> dict:
        if len(path) < 2:
            raise HttpError(400, "request_status paths must name a request id")
        record = self.store.get(path[1])
        if record is None:
            return {}
        if record.sender != sender or record.effective_canister_id != effective_id:
            raise HttpError(403, "the request status may only be read by the request's sender")
        return {path[1]: request_status_subtree(record)}

    def labeled_map(
        self, paths: Sequence[Sequence[bytes]], sender: bytes, effective_id: bytes | None, now_ns: int
    ) -> dict:
        """The state tree restricted to `paths` (and `/time`, always). `effective_id` is None at the
        subnet endpoint, where only `/time` and `/subnet` paths may be read."""
        tree: dict = {b"time": nat(now_ns)}
        request_ids = {bytes(p[1]) for p in paths if len(p) > 1 and p[0] == b"request_status"}
        if len(request_ids) > 1:
            raise HttpError(400, "all request_status paths must refer to the same request id")
        for path in paths:
            if not path:
                raise HttpError(400, INVALID_PATH)
            top = path[0]
            if top == b"time":
                continue
            if top == b"subnet":
                full = self.subnet()
            elif effective_id is None:
                raise HttpError(400, "a subnet's read_state endpoint serves only /time and /subnet")
            elif top == b"canister":
                full = self._canister(path, effective_id)
            elif top == b"request_status":
                full = self._request_status(path, sender, effective_id)
            else:
                raise HttpError(404, INVALID_PATH)
            selected = _select(full, path[1:])
            if selected is not None:
                _merge(tree, {top: selected})
        return tree
