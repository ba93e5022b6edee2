"""IC certificates: hash-tree reconstruction and lookup, BLS signature, delegation and freshness checks."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import cbor2
import leb128
from pyblst import BlstP1Element, BlstP2Element, final_verify, miller_loop

from .errors import CertificateError

BLS_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
STATE_ROOT_DOMAIN = b"\x0dic-state-root"
# DER prefix of a BLS12-381 G2 public key (the IC root key and subnet keys).
BLS_KEY_DER_PREFIX = bytes.fromhex(
    "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100"
)
# The standard compressed generator of G2.
G2_GENERATOR = BlstP2Element.uncompress(
    bytes.fromhex(
        "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
        "024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
    )
)
# The IC mainnet root key (DER).
MAINNET_ROOT_KEY = BLS_KEY_DER_PREFIX + bytes.fromhex(
    "814c0e6ec71fab583b08bd81373c255c3c371b2e84863c98a4f1e08b74235d14fb5d9c0cd546d9685f913a0c0b2cc534"
    "1583bf4b4392e467db96d65b9bb4cb717112f8472e0d5a4d14505ffd7484b01291091c5f87b98883463f98091a0baaae"
)
EMPTY, FORK, LABELED, LEAF, PRUNED = range(5)
ABSENT = object()  # the path provably does not exist
UNKNOWN = object()  # the path is pruned away: the certificate says nothing about it


def _domain(name: bytes) -> bytes:
    return bytes([len(name)]) + name


def tree_digest(tree: list) -> bytes:
    """The root hash of a hash tree (`[0]`, `[1,l,r]`, `[2,label,t]`, `[3,value]`, `[4,hash]`)."""
    tag = tree[0]
    if tag == EMPTY:
        return hashlib.sha256(_domain(b"ic-hashtree-empty")).digest()
    if tag == FORK:
        return hashlib.sha256(
            _domain(b"ic-hashtree-fork") + tree_digest(tree[1]) + tree_digest(tree[2])
        ).digest()
    if tag == LABELED:
        return hashlib.sha256(_domain(b"ic-hashtree-labeled") + tree[1] + tree_digest(tree[2])).digest()
    if tag == LEAF:
        return hashlib.sha256(_domain(b"ic-hashtree-leaf") + tree[1]).digest()
    if tag == PRUNED:
        return tree[1]
    raise CertificateError(f"malformed hash tree node {tag!r}")


def _flatten(tree: list) -> list:
    if tree[0] == EMPTY:
        return []
    if tree[0] == FORK:
        return _flatten(tree[1]) + _flatten(tree[2])
    return [tree]


def lookup(path: list[bytes | str], tree: list) -> Any:
    """The leaf value at `path`, or ABSENT, or UNKNOWN (per the interface spec's lookup)."""
    if not path:
        if tree[0] == LEAF:
            return tree[1]
        if tree[0] == PRUNED:
            return UNKNOWN
        if tree[0] == EMPTY:
            return ABSENT
        raise CertificateError("a certificate path ends at an inner node")
    label = path[0].encode() if isinstance(path[0], str) else path[0]
    nodes = _flatten(tree)
    unknown = False
    for node in nodes:
        if node[0] == LABELED:
            if node[1] == label:
                return lookup(path[1:], node[2])
        else:
            unknown = True
    return UNKNOWN if unknown else ABSENT


def lookup_labels(path: list[bytes | str], tree: list) -> list[bytes]:
    """The labels directly below `path` (used for subnet node listings)."""
    for step in path:
        label = step.encode() if isinstance(step, str) else step
        tree = next((n[2] for n in _flatten(tree) if n[0] == LABELED and n[1] == label), [EMPTY])
    return [n[1] for n in _flatten(tree) if n[0] == LABELED]


def verify_bls(signature: bytes, message: bytes, public_key_der: bytes) -> bool:
    """BLS12-381 min-sig verification: e(sig, g2) == e(H(msg), pk)."""
    if len(public_key_der) != len(BLS_KEY_DER_PREFIX) + 96 or not public_key_der.startswith(
        BLS_KEY_DER_PREFIX
    ):
        raise CertificateError("the root key is not a DER-encoded BLS12-381 public key")
    try:
        sig = BlstP1Element.uncompress(signature)
        key = BlstP2Element.uncompress(public_key_der[len(BLS_KEY_DER_PREFIX) :])
    except Exception as exc:  # pyblst raises plain exceptions on points off the curve
        raise CertificateError(f"malformed BLS signature or key: {exc}") from exc
    hashed = BlstP1Element.hash_to_group(message, BLS_DST)
    return bool(final_verify(miller_loop(sig, G2_GENERATOR), miller_loop(hashed, key)))


def _canister_in_ranges(canister_id: bytes, ranges_cbor: bytes) -> bool:
    ranges = cbor2.loads(ranges_cbor)
    return any(low <= canister_id <= high for low, high in ranges)


def verify_certificate(
    cert: dict,
    root_key: bytes,
    canister_id: bytes | None,
    max_age_s: float = 300.0,
    now_ns: int | None = None,
) -> None:
    """Check a decoded certificate: signature (through a subnet delegation if any), the delegation's
    canister range, and that its `time` is within `max_age_s` of the local clock. Raise CertificateError."""
    tree, signature = cert.get("tree"), cert.get("signature")
    if not isinstance(tree, list) or not isinstance(signature, bytes):
        raise CertificateError("malformed certificate: tree and signature required")
    key = root_key
    delegation = cert.get("delegation")
    if delegation is not None:
        inner = cbor2.loads(delegation["certificate"])
        if inner.get("delegation") is not None:
            raise CertificateError("a delegation's certificate must not be delegated again")
        verify_certificate(inner, root_key, None, max_age_s=float("inf"))
        subnet = delegation["subnet_id"]
        key = lookup([b"subnet", subnet, b"public_key"], inner["tree"])
        if not isinstance(key, bytes):
            raise CertificateError("the delegation does not contain the subnet's public key")
        if canister_id is not None:
            ranges = lookup([b"subnet", subnet, b"canister_ranges"], inner["tree"])
            if not isinstance(ranges, bytes) or not _canister_in_ranges(canister_id, ranges):
                raise CertificateError("the canister is not in the delegated subnet's ranges")
    if not verify_bls(signature, STATE_ROOT_DOMAIN + tree_digest(tree), key):
        raise CertificateError("the certificate's BLS signature is invalid")
    raw_time = lookup([b"time"], tree)
    if not isinstance(raw_time, bytes):
        raise CertificateError("the certificate has no time")
    cert_time = leb128.u.decode(raw_time)
    now = time.time_ns() if now_ns is None else now_ns
    if abs(now - cert_time) > max_age_s * 1e9:
        raise CertificateError(
            f"the certificate's time is {abs(now - cert_time) / 1e9:.0f} s away from the local clock"
        )


def parse_certificate(raw: bytes) -> dict:
    """Decode a CBOR certificate (tag 55799 allowed)."""
    try:
        cert = cbor2.loads(raw)
    except Exception as exc:
        raise CertificateError(f"malformed certificate CBOR: {exc}") from exc
    if not isinstance(cert, dict):
        raise CertificateError("malformed certificate: not a map")
    return cert
