"""The audit log as an ICRC-3 block log: each audit entry is a block chained to its parent by `phash`.

Block i is Map {btype, ts, phash (absent in the first block), tx: {op, caller, type, id, changes}} and
is hashed with the representation-independent hash. Appending hashes only the new entries and stores one
hash per block ("h<i>"), so a block's `phash` is one read and survives pruning of older entries. The
chain starts at `first`: the audit sequence number at which this canister began chaining (0 on a new
canister); "chain" holds "first,next,hash of block next-1" as of when the chain started (versions before
kept it current with a second write per message); the state is then kept in the heap, found again after
an upgrade by probing the block hashes after the index "chain" names.
"""

import hashlib

import rep_hash
from kybra_simple_db.storage_contract import host_functions
from stored_values import field_values, plain_values_hash

BLOCK_TYPE = "simpledb_audit"
BLOCK_TYPE_URL = "https://github.com/kybra-simple-db/kybra-simple-db/blob/main/docs/canister.md#audit-blocks"
CHAIN_KEY = "chain"
UNREAD = ("unread",)   # AuditChain.known before the chain's state was read (`state()` reads it)


def _number(value) -> dict:
    """A Nat, or an Int for a negative number, or Text for anything else (never a trap on odd data)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return {"Nat": value} if value >= 0 else {"Int": value}
    return {"Text": str(value)}


_K = rep_hash.key_hash
uleb128 = rep_hash.uleb128
_BYTES, _MORE = rep_hash.BYTES, rep_hash.MORE
_sha256 = hashlib.sha256
# A Map's pairs are sorted by their bytes, and the key hashes (their first 32 bytes) differ: the order of
# a block's pairs is the order of its keys' hashes, fixed (btype, tx, ts, phash; in tx: op, type, caller,
# id, changes), so the pairs are joined in that order without a sort.
_BTYPE_TX = _K("btype") + rep_hash.text_hash(BLOCK_TYPE) + _K("tx")
_TS, _PHASH, _ID, _CHANGES = _K("ts"), _K("phash"), _K("id"), _K("changes")
_NAMES = {}          # (operation, type, caller) -> a sha256 of the tx Map's first pairs (see _names_pairs)
_CACHED_NAMES = 256


def _names_pairs(operation: str, type_name: str, caller: str):
    """A sha256 object fed the op, type and caller pairs of a block's tx Map and the key of its id
    (cached: few recur). Its copy goes on with the rest of the tx Map: the 224 bytes fed, 3 of SHA-256's
    64-byte blocks, are not compressed again for each block (on Kybra's RustPython some 20,000
    instructions less)."""
    found = _sha256(_K("op") + _K(operation) + _K("type") + _K(type_name) + _K("caller") + _K(caller) + _ID)
    if len(_NAMES) >= _CACHED_NAMES:
        _NAMES.clear()
    _NAMES[(operation, type_name, caller)] = found
    return found


def block_body(time, caller, operation, type_name, entity_id, changes):
    """The pairs of the block of an audit entry (time, caller, operation, type name, id, changes) but its
    `phash` (see chain_hash), when the entry stored from these values is sure to equal them: texts for
    the names, natural numbers for the time and id, plain changes (stored_values.plain_values_hash);
    else None (also for text that UTF-8 cannot encode). What `body_keeper`'s listener keeps."""
    kept = {}
    body_keeper(kept)(0, operation, type_name, entity_id, changes, time, caller)
    return kept[0][0] if kept else None


