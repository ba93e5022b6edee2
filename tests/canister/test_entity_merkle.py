"""entity_merkle's shortcuts give what the plain computations give: the types record's text is the JSON
encoder's, and a node's digest from its fork tree kept in the heap is the digest from all its slots, also
when two trees with the same node keys change in turn (the kept forks belong to the slots they came from)."""

import json
import random
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from kybra_simple_db import MemoryMap
from kybra_simple_db.memory_map import CountingMap

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import entity_merkle  # noqa: E402

HEX = st.text(alphabet="0123456789abcdef", max_size=64)
INFO = st.lists(st.one_of(st.integers(0, 2**40), HEX), min_size=3, max_size=3)
ENTRY = st.tuples(st.integers(0, 2**40), st.integers(1, 16), HEX)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 2**40),
    st.dictionaries(st.text(max_size=20), ENTRY, max_size=5),
)
def test_the_types_text_is_the_json_encoders(generation, types):
    record = {"g": generation, "t": {name: list(info) for name, info in types.items()}}
    assert entity_merkle.types_text(record) == json.dumps(record, separators=(",", ":"), sort_keys=True)


@given(st.dictionaries(st.text(max_size=5), INFO, max_size=3),
       st.one_of(st.integers(0, 9), st.text(max_size=3)))
def test_odd_types_records_are_written_by_the_encoder(types, generation):
    odd_root = {"g": 1, "t": {"a": [1, 1, "Z"]}}
    for record in ({"g": generation, "t": types}, {"g": 1, "t": types, "x": 1}, odd_root):
        assert entity_merkle.types_text(record) == json.dumps(record, separators=(",", ":"), sort_keys=True)


def _digest_from_scratch(merkle, type_name: str) -> bytes:
    merkle.reset()
    entity_merkle._DIGESTS.clear()
    entity_merkle._PARSED.clear()
    info = merkle._state()["t"][type_name]

    def node(level: int, index: int):
        slots = merkle._slots(merkle._key(type_name, level, index))
        if level == 1:
            return entity_merkle._fold(entity_merkle._slot_digests(1, index, slots))
        below = [node(level - 1, index * 16 + i) if s else None for i, s in enumerate(slots)]
        return entity_merkle._fold(below)

    top = node(info[1], 0)
    assert (top.hex() if top is not None else "") == info[2]
    return top


def test_kept_fork_trees_give_the_digest_of_all_slots():
    rng = random.Random(5)
    merkles = [entity_merkle.EntityMerkle(MemoryMap(), MemoryMap()) for _ in range(2)]
    for merkle in merkles:
        merkle.enable("t::T")
        merkle.flush()
    for step in range(300):
        merkle = merkles[rng.randrange(2)]
        merkle.reset()
        entity_id = rng.randrange(600)
        leaf = None if rng.random() < 0.2 else rng.randbytes(32)
        merkle.set_leaf("t::T", entity_id, leaf)
        merkle.flush()
        if step % 50 == 49:
            for each in merkles:
                _digest_from_scratch(each, "t::T")


def test_a_change_not_flushed_leaves_the_stored_types_record_as_it_was():
    """A message changes its own copy of the types record (one type's entry copied when it changes):
    what it did not flush (it failed) is gone at the next message, for every certified type, and the
    record parsed once and shared by later messages is never changed."""
    merkle = entity_merkle.EntityMerkle(MemoryMap(), MemoryMap())
    for name in ("t::A", "t::B", "t::C"):
        merkle.enable(name)
    for entity_id in (1, 20, 300):
        merkle.set_leaf("t::A", entity_id, bytes([entity_id % 256]) * 32)
        merkle.set_leaf("t::B", entity_id, bytes([7]) * 32)
    merkle.flush()
    merkle.reset()
    digest = merkle.digest()
    witness = merkle.witness("t::A", 20)
    for changes in ([("t::A", 20, b"\x01" * 32)], [("t::B", 5000, b"\x02" * 32), ("t::A", 1, None)]):
        for name, entity_id, leaf in changes:
            merkle.set_leaf(name, entity_id, leaf)
        assert merkle.digest() != digest
        merkle.reset()   # the message failed: nothing flushed
        assert merkle.digest() == digest and merkle.witness("t::A", 20) == witness
        assert entity_merkle.EntityMerkle(merkle.store, merkle.meta).digest() == digest


def test_nodes_written_lately_are_read_from_the_heap_as_stored():
    """A node this merkle flushed is taken from its heap copy in later messages (no stable read), and
    every digest and witness is what a new merkle over the same store (an upgrade: a new heap) gives;
    a message that fails without flushing leaves the copies as stored."""
    store = CountingMap(MemoryMap())
    merkle = entity_merkle.EntityMerkle(store, MemoryMap())
    merkle.enable("t::T")
    merkle.flush()
    for entity_id in range(1, 40):
        merkle.reset()
        store.reset()
        merkle.set_leaf("t::T", entity_id, bytes([entity_id]) * 32)
        if entity_id > 1 and entity_id % 16:   # the path's nodes were written by the last message
            assert store.reads == 0, entity_id
        merkle.flush()
    merkle.reset()
    merkle.set_leaf("t::T", 5, b"\x09" * 32)   # the message fails: nothing flushed
    merkle.reset()
    fresh = entity_merkle.EntityMerkle(store, merkle.meta)
    entity_merkle._TREES.clear()
    for entity_id in (5, 17, 39, 40):
        assert merkle.witness("t::T", entity_id) == fresh.witness("t::T", entity_id)
    assert merkle.digest() == fresh.digest()
    _digest_from_scratch(fresh, "t::T")   # (checks the stored root is the digest of all stored slots)
    assert merkle.leaf("t::T", 5) == b"\x05" * 32


