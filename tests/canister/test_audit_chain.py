"""The audit chain's state: kept in the heap, written once when the chain starts, and found again from
storage by a fresh heap (after an upgrade), also from the "chain" record older versions kept current."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import audit_chain  # noqa: E402
from kybra_simple_db import MemoryMap  # noqa: E402
from kybra_simple_db.memory_map import CountingMap  # noqa: E402


def _entry(seq: int) -> dict:
    return {"seq": seq, "time": 10 + seq, "caller": "c", "operation": "update", "type_name": "t::T",
            "id": seq, "changes": {"n": seq}}


def _grow(chain, start: int, counts: list) -> None:
    """Append `counts[i]` entries in message i, from audit seq `start`."""
    seq = start
    for count in counts:
        state = chain.state()
        chain.append([_entry(s) for s in range(seq, seq + count)], start, state)
        seq += count


def test_a_fresh_heap_finds_the_chain_end_and_tip():
    for counts in ([1], [1, 1], [3, 1, 4, 1, 5], [1] * 37, [200, 1, 1]):
        store = MemoryMap()
        chain = audit_chain.AuditChain(store)
        _grow(chain, 7, counts)
        fresh = audit_chain.AuditChain(store)
        assert fresh.state() == chain.state() == (7, 7 + sum(counts), chain.state()[2])
        assert fresh.tip() == chain.tip() == (6 + sum(counts), bytes.fromhex(chain.state()[2]))
        assert fresh.tip()[1] == fresh.block_hash(6 + sum(counts))


def test_the_chain_record_of_older_versions_is_read():
    """Older versions rewrote "chain" as first,next,last hash in every message: read as the state."""
    store = MemoryMap()
    chain = audit_chain.AuditChain(store)
    _grow(chain, 0, [2, 3])
    first, nxt, last = chain.state()
    store.insert(audit_chain.CHAIN_KEY, f"{first},{nxt},{last}")
    assert audit_chain.AuditChain(store).state() == (0, 5, last)
    store.insert(audit_chain.CHAIN_KEY, f"{first},3,{chain.block_hash(2).hex()}")   # any earlier point
    assert audit_chain.AuditChain(store).state() == (0, 5, last)


def test_an_append_writes_one_hash_per_block_and_reads_nothing():
    store = CountingMap(MemoryMap())
    chain = audit_chain.AuditChain(store)
    _grow(chain, 0, [1])
    store.reset()
    _grow(chain, 1, [2])
    assert (store.writes, store.reads) == (2, 0)
    empty = audit_chain.AuditChain(CountingMap(MemoryMap()))
    state, appended = empty.append([], 4, empty.state())
    assert state == (4, 4, "") and not appended and empty.tip() is None
    assert audit_chain.AuditChain(empty.store).state() == (4, 4, "")


def _kept(entry: dict) -> tuple:
    """What audit_capture keeps of an entry: its block's body, type name and id."""
    body = audit_chain.block_body(entry["time"], entry["caller"], entry["operation"], entry["type_name"],
                                  entry["id"], entry["changes"])
    return body, entry["type_name"], entry["id"]


def test_bodies_chain_like_the_stored_entries():
    """append_bodies (one body inline, several in a loop) stores what append stores."""
    by_entries, by_bodies = audit_chain.AuditChain(MemoryMap()), audit_chain.AuditChain(MemoryMap())
    seq = 3
    for count in (1, 1, 3, 1, 2):
        entries = [_entry(s) for s in range(seq, seq + count)]
        for chain, items in ((by_entries, entries), (by_bodies, [_kept(e) for e in entries])):
            state = chain.state()
            step = chain.append if chain is by_entries else chain.append_bodies
            assert step(items, 3, state) == (chain.state(), True)
        seq += count
    assert by_bodies.state() == by_entries.state() and by_bodies.tip() == by_entries.tip()
    assert list(by_bodies.store.items()) == list(by_entries.store.items())


def test_one_body_at_a_time_chains_like_the_stored_entries():
    """append_body (the certifier's path for an update's one block, once the chain has begun) stores
    what append stores and gives each block's hash."""
    by_entries, by_body = audit_chain.AuditChain(MemoryMap()), audit_chain.AuditChain(MemoryMap())
    first = [_entry(3)]
    by_entries.append(first, 3, by_entries.state())
    by_body.append_bodies([_kept(e) for e in first], 3, by_body.state())
    for seq in range(4, 9):
        entry = _entry(seq)
        by_entries.append([entry], 3, by_entries.state())
        assert by_body.known[1] == seq
        assert by_body.append_body(_kept(entry)[0]) == by_body.last_hash
        assert by_body.tip() == by_entries.tip() == (seq, by_entries.last_hash)
    assert by_body.state() == by_entries.state()
    assert list(by_body.store.items()) == list(by_entries.store.items())
    assert audit_chain.AuditChain(by_body.store).state() == by_entries.state()


class _HostMap(MemoryMap):
    """A map offering host functions (as Kybra's stable maps do in the canister): its own insert is
    counted, to show the chain writes block hashes through the host function instead."""

    def __init__(self):
        super().__init__()
        self.method_inserts = 0
        self.host_inserts = []
        self.host_functions = (3, self._get, self._insert, self._remove, self._contains)

    def insert(self, key, value):
        self.method_inserts += 1
        return MemoryMap.insert(self, key, value)

    def _get(self, memory_id, key):
        return MemoryMap.get(self, key)

    def _insert(self, memory_id, key, value):
        self.host_inserts.append((memory_id, key))
        return MemoryMap.insert(self, key, value)

    def _remove(self, memory_id, key):
        return MemoryMap.remove(self, key)

    def _contains(self, memory_id, key):
        return MemoryMap.contains_key(self, key)


def test_block_hashes_go_through_host_functions_with_the_same_bytes():
    """Block hashes (and the chain's record) are written by the host function with the map's memory id,
    never by the map's method (one block per message is every update's path): the same stored bytes."""
    plain, host = MemoryMap(), _HostMap()
    chains = [audit_chain.AuditChain(plain), audit_chain.AuditChain(host)]
    for chain in chains:
        _grow(chain, 0, [2])   # the chain starts (its record and first hashes)
        for seq in range(2, 6):
            chain.append_body(audit_chain.block_body(10 + seq, "c", "update", "t::T", seq, {"n": seq}))
    assert chains[0].state() == chains[1].state() == (0, 6, chains[0].state()[2])
    assert list(MemoryMap.items(host)) == list(plain.items())
    assert host.host_inserts == [(3, f"h{seq}") for seq in range(2)] + [(3, "chain")] + [
        (3, f"h{seq}") for seq in range(2, 6)]
    assert host.method_inserts == 0
    assert audit_chain.AuditChain(host).tip() == chains[0].tip()
