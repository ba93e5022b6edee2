"""Certificates: a hash tree and the root key's BLS signature over its root hash, CBOR-encoded."""

from __future__ import annotations

import cbor2

from localnet import bls, hash_tree
from localnet.subnet_keys import SubnetKeys
from localnet.tagged_cbor import dumps_tagged

STATE_ROOT_DOMAIN = b"\x0dic-state-root"


class CertificateError(ValueError):
    """A certificate that does not decode or whose signature does not verify."""


def certify(labeled: hash_tree.LabeledMap, keys: SubnetKeys) -> bytes:
    """The CBOR certificate (self-describe tagged) of the tree built from `labeled`."""
    tree = hash_tree.build(labeled)
    signature = keys.sign_state_root(hash_tree.digest(tree))
    return dumps_tagged({"tree": tree, "signature": signature})


def verify_certificate(certificate: bytes, root_key_der: bytes) -> hash_tree.Tree:
    """Check a certificate's signature under the root key (no delegations) and return its tree."""
    try:
        decoded = cbor2.loads(certificate)
        tree, signature = decoded["tree"], decoded["signature"]
    except Exception as exc:  # any decoding failure means the certificate is unusable
        raise CertificateError(f"malformed certificate: {exc}") from exc
    if decoded.get("delegation") is not None:
        raise CertificateError("certificates with a subnet delegation are not supported")
    message = STATE_ROOT_DOMAIN + hash_tree.digest(tree)
    if not bls.verify(bls.key_from_der(root_key_der), message, signature):
        raise CertificateError("the certificate's signature does not verify under the root key")
    return tree
