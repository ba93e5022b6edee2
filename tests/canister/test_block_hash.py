"""The audit chain's direct block hash and the certifier's direct root digest give exactly the hashes of
the Values and trees they stand for (blocks already chained must keep their hashes)."""

import math
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from kybra_simple_db import MemoryMap

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import audit_chain  # noqa: E402
import ic_hash_tree as tree  # noqa: E402
import rep_hash  # noqa: E402
import stored_values  # noqa: E402
from certification import ENTITIES, LAST_BLOCK_HASH, LAST_BLOCK_INDEX, Certifier  # noqa: E402
from stored_values import (  # noqa: E402
    entity_hash,
    entity_value,
    field_values,
    field_values_hash,
    stored_value,
    stored_value_hash,
)

STORED = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.just(math.nan),
    st.text(max_size=20),
)
ENTRY = st.fixed_dictionaries(
    {
        "seq": st.integers(min_value=0, max_value=10**6),
        "time": st.one_of(st.integers(min_value=-5, max_value=2**64), st.text(max_size=5)),
        "caller": st.text(max_size=70),
        "operation": st.sampled_from(["create", "update", "delete", "link", "x" * 80]),
        "type_name": st.text(max_size=30),
        "id": st.one_of(st.integers(min_value=-(2**40), max_value=2**64), st.none(), st.text(max_size=5)),
        "changes": st.dictionaries(st.text(max_size=70), STORED, max_size=6),
    }
)


@settings(max_examples=300, deadline=None)
@given(entry=ENTRY, phash=st.one_of(st.none(), st.binary(min_size=32, max_size=32)))
def test_block_hash_is_the_hash_of_the_block_value(entry, phash):
    assert audit_chain.block_hash(entry, phash) == rep_hash.value_hash(audit_chain.block_value(entry, phash))


@settings(max_examples=300, deadline=None)
@given(stored=STORED, values=st.dictionaries(st.text(max_size=10), STORED, max_size=5), keep=st.booleans())
def test_stored_value_hashes_match_their_values(stored, values, keep):
    assert stored_value_hash(stored) == rep_hash.value_hash(stored_value(stored))
    assert field_values_hash(values, keep) == rep_hash.value_hash(field_values(values, keep))


class _Merkle:
    def __init__(self, digest: bytes):
        self._digest = digest

    def digest(self) -> bytes:
        return self._digest


@given(entities=st.binary(min_size=32, max_size=32), index=st.integers(min_value=0, max_value=2**40),
       block=st.binary(min_size=32, max_size=32), empty=st.booleans())
def test_root_digest_is_the_digest_of_the_root_tree(entities, index, block, empty):
    certifier = Certifier.__new__(Certifier)
    certifier.merkle = _Merkle(entities)
    tip = None if empty else (index, block)
    node = [tree.LABELED, ENTITIES, [tree.PRUNED, entities]]
    if tip is not None:
        node = tree.fork(node, tree.fork(
            [tree.LABELED, LAST_BLOCK_HASH, [tree.LEAF, block]],
            [tree.LABELED, LAST_BLOCK_INDEX, [tree.LEAF, rep_hash.uleb128(index)]],
        ))
    assert certifier.root_digest_at(tip) == tree.digest(node)


@given(value=st.integers(min_value=-(2**130), max_value=2**130))
def test_nat_and_int_hashes_agree_with_the_client(value):
    from ic_protocol.icrc3_value import value_hash

    kind = "Nat" if value >= 0 else "Int"
    assert rep_hash.value_hash({kind: value}) == value_hash({kind: value})


