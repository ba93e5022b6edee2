"""Query replies are signed by the answering node (Ed25519): the message and the node-key lookup."""

from __future__ import annotations

import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key

from .certificate import lookup, lookup_labels
from .errors import CertificateError
from .request_id import hash_map

RESPONSE_DOMAIN = b"\x0bic-response"


def signed_content(reply: dict, request_id: bytes, timestamp: int) -> bytes:
    """What a node signs for a query reply: the response fields, the timestamp and the request id."""
    if reply.get("status") == "replied":
        fields = {"status": "replied", "reply": {"arg": reply["reply"]["arg"]}}
    else:
        fields = {
            "status": "rejected",
            "reject_code": reply.get("reject_code"),
            "reject_message": reply.get("reject_message"),
            "error_code": reply.get("error_code"),
        }
    fields.update(timestamp=timestamp, request_id=request_id)
    return RESPONSE_DOMAIN + hash_map(fields)


def node_keys(cert: dict, subnet_id: bytes) -> dict[bytes, bytes]:
    """Node id -> DER public key of every node of `subnet_id` in a (verified) `/subnet` certificate."""
    tree = cert["tree"]
    keys = {}
    for node in lookup_labels([b"subnet", subnet_id, b"node"], tree):
        key = lookup([b"subnet", subnet_id, b"node", node, b"public_key"], tree)
        if isinstance(key, bytes):
            keys[node] = key
    return keys


def verify_query_reply(reply: dict, request_id: bytes, keys: dict[bytes, bytes], max_age_s: float) -> None:
    """Raise CertificateError unless every signature of `reply` is a fresh, valid one by a known node."""
    signatures = reply.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise CertificateError("the query reply is not signed by any node")
    for entry in signatures:
        node, timestamp, signature = entry.get("identity"), entry.get("timestamp"), entry.get("signature")
        if node not in keys:
            raise CertificateError("the query reply is signed by a node not in the canister's subnet")
        if not isinstance(timestamp, int) or abs(time.time_ns() - timestamp) > max_age_s * 1e9:
            raise CertificateError("the query reply's signature is not fresh")
        key = load_der_public_key(keys[node])
        if not isinstance(key, Ed25519PublicKey):
            raise CertificateError("a node key is not an Ed25519 key")
        try:
            key.verify(signature, signed_content(reply, request_id, timestamp))
        except (InvalidSignature, TypeError) as exc:
            raise CertificateError("the query reply's node signature is invalid") from exc
