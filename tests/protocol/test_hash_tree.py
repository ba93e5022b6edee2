"""Hash trees: witnesses keep the root digest and reveal exactly the asked paths (and absence proofs);
malformed trees from the network raise MalformedTree, never a Python internal error."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ic_protocol.hash_tree import (
    ABSENT,
    EMPTY,
    PRUNED,
    UNKNOWN,
    MalformedTree,
    build,
    digest,
    labels,
    lookup,
    subtree,
    witness,
)

CONTENT = {
    b"time": b"\x01",
    b"canister": {b"c1": {b"certified_data": b"d1"}, b"c2": {b"certified_data": b"d2"}},
    b"request_status": {b"r" * 32: {b"status": b"replied", b"reply": b"DIDL\x00\x00"}},
}


def test_a_witness_keeps_the_digest_and_only_the_asked_paths():
    tree = build(CONTENT)
    proof = witness(tree, [[b"canister", b"c2", b"certified_data"], [b"time"]])
    assert digest(proof) == digest(tree)
    assert lookup(proof, [b"canister", b"c2", b"certified_data"]) == b"d2"
    assert lookup(proof, [b"time"]) == b"\x01"
    assert lookup(proof, [b"canister", b"c1", b"certified_data"]) is UNKNOWN
    assert lookup(proof, [b"request_status", b"r" * 32, b"status"]) is UNKNOWN


def test_a_witness_for_a_missing_label_proves_its_absence():
    tree = build({b"a": b"1", b"c": b"3", b"e": b"5", b"g": b"7"})
    for missing in (b"0", b"b", b"d", b"f", b"z"):
        proof = witness(tree, [[missing]])
        assert digest(proof) == digest(tree)
        assert lookup(proof, [missing]) is ABSENT
        present = [label for label in (b"a", b"c", b"e", b"g") if lookup(proof, [label]) is not UNKNOWN]
        assert len(present) <= 2  # only the neighbours are revealed, and their values stay pruned
        assert all(subtree(proof, [label])[0] == PRUNED for label in present)


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(st.binary(min_size=1, max_size=3), st.binary(max_size=4), max_size=12),
    st.lists(st.binary(min_size=1, max_size=3), max_size=4),
)
def test_witness_lookups_agree_with_the_full_tree(content, asked):
    tree = build(content)
    proof = witness(tree, [[label] for label in asked])
    assert digest(proof) == digest(tree)
    for label in asked:
        assert lookup(proof, [label]) == lookup(tree, [label])


def test_labels_list_a_level():
    tree = build(CONTENT)
    assert labels(tree, [b"canister"]) == [b"c1", b"c2"]
    assert labels(tree, [b"nothing"]) == []
    assert build({}) == [EMPTY]


@pytest.mark.parametrize(
    "tree",
    [
        [],
        None,
        "tree",
        [9],
        [True],
        [1, [0]],
        [2, "label", [0]],
        [3, 5],
        [4, b"short"],
        [1, [3, b"x"], [9, b"y"]],
        [2, b"a", [2, b"b"]],
    ],
)
def test_malformed_trees_raise_malformed_tree(tree):
    with pytest.raises(MalformedTree):
        digest(tree)


def test_a_deeply_nested_tree_is_refused():
    tree = [0]
    for _ in range(5000):
        tree = [2, b"a", tree]
    with pytest.raises(MalformedTree):
        digest(tree)


def test_lookup_ending_at_an_inner_node_is_malformed():
    with pytest.raises(MalformedTree):
        lookup(build(CONTENT), [b"canister"])
