"""BLS12-381 min-sig signatures as the IC uses them (48-byte G1 signatures, 96-byte G2 keys), via pyblst.

Verification is what clients need; signing (and key generation) is what localnet's subnet does."""

from __future__ import annotations

import secrets
from functools import lru_cache

from pyblst import BlstP1Element, BlstP2Element, final_verify, miller_loop

from ic_protocol.constants import BLS_DST, BLS_KEY_DER_PREFIX

# The order of the BLS12-381 groups: secret keys are scalars below it.
GROUP_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
G2_GENERATOR = BlstP2Element.uncompress(
    bytes.fromhex(
        "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
        "024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
    )
)


class BlsError(ValueError):
    """A key or signature that is not a valid BLS12-381 point."""


def key_from_der(public_key_der: bytes) -> bytes:
    """The 96 raw key bytes of a DER-encoded BLS public key; BlsError if it is not one."""
    if (
        not isinstance(public_key_der, bytes | bytearray)
        or len(public_key_der) != len(BLS_KEY_DER_PREFIX) + 96
        or not bytes(public_key_der).startswith(BLS_KEY_DER_PREFIX)
    ):
        raise BlsError("the key is not a DER-encoded BLS12-381 public key")
    return bytes(public_key_der[len(BLS_KEY_DER_PREFIX) :])


@lru_cache(maxsize=64)
def _key_point(raw_key: bytes) -> BlstP2Element:
    return BlstP2Element.uncompress(raw_key)


def verify(signature: bytes, message: bytes, public_key_der: bytes) -> bool:
    """BLS12-381 min-sig verification, e(sig, g2) == e(H(msg), pk); BlsError for malformed points."""
    raw_key = key_from_der(public_key_der)
    if not isinstance(signature, bytes | bytearray) or len(signature) != 48:
        raise BlsError("a BLS signature has 48 bytes")
    if signature[0] & 0x40 or raw_key[0] & 0x40:  # the point at infinity would verify anything
        raise BlsError("a BLS signature or key is the point at infinity")
    try:
        sig = BlstP1Element.uncompress(bytes(signature))
        key = _key_point(raw_key)
    except Exception as exc:  # pyblst raises plain exceptions on points off the curve
        raise BlsError(f"malformed BLS signature or key: {exc}") from exc
    hashed = BlstP1Element.hash_to_group(message, BLS_DST)
    return bool(final_verify(miller_loop(sig, G2_GENERATOR), miller_loop(hashed, key)))


def new_secret() -> int:
    """A fresh random secret key."""
    return 1 + secrets.randbelow(GROUP_ORDER - 1)


def public_key(secret: int) -> bytes:
    """The 96-byte compressed G2 public key of a secret key."""
    return G2_GENERATOR.scalar_mul(secret).compress()


def public_key_der(secret: int) -> bytes:
    """The DER encoding (133 bytes) of a secret key's public key, as /api/v2/status serves it."""
    return BLS_KEY_DER_PREFIX + public_key(secret)


def sign(secret: int, message: bytes) -> bytes:
    """The 48-byte signature of `message`."""
    return BlstP1Element.hash_to_group(message, BLS_DST).scalar_mul(secret).compress()