def test_a_changed_slot_climbs_its_fork_tree_as_the_fold_joins_it():
    """_changed_node_digest climbs from the changed slot by a table of positions: for every slot, set or
    emptied, among empty, sparse and full neighbours, at level 1 and above, the node's digest is the fold
    of all its slot digests."""
    rng = random.Random(7)
    merkle = entity_merkle.EntityMerkle(MemoryMap(), MemoryMap())
    for level in (1, 2):
        for fill in (0.0, 0.3, 1.0):
            for slot in range(16):
                old = [rng.randbytes(32).hex() if rng.random() < fill else "" for _ in range(16)]
                for new in (rng.randbytes(32).hex(), ""):
                    slots = old[:]
                    slots[slot] = new
                    raw = bytes.fromhex(new) if new else None
                    entity_merkle._TREES.clear()
                    found = merkle._changed_node_digest("k", level, 3, old, slots, slot, raw)
                    assert found == entity_merkle._fold(entity_merkle._slot_digests(level, 3, slots)), slot


def _merkle_with(leaves: dict):
    """An EntityMerkle over fresh maps with type "t::T" certified and `leaves` (id -> leaf) set one by
    one, flushed."""
    merkle = entity_merkle.EntityMerkle(MemoryMap(), MemoryMap())
    merkle.enable("t::T")
    for entity_id, leaf in leaves.items():
        merkle.set_leaf("t::T", entity_id, leaf)
    merkle.flush()
    merkle.reset()
    return merkle


def _leaf(entity_id: int, salt: int) -> bytes:
    return entity_merkle.hashlib.sha256(entity_id.to_bytes(8, "big") + salt.to_bytes(4, "big")).digest()


ID = st.one_of(st.integers(0, 40), st.integers(0, 300), st.integers(0, 70_000))
BATCH = st.dictionaries(ID, st.one_of(st.none(), st.integers(0, 3)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(ID, st.integers(0, 3), max_size=30), BATCH, st.booleans())
def test_a_batch_of_leaves_gives_the_nodes_of_one_leaf_at_a_time(before, batch, cached):
    """set_leaves (a batch's entities at once) writes the nodes, root and types record that set_leaf
    one by one writes, whatever the ids: in one node or many, growing the tree, removing, removing past
    it, with the nodes' fork trees kept in the heap or not."""
    start = {i: _leaf(i, salt) for i, salt in before.items()}
    changes = [(i, None if salt is None else _leaf(i, salt + 10)) for i, salt in batch.items()]
    one, many = _merkle_with(start), _merkle_with(start)
    if not cached:
        entity_merkle._TREES.clear()
    many.set_leaves("t::T", changes)   # (first: the fork trees kept are the start's, as both were built)
    entity_merkle._TREES.clear()
    for entity_id, leaf in changes:
        one.set_leaf("t::T", entity_id, leaf)
    assert many.dirty == one.dirty and many.types_dirty == one.types_dirty
    assert [many.cache[k] for k in sorted(many.dirty)] == [one.cache[k] for k in sorted(one.dirty)]
    one.flush()
    many.flush()
    assert dict(many.store._data) == dict(one.store._data) and dict(many.meta._data) == dict(one.meta._data)
    assert _digest_from_scratch(many, "t::T") == _digest_from_scratch(one, "t::T")


def test_the_types_record_written_with_kept_entry_texts_is_the_json_encoders():
    """flush rejoins only the entries a message changed (types_text's `kept`: the texts of the entry
    lists written before, which a change copies first): after changes to one type or several, types
    turning certification on and off, and messages that change and are reset unflushed, the stored record
    is what json.dumps writes for its content, and it holds each type's true root; the digest over the
    type roots (their labeled digests and forks remembered) is the hash tree's."""
    rng = random.Random(11)
    merkle = entity_merkle.EntityMerkle(MemoryMap(), MemoryMap())
    names = ["t::" + str(i) for i in range(6)]
    for name in names[:4]:
        merkle.enable(name)
    merkle.flush()
    for step in range(120):
        merkle.reset()
        k = rng.random()
        if k < 0.08:
            name = rng.choice(names)
            if name in merkle.certified_names() and rng.random() < 0.5:
                merkle.disable(name)
            else:
                merkle.enable(name)
        else:
            for _ in range(rng.randint(1, 3)):
                name = rng.choice(sorted(merkle.certified_names()))
                entity_id = rng.randint(0, 300)
                merkle.set_leaf(name, entity_id, None if rng.random() < 0.2 else _leaf(entity_id, step))
        if rng.random() < 0.1:
            continue   # (a message that fails: reset, not flushed)
        merkle.flush()
        text = merkle.meta.get(entity_merkle.TYPES_KEY)
        record = json.loads(text)
        assert text == json.dumps(record, separators=(",", ":"), sort_keys=True)
        assert text == entity_merkle.types_text(record)
        tree = entity_merkle.tree   # the entities digest (type roots' labeled digests and forks remembered)
        nodes = [[tree.LABELED, name.encode("utf-8"), [tree.PRUNED, bytes.fromhex(info[2]) if info[2]
                                                       else tree.EMPTY_DIGEST]]
                 for name, info in sorted(record["t"].items())]
        assert merkle.digest() == tree.digest(tree.balanced(nodes))
    for name in sorted(merkle.certified_names()):
        _digest_from_scratch(merkle, name)   # (asserts the stored root is the tree's)