def test_leb128_at_every_group_boundary_agrees_with_the_client():
    """rep_hash's LEB128 joins short numbers from tables and spreads longer ones by masks: check every
    width around each 7-bit group and power of two, on both signs."""
    from ic_protocol.icrc3_value import value_hash

    edges = {0, 1}
    for bits in range(1, 160):
        for base in (1 << bits, 1 << (7 * (bits // 7)) if bits >= 7 else 1):
            edges.update((base - 2, base - 1, base, base + 1))
    for value in sorted(edges):
        for signed in (value, -value):
            kind = "Nat" if signed >= 0 else "Int"
            assert rep_hash.value_hash({kind: signed}) == value_hash({kind: signed}), signed
            assert rep_hash.value_hash({"Int": signed}) == value_hash({"Int": signed}), signed


NUMBER = st.one_of(st.none(), st.integers(min_value=0, max_value=2**64), st.just(0))
RECORD = st.fixed_dictionaries(
    {
        "id": st.integers(min_value=0, max_value=2**64),
        "fields": st.dictionaries(st.text(max_size=12), STORED, max_size=5),
        "refs": st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.integers(0, 2**40)),
                                max_size=3),
        "owner": st.one_of(st.none(), st.sampled_from(["", "aaaaa-aa", "2vxsx-fae"]), st.text(max_size=63)),
        "creator": st.one_of(st.none(), st.sampled_from(["", "aaaaa-aa", "2vxsx-fae"])),
        "updater": st.one_of(st.none(), st.sampled_from(["", "aaaaa-aa", "2vxsx-fae"])),
        "created_at": NUMBER,
        "updated_at": NUMBER,
        "version": NUMBER,
    }
)


@settings(max_examples=300, deadline=None)
@given(type_name=st.text(max_size=30), record=RECORD)
def test_entity_hash_is_the_hash_of_the_entity_value(type_name, record):
    assert entity_hash(type_name, record) == rep_hash.value_hash(entity_value(type_name, record))


def test_entity_hash_of_odd_records_follows_the_value():
    record = {"id": 3, "fields": {"a": 1}, "refs": {}, "owner": "o", "creator": "o", "updater": "u",
              "created_at": 5, "updated_at": 5, "version": 1}
    for change in ({"owner": 7}, {"version": True}, {"fields": {"a": [1]}}, {"refs": {"r": "x"}},
                   {"fields": {"a": math.nan}}, {"refs": {"r": 4, "s": None, "t": 2}}, {"refs": None},
                   {"refs": []}, {"version": 0x7F}, {"version": 0x80}, {"version": -1}, {"id": 0x7F},
                   {"id": 0x80}, {"id": 0x3FFF}, {"id": 0x4000}, {"id": 2**64}, {"id": -1}, {"id": True}):
        odd = dict(record, **change)
        assert _outcome(entity_hash, odd) == _outcome(_value_hash_of_entity, odd), change


def _value_hash_of_entity(type_name: str, record: dict) -> bytes:
    return rep_hash.value_hash(entity_value(type_name, record))


def _outcome(function, record: dict):
    """The hash, or the kind of error (the Value of an odd record may not hash at all)."""
    try:
        return function("t::T", record)
    except (TypeError, AttributeError, ValueError) as exc:
        return type(exc)


def test_block_hash_of_ids_around_the_inline_leb128():
    """block_body joins the LEB128 of an id of up to three bytes inline: ids at and around its edges hash
    as the Value."""
    for entity_id in (0, 1, 0x7F, 0x80, 0x81, 0x3FFF, 0x4000, 0x4001, 0x1FFFFF, 0x200000, 0x200001, 2**63):
        entry = {"seq": 1, "time": 1_765_000_000_000_000_000, "caller": "aaaaa-aa", "operation": "update",
                 "type_name": "t", "id": entity_id, "changes": {"qty": 1}}
        for phash in (None, b"\x01" * 32):
            expected = rep_hash.value_hash(audit_chain.block_value(entry, phash))
            assert audit_chain.block_hash(entry, phash) == expected


INT_EDGES = sorted({sign * (edge + delta) for edge in (0, 0x40, 0x2000, 0x100000, 2**63, 2**70)
                    for delta in (-1, 0, 1) for sign in (1, -1)})


def test_block_hash_of_times_around_the_inline_nine_group_leb128():
    """block_body joins the LEB128 of a time of nine 7-bit groups inline (2**56 <= time < 2**63), others by
    uleb128: times at and around the edges, and today's, hash as the Value."""
    for time in (0, 2**56 - 1, 2**56, 2**56 + 1, 1_765_000_000_123_456_789, 2**63 - 1, 2**63, 2**64 + 5):
        entry = {"seq": 1, "time": time, "caller": "aaaaa-aa", "operation": "create", "type_name": "t",
                 "id": 9, "changes": {"qty": 1, "name": "n"}}
        expected = rep_hash.value_hash(audit_chain.block_value(entry, b"\x02" * 32))
        assert audit_chain.block_hash(entry, b"\x02" * 32) == expected, time


def test_field_values_hash_of_ints_around_the_inline_sleb128():
    """plain_values_hash joins the SLEB128 of an Int of up to three bytes inline (and calls sleb128 above):
    values at and around the edges, on both signs, alone and among other fields, hash as the Value."""
    for value in INT_EDGES:
        for values in ({"n": value}, {"a": "x", "n": value, "b": True}):
            assert _hashes_as_value(values, True), value


def test_field_values_hash_orders_every_number_of_pairs():
    """Up to three pairs are ordered by comparisons, more by a sort: every count and every order of the
    names hashes as the Value (whose Map sorts its pairs)."""
    import itertools

    names = ["qty", "name", "sku", "a", "zz", "é", "𝄞"]
    for count in range(len(names) + 1):
        for order in itertools.islice(itertools.permutations(names[:count]), 24):
            values = {name: index for index, name in enumerate(order)}
            for keep in (True, False):
                assert _hashes_as_value(values, keep), order
    odd = {"a": None, "b": 1.5, "c": False, "d": "𝄞", "e": -(2**70), "f": None}
    assert _hashes_as_value(odd, True) and _hashes_as_value(odd, False)
    assert field_values_hash({}, True) == rep_hash.value_hash({"Map": []})


def _hashes_as_value(values: dict, keep: bool) -> bool:
    return field_values_hash(values, keep) == rep_hash.value_hash(field_values(values, keep))


def test_text_that_utf8_cannot_encode_fails_as_the_value_does():
    """A lone surrogate is encoded by the codec function in plain_values_hash: it fails with the same
    error as str.encode (the audit capture then leaves the entry to be read back)."""
    import pytest

    with pytest.raises(UnicodeEncodeError):
        rep_hash.value_hash(field_values({"a": "\ud800"}, True))
    with pytest.raises(UnicodeEncodeError):
        field_values_hash({"a": "\ud800"}, True)


def test_root_digest_around_the_inline_index_leb128():
    """_root_digest joins the LEB128 of an index below 2**21 inline: indexes at and around its edges give
    the digest of the root tree."""
    certifier = Certifier.__new__(Certifier)
    certifier.merkle = _Merkle(b"\x05" * 32)
    for index in (0, 0x7F, 0x80, 0x3FFF, 0x4000, 0x1FFFFF, 0x200000, 2**40):
        node = tree.fork([tree.LABELED, ENTITIES, [tree.PRUNED, b"\x05" * 32]], tree.fork(
            [tree.LABELED, LAST_BLOCK_HASH, [tree.LEAF, b"\x06" * 32]],
            [tree.LABELED, LAST_BLOCK_INDEX, [tree.LEAF, rep_hash.uleb128(index)]],
        ))
        assert certifier.root_digest_at((index, b"\x06" * 32)) == tree.digest(node), index


def test_entity_hash_reuses_the_message_time_hash_only_for_that_time():
    """block_body leaves the hash of its message's time in rep_hash.TIME_HASH, which entity_hash reuses
    for a created_at/updated_at equal to it: every combination of created and updated at, around and
    away from that time hashes as the Value, before and after the time changes."""
    now = 1_765_000_000_123_456_789
    entry = {"seq": 1, "time": now, "caller": "aaaaa-aa", "operation": "update", "type_name": "t::T", "id": 4,
             "changes": {"n": 1}}
    for time in (now, now + 1, 5):
        entry["time"] = time
        audit_chain.block_hash(entry, None)
        assert rep_hash.TIME_HASH == [time, rep_hash.nat_hash(time)]
        for created in (now, now + 1, 5, 0, None):
            for updated in (now, now + 1, 5, None):
                record = {"id": 4, "fields": {"n": 1}, "refs": {}, "owner": "o", "creator": "c",
                          "updater": "o", "created_at": created, "updated_at": updated, "version": 2}
                expected = _outcome(_value_hash_of_entity, record)
                assert _outcome(entity_hash, record) == expected, (created, updated)


def test_entity_hash_remembers_people_and_versions_without_changing_a_hash():
    """entity_hash keeps the hashes of principals' texts and of versions (stored_values._PEOPLE and
    _VERSIONS, emptied when full): a hash made from them equals one made afresh, cold or warm."""
    people = ["aaaaa-aa", "2vxsx-fae", "é" * 20, ""] + ["p" + str(i) for i in range(300)]
    for round_ in range(2):   # (the second round finds them remembered, or remembered again after a clear)
        for i, person in enumerate(people):
            record = {"id": i, "fields": {"a": i}, "refs": {}, "owner": person,
                      "creator": people[(i + 1) % len(people)], "updater": people[(i + 2) % len(people)],
                      "created_at": 5, "updated_at": 6, "version": (i * 37) % 400}
            assert entity_hash("t::T", record) == _value_hash_of_entity("t::T", record), (round_, person)
    assert len(stored_values._PEOPLE) <= stored_values._CACHED_HASHES
    assert len(stored_values._VERSIONS) <= stored_values._CACHED_HASHES


class _OneEntryGateway:
    """What Certifier.after_update asks of the gateway, for an update that recorded one audit entry (whose
    copy `copies_since` gives alone, not in a list: see audit_capture.take)."""

    def __init__(self, copies):
        self.copies = copies

    def copies_since(self, start: int):
        return self.copies

    def keep_types(self, names) -> None:
        pass

    def take_changed(self) -> None:
        pass


def test_the_first_block_of_a_new_chain_may_come_alone():
    """The first update ever (no chain state stored yet) may record a single entry: it starts the chain
    as a list of that one copy does."""
    body = audit_chain.block_body(5, "aaaaa-aa", "create", "t::T", 1, {"a": 1})
    roots = []
    for copies in ((body, "t::T", 1), [(body, "t::T", 1)]):
        certified = []
        certifier = Certifier(MemoryMap(), MemoryMap(), certified.append, lambda: b"")
        certifier.after_update(_OneEntryGateway(copies), 0)
        assert certifier.chain.state() == (0, 1, audit_chain.chain_hash(body, None).hex())
        assert certified == [certifier.root_digest()]
        roots.append(certified[0])
    assert roots[0] == roots[1]