def body_keeper(kept: dict):
    """The audit log's listener (see audit_capture) that keeps in `kept` seq -> (block body, type name,
    id) for each entry heard whose body can be made (see block_body), and forgets seq for any other.
    Every block appended is hashed from its body, without building its Value: the keys' hashes are
    constants, the pairs' order is fixed and the Map hashes are inlined, in the listener itself (on
    Kybra's RustPython each call saved is some 10,000 instructions)."""

    def keep(seq: int, operation, type_name, entity_id, changes, when, caller) -> None:
        changes_hash = None
        try:
            try:
                names = _NAMES[(operation, type_name, caller)]   # (a subscript: a third of get())
            except KeyError:
                names = None
                if type(operation) is str and type(type_name) is str and type(caller) is str:
                    names = _names_pairs(operation, type_name, caller)
            except TypeError:   # an unhashable name: not an entry of the engine's
                names = None
            if (names is not None and entity_id.__class__ is int and entity_id >= 0 and when.__class__ is int
                    and when >= 0 and changes.__class__ is dict):
                changes_hash = plain_values_hash(changes, True)
        except ValueError:   # (text that UTF-8 cannot encode: the certifier meets it reading the entry)
            changes_hash = None
        if changes_hash is None:
            kept.pop(seq, None)
            return
        sha256 = _sha256
        if entity_id < 0x4000:   # ids of up to 3 LEB128 bytes joined inline: no call
            leb = _BYTES[entity_id] if entity_id < 0x80 else _MORE[entity_id & 0x7F] + _BYTES[entity_id >> 7]
        elif entity_id < 0x200000:
            leb = _MORE[entity_id & 0x7F] + _MORE[entity_id >> 7 & 0x7F] + _BYTES[entity_id >> 14]
        else:
            leb = uleb128(entity_id)
        tx = names.copy()
        tx.update(sha256(leb).digest() + _CHANGES + changes_hash)
        if when != _TIME[0]:   # the entries of one message share its time: hash it once
            if 0x100000000000000 <= when < 0x8000000000000000:   # nine groups (ns since 1970): LEB128
                x = when & 0xFFFFFFFFFFFFFF   # inline, its low 8 groups spread to a byte each (see rep_hash)
                x = (x & 0xFFFFFFF) | ((x & 0xFFFFFFF0000000) << 4)
                x = (x & 0x00003FFF00003FFF) | ((x & 0x0FFFC0000FFFC000) << 2)
                x = (x & 0x007F007F007F007F) | ((x & 0x3F803F803F803F80) << 1)
                leb = (x | 0x8080808080808080).to_bytes(8, "little") + _BYTES[when >> 56]
            else:
                leb = uleb128(when)
            time_hash = sha256(leb).digest()
            _TIME[0], _TIME[1] = when, _TS + time_hash
            _TIME_HASH[0], _TIME_HASH[1] = when, time_hash
        kept[seq] = (_BTYPE_TX + tx.digest() + _TIME[1], type_name, entity_id)

    return keep


_TIME = [None, None]   # the last time hashed by block_body and its `ts` pair
_TIME_HASH = rep_hash.TIME_HASH   # the same time and its hash, for entity_hash (see rep_hash)


def chain_hash(body: bytes, phash) -> bytes:
    """The hash of the block with this body (block_body) whose parent's hash is `phash` (None: none)."""
    sha256 = hashlib.sha256
    return sha256(body if phash is None else body + _PHASH + sha256(phash).digest()).digest()


def block_hash(entry: dict, phash) -> bytes:
    """rep_hash.value_hash(block_value(entry, phash)), directly for the entries of the engine's changes."""
    body = block_body(entry["time"], entry["caller"], entry["operation"], entry["type_name"], entry["id"],
                      entry["changes"])
    return chain_hash(body, phash) if body is not None else rep_hash.value_hash(block_value(entry, phash))


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


def _method_call(method, key: str, value: str):
    """`method(key, value)`: how `AuditChain.insert_hash` calls the insert method of a map without host
    functions."""
    return method(key, value)


