"""Query replies are signed by the answering node (Ed25519): what is signed, the node keys of a
canister's subnet from a `/subnet` certificate, and the check of a reply's signatures."""

from __future__ import annotations

import time

from ic_protocol.certificate import check_in_ranges, parse_certificate, signing_subnet
from ic_protocol.constants import RESPONSE_DOMAIN
from ic_protocol.errors import CertificateError
from ic_protocol.hash_tree import MalformedTree, labels, lookup
from ic_protocol.request_id import hash_map


def response_hash(reply: dict, request_id: bytes, timestamp: int) -> bytes:
    """The representation-independent hash a node signs for a query reply (without the domain)."""
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
    return hash_map(fields)


def signed_content(reply: dict, request_id: bytes, timestamp: int) -> bytes:
    """The message a node's Ed25519 signature covers: the domain separator and the response hash."""
    return RESPONSE_DOMAIN + response_hash(reply, request_id, timestamp)


def node_keys(cert: dict, subnet_id: bytes) -> dict[bytes, bytes]:
    """Node id -> DER public key of every node of `subnet_id` in a (verified) `/subnet` certificate."""
    tree = cert["tree"]
    keys = {}
    try:
        for node in labels(tree, [b"subnet", subnet_id, b"node"]):
            key = lookup(tree, [b"subnet", subnet_id, b"node", node, b"public_key"])
            if isinstance(key, bytes):
                keys[node] = key
    except MalformedTree as exc:
        raise CertificateError(f"malformed certificate tree: {exc}") from exc
    return keys


def subnet_node_keys(cert: dict, root_key: bytes, canister_id: bytes) -> dict[bytes, bytes]:
    """The node keys of the subnet that signed a verified `/subnet` certificate read at `canister_id`,
    after checking the canister is in that subnet's ranges, with or without a delegation: otherwise one
    root-subnet node could sign query replies for any canister."""
    subnet = signing_subnet(cert, root_key)
    delegation = cert.get("delegation")
    ranges_cert = parse_certificate(delegation["certificate"]) if delegation else cert
    check_in_ranges(ranges_cert, subnet, canister_id)
    keys = node_keys(cert, subnet)
    if not keys:
        raise CertificateError("the subnet certificate lists no node keys")
    return keys


def verify_query_reply(
    reply: dict, request_id: bytes, keys: dict[bytes, bytes], max_age_s: float, now_ns: int | None = None
) -> None:
    """Raise CertificateError unless every signature of `reply` is a fresh, valid one by a known node."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    signatures = reply.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise CertificateError("the query reply is not signed by any node")
    now = time.time_ns() if now_ns is None else now_ns
    for entry in signatures:
        if not isinstance(entry, dict):
            raise CertificateError("malformed query reply signature")
        node, timestamp, signature = entry.get("identity"), entry.get("timestamp"), entry.get("signature")
        if not isinstance(node, bytes) or node not in keys:
            raise CertificateError("the query reply is signed by a node not in the canister's subnet")
        if not isinstance(timestamp, int) or abs(now - timestamp) > max_age_s * 1e9:
            raise CertificateError("the query reply's signature is not fresh")
        try:
            key = load_der_public_key(keys[node])
        except (ValueError, TypeError) as exc:
            raise CertificateError("a node key is not a valid DER public key") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise CertificateError("a node key is not an Ed25519 key")
        try:
            key.verify(signature, signed_content(reply, request_id, timestamp))
        except (InvalidSignature, TypeError, KeyError) as exc:
            raise CertificateError("the query reply's node signature is invalid") from exc
