"""Certificates: a hash tree and the root key's BLS signature over its root hash, CBOR-encoded.

localnet only makes certificates; the client's `simple_db_client.certificate` verifies them."""

from __future__ import annotations

from localnet import hash_tree
from localnet.subnet_keys import SubnetKeys
from localnet.tagged_cbor import dumps_tagged

STATE_ROOT_DOMAIN = b"\x0dic-state-root"


def certify(labeled: hash_tree.LabeledMap, keys: SubnetKeys) -> bytes:
    """The CBOR certificate (self-describe tagged) of the tree built from `labeled`."""
    tree = hash_tree.build(labeled)
    signature = keys.sign_state_root(hash_tree.digest(tree))
    return dumps_tagged({"tree": tree, "signature": signature})
