"""Certificates: a hash tree and the root key's BLS signature over its root hash, CBOR-encoded.

localnet only makes certificates; `ic_protocol.certificate` verifies them."""

from __future__ import annotations

from ic_protocol import hash_tree
from ic_protocol.tagged_cbor import dumps_tagged
from localnet.subnet_keys import SubnetKeys


def certify(labeled: hash_tree.LabeledMap, keys: SubnetKeys) -> bytes:
    """The CBOR certificate (self-describe tagged) of the tree built from `labeled`."""
    tree = hash_tree.build(labeled)
    signature = keys.sign_state_root(hash_tree.digest(tree))
    return dumps_tagged({"tree": tree, "signature": signature})
