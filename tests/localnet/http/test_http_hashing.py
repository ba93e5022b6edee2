"""Request ids and hash trees against the vectors published in the IC interface specification."""

import cbor2
import leb128
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ic.utils import to_request_id

from ic_protocol import hash_tree
from ic_protocol.request_id import hash_map, request_id

SPEC_CALL = {
    "request_type": "call",
    "sender": b"\x04",
    "ingress_expiry": 1685570400000000000,
    "canister_id": bytes.fromhex("00000000000004D2"),
    "method_name": "hello",
    "arg": b"DIDL\x00\xfd*",
}
SPEC_TREE_CBOR = bytes.fromhex(
    "8301830183024161830183018302417882034568656c6c6f810083024179820345776f726c6483024162820344676f6f64"
    "8301830241638100830241648203476d6f726e696e67"
)
SPEC_PRUNED_CBOR = bytes.fromhex(
    "83018301830241618301820458201b4feff9bef8131788b0c9dc6dbad6e81e524249c879e9f10f71ce3749f5a6388302"
    "4179820345776f726c6483024162820458207b32ac0c6ba8ce35ac82c255fc7906f7fc130dab2a090f80fe12f9c2cae8"
    "3ba6830182045820ec8324b8a1f1ac16bd2e806edba78006479c9877fed4eb464a25485465af601d830241648203476d"
    "6f726e696e67"
)
SPEC_ROOT = "eb5c5b2195e62d996b84c9bcc8259d19a83786a2f59e0878cec84c811f669aa0"


def test_request_id_matches_the_specification_example():
    assert request_id(SPEC_CALL).hex() == "1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101"


def test_field_hashes_match_the_specification_example():
    # H(1685570400000000000) and H("DIDL\x00\xFD*") as listed in the specification.
    assert hash_map({"x": 1685570400000000000}) == hash_map(
        {"x": bytes(leb128.u.encode(1685570400000000000))}
    )
    from ic_protocol.request_id import hash_value

    assert hash_value(1685570400000000000).hex() == (
        "db8e57abc8cda1525d45fdd2637af091bc1f28b35819a40df71517d1501f2c76"
    )
    assert (
        hash_value(b"DIDL\x00\xfd*").hex()
        == "6c0b2ae49718f6995c02ac5700c9c789d7b7862a0d53e6d40a73f1fcd2f70189"
    )


def test_nested_maps_hash_recursively_as_in_the_specification():
    import hashlib

    def h(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    inner = h(h(b"arg") + h(b"DIDL\x00\x00"))
    assert hash_map({"reply": {"arg": b"DIDL\x00\x00"}}) == h(h(b"reply") + inner)


def test_absent_optional_fields_do_not_change_the_request_id():
    assert request_id({**SPEC_CALL, "nonce": None}) == request_id(SPEC_CALL)
    assert request_id({**SPEC_CALL, "nonce": b"\x01"}) != request_id(SPEC_CALL)


def test_read_state_paths_hash_as_arrays_of_arrays():
    content = {"request_type": "read_state", "sender": b"\x04", "ingress_expiry": 1, "paths": [[b"time"], []]}
    assert request_id(content) == to_request_id(content)


@settings(max_examples=60, deadline=None)
@given(
    sender=st.binary(min_size=1, max_size=29),
    expiry=st.integers(min_value=0, max_value=2**64 - 1),
    canister=st.binary(max_size=29),
    method=st.text(max_size=20),
    arg=st.binary(max_size=64),
)
def test_request_ids_agree_with_ic_py(sender, expiry, canister, method, arg):
    content = {
        "request_type": "call",
        "sender": sender,
        "ingress_expiry": expiry,
        "canister_id": canister,
        "method_name": method,
        "arg": arg,
    }
    assert request_id(content) == to_request_id(content)


def test_unhashable_values_are_refused():
    with pytest.raises(TypeError):
        request_id({"flag": True})
    with pytest.raises(TypeError):
        request_id({"value": 1.5})


def test_hash_tree_digest_matches_the_specification_example():
    tree = cbor2.loads(SPEC_TREE_CBOR)
    assert hash_tree.digest(tree).hex() == SPEC_ROOT
    assert hash_tree.digest(cbor2.loads(SPEC_PRUNED_CBOR)).hex() == SPEC_ROOT


def test_lookup_in_the_specification_trees():
    tree = cbor2.loads(SPEC_TREE_CBOR)
    assert hash_tree.lookup(tree, [b"a", b"y"]) == b"world"
    assert hash_tree.lookup(tree, [b"d"]) == b"morning"
    assert hash_tree.lookup(tree, [b"e"]) is hash_tree.ABSENT
    pruned = cbor2.loads(SPEC_PRUNED_CBOR)
    assert hash_tree.lookup(pruned, [b"a", b"y"]) == b"world"
    assert hash_tree.lookup(pruned, [b"a", b"x"]) is hash_tree.UNKNOWN


def test_built_trees_sort_labels_and_keep_every_value():
    labeled = {b"time": b"\x01", b"a": {b"z": b"1", b"b": b"2", b"\x00": {b"deep": b""}}}
    tree = hash_tree.build(labeled)
    assert hash_tree.lookup(tree, [b"a", b"b"]) == b"2"
    assert hash_tree.lookup(tree, [b"a", b"\x00", b"deep"]) == b""
    assert hash_tree.lookup(tree, [b"time"]) == b"\x01"
    labels = hash_tree.labels(tree, [b"a"])
    assert labels == sorted(labels)
    # The same content gives the same digest whatever the insertion order.
    assert hash_tree.digest(tree) == hash_tree.digest(hash_tree.build(dict(reversed(list(labeled.items())))))
    assert hash_tree.build({}) == [hash_tree.EMPTY]


def test_the_spec_tree_rebuilt_from_its_content_has_its_labels():
    tree = hash_tree.build(
        {b"a": {b"x": b"hello", b"y": b"world"}, b"b": b"good", b"c": {}, b"d": b"morning"}
    )
    assert hash_tree.lookup(tree, [b"a", b"x"]) == b"hello"
    assert hash_tree.subtree(tree, [b"c"]) == [hash_tree.EMPTY]
    assert hash_tree.lookup(tree, [b"c"]) is hash_tree.ABSENT
