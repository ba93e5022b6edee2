"""IC certificates: decoding, the BLS signature over the tree's root (through a subnet delegation if
any), the delegation's canister ranges (plain or sharded) and age, and the certificate's freshness.

Every failure, including any malformation of untrusted input, raises CertificateError."""

from __future__ import annotations

import bisect
import time

import leb128

from ic_protocol import hash_tree
from ic_protocol.constants import STATE_ROOT_DOMAIN
from ic_protocol.errors import CertificateError, NotAuthorized
from ic_protocol.principal import self_authenticating
from ic_protocol.tagged_cbor import loads

DEFAULT_MAX_AGE_S = 300.0  # a reply's certificate may be this old (as agent-js: 5 minutes)
MAX_FUTURE_S = 300.0  # and this far ahead of the local clock (clock skew)
DELEGATION_MAX_AGE_S = 30 * 24 * 3600.0  # a subnet delegation may be 30 days old (as agent-js)

Range = tuple[bytes, bytes]


def parse_certificate(raw: object) -> dict:
    """Decode a CBOR certificate (self-describe tag allowed) and check its shape: a `tree`, a 48-byte
    `signature` and an optional `delegation` with `subnet_id` and `certificate` blobs."""
    if not isinstance(raw, bytes | bytearray):
        raise CertificateError("malformed certificate: not a blob")
    try:
        cert = loads(bytes(raw))
    except ValueError as exc:
        raise CertificateError(f"malformed certificate CBOR: {exc}") from exc
    return check_shape(cert)


def check_shape(cert: object) -> dict:
    """`cert` if it is shaped as a certificate; CertificateError naming what is wrong otherwise."""
    if not isinstance(cert, dict):
        raise CertificateError("malformed certificate: not a map")
    if not isinstance(cert.get("tree"), list):
        raise CertificateError("malformed certificate: the tree must be an array")
    if not isinstance(cert.get("signature"), bytes):
        raise CertificateError("malformed certificate: the signature must be a blob")
    delegation = cert.get("delegation")
    if delegation is not None:
        if not isinstance(delegation, dict):
            raise CertificateError("malformed certificate: the delegation must be a map")
        for field in ("subnet_id", "certificate"):
            if not isinstance(delegation.get(field), bytes):
                raise CertificateError(f"malformed certificate: the delegation's {field} must be a blob")
    return cert


def lookup(cert: dict, path: list[bytes | str]) -> bytes | object:
    """The leaf at `path` in a certificate's tree (ABSENT or UNKNOWN if not there)."""
    try:
        return hash_tree.lookup(cert["tree"], path)
    except hash_tree.MalformedTree as exc:
        raise CertificateError(f"malformed certificate tree: {exc}") from exc


def certificate_time(cert: dict) -> int:
    """The certificate's `/time` in nanoseconds."""
    raw = lookup(cert, [b"time"])
    if not isinstance(raw, bytes):
        raise CertificateError("the certificate has no time")
    try:
        return leb128.u.decode(raw)
    except Exception as exc:
        raise CertificateError("the certificate's time is not a LEB128 number") from exc


def _is_range(pair: object) -> bool:
    return isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, bytes) for p in pair)


def _decode_ranges(raw: object, what: str) -> list[Range]:
    if not isinstance(raw, bytes):
        raise NotAuthorized(f"the certificate does not hold {what}")
    try:
        ranges = loads(raw)
    except ValueError as exc:
        raise CertificateError(f"malformed canister ranges: {exc}") from exc
    if not isinstance(ranges, list) or not all(_is_range(pair) for pair in ranges):
        raise CertificateError("malformed canister ranges: expected an array of [low, high] principals")
    return [(low, high) for low, high in ranges]


def canister_ranges(cert: dict, subnet_id: bytes, canister_id: bytes | None = None) -> list[Range]:
    """The subnet's canister ranges in `cert`: from `/canister_ranges/<subnet>/<shard>` (sharded, as
    newer replicas certify them; with `canister_id` only the shard that may hold it) or else from
    `/subnet/<subnet>/canister_ranges`. NotAuthorized when the certificate holds neither."""
    try:
        shards = hash_tree.subtree(cert["tree"], [b"canister_ranges", subnet_id])
        if isinstance(shards, list):
            names = sorted(hash_tree.labels(shards))
            if canister_id is not None:
                index = bisect.bisect_right(names, canister_id)
                names = names[index - 1 : index] if index else []
            ranges: list[Range] = []
            for name in names:
                ranges += _decode_ranges(hash_tree.lookup(shards, [name]), "the canister range shard")
            return ranges
        raw = hash_tree.lookup(cert["tree"], [b"subnet", subnet_id, b"canister_ranges"])
    except hash_tree.MalformedTree as exc:
        raise CertificateError(f"malformed certificate tree: {exc}") from exc
    return _decode_ranges(raw, "the subnet's canister ranges")


