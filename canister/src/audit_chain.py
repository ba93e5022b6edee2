"""The audit log as an ICRC-3 block log: each audit entry is a block chained to its parent by `phash`.

Block i is Map {btype, ts, phash (absent in the first block), tx: {op, caller, type, id, changes}} and
is hashed with the representation-independent hash. Appending hashes only the new entries and stores one
hash per block ("h<i>"), so a block's `phash` is one read and survives pruning of older entries. The
chain starts at `first`: the audit sequence number at which this canister began chaining (0 on a new
canister); "chain" holds "first,next,hash of block next-1" so the tip is one read.
"""

import hashlib

import rep_hash
from stored_values import field_values, field_values_hash

BLOCK_TYPE = "simpledb_audit"
BLOCK_TYPE_URL = "https://github.com/kybra-simple-db/kybra-simple-db/blob/main/docs/canister.md#audit-blocks"
CHAIN_KEY = "chain"


def _number(value) -> dict:
    """A Nat, or an Int for a negative number, or Text for anything else (never a trap on odd data)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"Nat": value} if value >= 0 else {"Int": value}
    return {"Text": str(value)}


def _number_hash(value) -> bytes:
    """rep_hash.value_hash(_number(value))."""
    if isinstance(value, int) and not isinstance(value, bool):
        return rep_hash.nat_hash(value) if value >= 0 else rep_hash.int_hash(value)
    return rep_hash.text_hash(str(value))


_K = rep_hash.key_hash
_CACHED = rep_hash.cached_key_hash
uleb128 = rep_hash.uleb128
_BTYPE_PAIR = _K("btype") + rep_hash.text_hash(BLOCK_TYPE)
_OP, _CALLER, _TYPE, _ID, _CHANGES = _K("op"), _K("caller"), _K("type"), _K("id"), _K("changes")
_TS, _TX, _PHASH = _K("ts"), _K("tx"), _K("phash")


def block_hash(entry: dict, phash) -> bytes:
    """rep_hash.value_hash(block_value(entry, phash)), computed without building the Value: every block
    appended is hashed here, so the keys' hashes are constants and the Map hashes are inlined (on Kybra's
    RustPython each call saved is some 20,000 instructions)."""
    sha256 = hashlib.sha256
    entity_id, time = entry["id"], entry["time"]
    operation, caller, type_name = entry["operation"], entry["caller"], entry["type_name"]
    tx = [
        _OP + (_CACHED(operation) or _K(operation)),  # the cached text hash: these few texts recur
        _CALLER + (_CACHED(caller) or _K(caller)),
        _TYPE + (_CACHED(type_name) or _K(type_name)),
        _ID + (sha256(uleb128(entity_id)).digest() if type(entity_id) is int and entity_id >= 0
               else _number_hash(entity_id)),
        _CHANGES + field_values_hash(entry["changes"], True),
    ]
    tx.sort()
    time_hash = sha256(uleb128(time)).digest() if type(time) is int and time >= 0 else _number_hash(time)
    pairs = [_BTYPE_PAIR, _TS + time_hash, _TX + sha256(b"".join(tx)).digest()]
    if phash is not None:
        pairs.append(_PHASH + sha256(phash).digest())
    pairs.sort()
    return sha256(b"".join(pairs)).digest()


def block_value(entry: dict, phash) -> dict:
    """The ICRC-3 block of an audit entry (seq, time, caller, operation, type_name, id, changes)."""
    tx = {
        "Map": [
            ("op", {"Text": entry["operation"]}),
            ("caller", {"Text": entry["caller"]}),
            ("type", {"Text": entry["type_name"]}),
            ("id", _number(entry["id"])),
            ("changes", field_values(entry["changes"], True)),
        ]
    }
    items = [("btype", {"Text": BLOCK_TYPE}), ("ts", _number(entry["time"]))]
    if phash is not None:
        items.append(("phash", {"Blob": phash}))
    items.append(("tx", tx))
    return {"Map": items}


class AuditChain:
    """Block hashes and the chain's extent, in the certification map."""

    def __init__(self, store):
        self.store = store

    def state(self):
        """(first, next, hash hex of block next-1), or None before the first append: one read."""
        raw = self.store.get(CHAIN_KEY)
        if raw is None:
            return None
        first, nxt, last = raw.split(",")
        return int(first), int(nxt), last

    def extent(self):
        """(first, next) block indexes, or None before the first append."""
        state = self.state()
        return None if state is None else (state[0], state[1])

    def block_hash(self, index: int):
        raw = self.store.get("h" + str(index))
        return None if raw is None else bytes.fromhex(raw)

    def parent_hash(self, index: int, first: int):
        return None if index <= first else self.block_hash(index - 1)

    def append(self, entries: list, start: int, state) -> tuple:
        """Chain `entries` (consecutive audit entries from the chain's next index) onto `state` (as
        `state()` read it); (the state after, True if any were appended)."""
        first, nxt, last = state if state is not None else (start, start, "")
        if not entries:
            if state is None:
                self.store.insert(CHAIN_KEY, str(first) + "," + str(nxt) + ",")
            return (first, nxt, last), False
        phash = bytes.fromhex(last) if last else None
        for entry in entries:
            if entry["seq"] != nxt:
                raise ValueError("audit entries must be chained in order")
            phash = block_hash(entry, phash)
            last = phash.hex()
            self.store.insert("h" + str(nxt), last)
            nxt += 1
        self.store.insert(CHAIN_KEY, str(first) + "," + str(nxt) + "," + last)
        return (first, nxt, last), True

    @staticmethod
    def tip_of(state):
        """(last block index, its hash) of a `state()`, or None while the chain is empty."""
        if state is None or state[1] <= state[0]:
            return None
        return state[1] - 1, bytes.fromhex(state[2])

    def tip(self):
        """(last block index, its hash), or None while the chain is empty."""
        return self.tip_of(self.state())
