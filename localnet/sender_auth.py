"""Sender authentication: the anonymous principal, or a self-authenticating principal whose DER public
key (Ed25519, ECDSA secp256k1 or P-256) signed the request id, optionally through a delegation chain."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_der_public_key

from ic_protocol.constants import DELEGATION_DOMAIN, REQUEST_DOMAIN
from ic_protocol.principal import ANONYMOUS, self_authenticating
from ic_protocol.request_id import hash_map
from localnet.envelope import Envelope
from localnet.http_error import HttpError

MAX_DELEGATIONS = 20
_CURVES = (ec.SECP256K1, ec.SECP256R1)


def _forbidden(message: str) -> HttpError:
    return HttpError(403, message)


def verify_signature(der_public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise HttpError(403) unless `signature` over `message` verifies under the DER public key."""
    try:
        key = load_der_public_key(der_public_key)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _forbidden(f"Invalid signature: unsupported or malformed public key ({exc})") from exc
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, _CURVES):
            if len(signature) != 64:
                raise InvalidSignature()
            der_sig = encode_dss_signature(
                int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            )
            key.verify(der_sig, message, ec.ECDSA(hashes.SHA256()))
        else:
            raise _forbidden("Invalid signature: unsupported public key algorithm")
    except InvalidSignature as exc:
        raise _forbidden(
            "Invalid signature: the signature does not verify under the sender's public key"
        ) from exc


def _signing_key(envelope: Envelope, now_ns: int) -> bytes:
    """Follow the delegation chain from sender_pubkey; the key that must have signed the request."""
    key = envelope.sender_pubkey
    chain = envelope.sender_delegation or []
    if len(chain) > MAX_DELEGATIONS:
        raise _forbidden(f"Invalid delegation: more than {MAX_DELEGATIONS} delegations")
    seen = {key}
    for link in chain:
        delegation = link.get("delegation") if isinstance(link, dict) else None
        signature = link.get("signature") if isinstance(link, dict) else None
        if not isinstance(delegation, dict) or not isinstance(signature, bytes):
            raise HttpError(400, "Invalid delegation: each entry needs a 'delegation' map and a 'signature'")
        pubkey, expiration = delegation.get("pubkey"), delegation.get("expiration")
        if not isinstance(pubkey, bytes) or not isinstance(expiration, int):
            raise HttpError(400, "Invalid delegation: 'pubkey' (blob) and 'expiration' (nat) are required")
        verify_signature(key, DELEGATION_DOMAIN + hash_map(delegation), signature)
        if expiration < now_ns:
            raise _forbidden("Invalid delegation: the delegation has expired")
        targets = delegation.get("targets")
        if targets is not None and not (
            isinstance(targets, list) and all(isinstance(t, bytes) for t in targets)
        ):
            raise HttpError(400, "Invalid delegation: 'targets' must be an array of canister ids")
        canister_id = envelope.content.get("canister_id")
        if targets is not None and canister_id is not None and canister_id not in targets:
            raise _forbidden("Invalid delegation: the canister is not among the delegation's targets")
        if pubkey in seen:
            raise _forbidden("Invalid delegation: the chain contains a cycle")
        seen.add(pubkey)
        key = pubkey
    return key


def authenticate(envelope: Envelope, now_ns: int) -> bytes:
    """Check the envelope authenticates its sender; return the sender principal's bytes."""
    sender = envelope.sender
    if sender == ANONYMOUS:
        if envelope.sender_pubkey or envelope.sender_sig or envelope.sender_delegation:
            raise HttpError(400, "an anonymous request must not carry a public key, signature or delegation")
        return sender
    if envelope.sender_pubkey is None or envelope.sender_sig is None:
        raise _forbidden(
            "Invalid signature: a request from a non-anonymous sender needs sender_pubkey and sender_sig"
        )
    if self_authenticating(envelope.sender_pubkey) != sender:
        raise _forbidden("Invalid signature: the sender is not the principal of sender_pubkey")
    key = _signing_key(envelope, now_ns)
    verify_signature(key, REQUEST_DOMAIN + envelope.request_id, envelope.sender_sig)
    return sender