def in_ranges(canister_id: bytes, ranges: list[Range]) -> bool:
    """Whether a canister id lies in one of the closed ranges (principals compare as byte strings)."""
    return any(low <= canister_id <= high for low, high in ranges)


def check_in_ranges(cert: dict, subnet_id: bytes, canister_id: bytes) -> None:
    """NotAuthorized unless `cert` shows `canister_id` within the subnet's canister ranges."""
    if not in_ranges(canister_id, canister_ranges(cert, subnet_id, canister_id)):
        raise NotAuthorized(
            "the canister is outside the subnet's canister ranges: the subnet may not answer for it"
        )


def _check_time(cert: dict, max_age_s: float, now_ns: int | None, what: str) -> None:
    cert_time = certificate_time(cert)
    now = time.time_ns() if now_ns is None else now_ns
    if now - cert_time > max_age_s * 1e9:
        raise CertificateError(
            f"{what} is {(now - cert_time) / 1e9:.0f} s old (at most {max_age_s:.0f} s allowed); "
            "if the local clock is wrong, correct it"
        )
    if cert_time - now > MAX_FUTURE_S * 1e9:
        raise CertificateError(
            f"{what} is {(cert_time - now) / 1e9:.0f} s ahead of the local clock; correct the clock"
        )


def delegation_key(
    cert: dict,
    root_key: bytes,
    canister_id: bytes | None,
    now_ns: int | None = None,
    delegation_max_age_s: float = DELEGATION_MAX_AGE_S,
) -> bytes:
    """The key that must have signed `cert`: the root key, or the delegated subnet's key after
    checking the delegation (signed by the root key, not delegated again, at most
    `delegation_max_age_s` old, and authorised for `canister_id` when one is given)."""
    delegation = cert.get("delegation")
    if delegation is None:
        return root_key
    inner = parse_certificate(delegation["certificate"])
    if inner.get("delegation") is not None:
        raise CertificateError("a delegation's certificate must not be delegated again")
    _check_signature(inner, root_key)
    _check_time(inner, delegation_max_age_s, now_ns, "the subnet delegation")
    subnet = delegation["subnet_id"]
    if canister_id is not None:
        check_in_ranges(inner, subnet, canister_id)
    key = lookup(inner, [b"subnet", subnet, b"public_key"])
    if not isinstance(key, bytes):
        raise CertificateError("the delegation does not contain the subnet's public key")
    return key


def _check_signature(cert: dict, key: bytes) -> None:
    from ic_protocol import bls  # pyblst loads with the first signature checked

    try:
        message = STATE_ROOT_DOMAIN + hash_tree.digest(cert["tree"])
        valid = bls.verify(cert["signature"], message, key)
    except (hash_tree.MalformedTree, bls.BlsError) as exc:
        raise CertificateError(f"malformed certificate: {exc}") from exc
    if not valid:
        raise CertificateError("the certificate's BLS signature is invalid")


def verify_certificate(
    cert: dict,
    root_key: bytes,
    canister_id: bytes | None,
    max_age_s: float = DEFAULT_MAX_AGE_S,
    now_ns: int | None = None,
    delegation_max_age_s: float = DELEGATION_MAX_AGE_S,
) -> None:
    """Check a decoded certificate: its shape, the signature (through a subnet delegation if any),
    that a delegated subnet may answer for `canister_id`, and that its `time` is at most `max_age_s`
    old (and not more than MAX_FUTURE_S ahead). Raise CertificateError."""
    check_shape(cert)
    key = delegation_key(cert, root_key, canister_id, now_ns, delegation_max_age_s)
    _check_signature(cert, key)
    _check_time(cert, max_age_s, now_ns, "the certificate")


def signing_subnet(cert: dict, root_key: bytes) -> bytes:
    """The id of the subnet whose key signed `cert`: the delegated subnet, else the root subnet."""
    delegation = cert.get("delegation")
    return delegation["subnet_id"] if delegation else self_authenticating(root_key)