class AuditChain:
    """Block hashes and the chain's extent, in the certification map. The state is kept in the heap once
    read or written: only `append` writes it, and a message that traps loses its heap changes with its
    writes (the IC's rule), so the heap's copy is the stored state."""

    def __init__(self, store):
        self.store = store
        # how block hashes are written: (target, function), called as function(target, key, value):
        # the host function and the memory id of a map that offers them (storage_contract.host_functions:
        # no Python frame of the map's method between, on every update), else the map's own method
        host = host_functions(store)
        self.insert_hash = (host[0], host[2]) if host is not None else (store.insert, _method_call)
        self.known = UNREAD     # (first, next, hash hex of block next-1) as stored (None: not stored)
        self.last_hash = None    # the hash of block next-1 of `known` as bytes (None while empty)

    def state(self):
        """(first, next, hash hex of block next-1), or None before the first append. Read once per heap:
        "chain" is written when the chain starts (older versions rewrote it in every append), the blocks
        after the index it names are found by probing their hashes (O(log n) reads, after an upgrade)."""
        known = self.known
        if known is UNREAD:
            raw = self.store.get(CHAIN_KEY)
            if raw is None:
                self.known = None
                return None
            first, nxt, last = raw.split(",")
            nxt = int(nxt)
            end = self._end(nxt)
            if end != nxt:
                last = self.store.get("h" + str(end - 1))
            known = self._remember(int(first), end, last, bytes.fromhex(last) if last else None)
        return known

    def _end(self, low: int) -> int:
        """The first index from `low` on without a stored block hash (hashes are stored contiguously from
        the chain's first index and never removed)."""
        has = self.store.contains_key
        if not has("h" + str(low)):
            return low
        step, high = 1, low + 1
        while has("h" + str(high)):
            low, step = high, step * 2
            high = low + step
        while high - low > 1:
            middle = (low + high) // 2
            if has("h" + str(middle)):
                low = middle
            else:
                high = middle
        return high

    def _remember(self, first: int, nxt: int, last: str, last_hash) -> tuple:
        self.known = (first, nxt, last)
        self.last_hash = last_hash
        return self.known

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
        `state()` gave it); (the state after, True if any were appended)."""
        nxt = state[1] if state is not None else start
        phash = self._last_of(state)
        hashes = []
        for entry in entries:
            if entry["seq"] != nxt + len(hashes):
                raise ValueError("audit entries must be chained in order")
            phash = block_hash(entry, phash)
            hashes.append(phash)
        return self._write(hashes, start, state)

    def append_bodies(self, copies: list, start: int, state) -> tuple:
        """`append` for the bodies (block_body) of the entries, each the first item of a copy in
        `copies`; (the state after, True if any were appended)."""
        if len(copies) == 1 and state is self.known and state is not None:
            self.append_body(copies[0][0])
            return self.known, True
        phash = self._last_of(state)
        hashes = []
        keep = hashes.append
        sha256 = _sha256
        for copy in copies:   # (chain_hash inlined: a batch appends up to hundreds of blocks)
            body = copy[0]
            phash = sha256(body if phash is None else body + _PHASH + sha256(phash).digest()).digest()
            keep(phash)
        return self._write(hashes, start, state)

    def append_body(self, body: bytes) -> int:
        """Chain one block body (block_body) onto the state as known, which must be read and begun (not
        UNREAD, not None): most updates append one block, and this is their path, with no tuple in or
        out. The new block's hash (its index is the state's next index before)."""
        known = self.known
        index = known[1]
        phash = self.last_hash
        sha256 = _sha256
        phash = sha256(body if phash is None else body + _PHASH + sha256(phash).digest()).digest()
        last = phash.hex()
        target, insert = self.insert_hash
        insert(target, f"h{index}", last)   # ("h" + str(i), in three quarters of the instructions)
        self.known = (known[0], index + 1, last)
        self.last_hash = phash
        return phash

    def _last_of(self, state):
        if state is self.known:
            return self.last_hash
        return bytes.fromhex(state[2]) if state is not None and state[2] else None

    def _write(self, hashes: list, start: int, state) -> tuple:
        """Store the hashes of the blocks after `state`; (the state after, True if any)."""
        first, nxt, last = state if state is not None else (start, start, "")
        target, insert = self.insert_hash
        for block in hashes:
            last = block.hex()
            insert(target, f"h{nxt}", last)   # ("h" + str(i), in three quarters of the instructions)
            nxt += 1
        if state is None:   # the chain starts: later appends only add block hashes (see `state`)
            insert(target, CHAIN_KEY, str(first) + "," + str(nxt) + "," + last)
        elif not hashes:
            return state, False
        self.known = state = (first, nxt, last)
        self.last_hash = hashes[-1] if hashes else None
        return state, bool(hashes)

    def tip(self):
        """(last block index, its hash), or None while the chain is empty."""
        state = self.state()
        if state is None or state[1] <= state[0]:
            return None
        return state[1] - 1, self.last_hash
