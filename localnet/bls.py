"""BLS12-381 min-sig signatures as the IC uses them (48-byte G1 signatures, 96-byte G2 keys), via pyblst."""

from __future__ import annotations

import secrets

from pyblst import BlstP1Element, BlstP2Element

DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
# The order of the BLS12-381 groups: secret keys are scalars below it.
GROUP_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
DER_PREFIX = bytes.fromhex("308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100")
_G2_GENERATOR = BlstP2Element.uncompress(
    bytes.fromhex(
        "93e02b6052719f607dacd3a088274f65596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e"
        "024aa2b2f08f0a91260805272dc51051c6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8"
    )
)



def new_secret() -> int:
    """A fresh random secret key."""
    return 1 + secrets.randbelow(GROUP_ORDER - 1)


def public_key(secret: int) -> bytes:
    """The 96-byte compressed G2 public key of a secret key."""
    return _G2_GENERATOR.scalar_mul(secret).compress()


def public_key_der(secret: int) -> bytes:
    """The DER encoding (133 bytes) of a secret key's public key, as /api/v2/status serves it."""
    return DER_PREFIX + public_key(secret)


def sign(secret: int, message: bytes) -> bytes:
    """The 48-byte signature of `message`."""
    return BlstP1Element.hash_to_group(message, DST).scalar_mul(secret).compress()
