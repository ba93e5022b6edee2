"""Who signs requests: anonymous, Ed25519 or secp256k1 keys from PEM files or a seed phrase."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from mnemonic import Mnemonic

from .principal import Principal

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# The derivation path dfx and icp use for seed phrases (BIP44, coin type 223 = ICP).
DFX_DERIVATION_PATH = "m/44'/223'/0'/0/0"
ED25519_DERIVATION_PATH = "m/44'/223'/0'/0'/0'"
# PKCS#8 (v1 or v2) Ed25519 header: SEQUENCE, version 0|1, AlgorithmIdentifier 1.3.101.112, OCTET STRING.
_ED25519_PKCS8 = re.compile(
    rb"\x30[\x2e\x51\x53]\x02\x01[\x00\x01]\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20", re.S
)
# SEC1 ECPrivateKey without the [0] curve parameters: SEQUENCE, version 1, OCTET STRING of 32 bytes,
# then nothing or the [1] public key (65-byte uncompressed point).
_SEC1_WITHOUT_CURVE = re.compile(rb"(\x30\x25|\x30\x6b)\x02\x01\x01\x04\x20", re.S)
_PEM_KEY_BLOCK = re.compile(
    rb"-----BEGIN (?:EC |ENCRYPTED )?PRIVATE KEY-----.*?-----END (?:EC |ENCRYPTED )?PRIVATE KEY-----", re.S
)


class Identity:
    """Anonymous: no key, the principal 2vxsx-fae. Subclasses sign with a private key."""

    public_key_der: bytes | None = None

    @property
    def principal(self) -> Principal:
        if self.public_key_der is None:
            return Principal.anonymous()
        return Principal.self_authenticating(self.public_key_der)

    @property
    def sender(self) -> bytes:
        """The raw sender bytes put in every request."""
        return self.principal.bytes

    @property
    def is_anonymous(self) -> bool:
        return self.public_key_der is None

    def sign(self, message: bytes) -> bytes | None:
        """The signature of `message`, or None when anonymous."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.principal})"


AnonymousIdentity = Identity


class Ed25519Identity(Identity):
    """An Ed25519 key (what `icp identity new` and `dfx identity new --key-type ed25519` make)."""

    def __init__(self, private_key: ed25519.Ed25519PrivateKey | None = None):
        self.private_key = private_key or ed25519.Ed25519PrivateKey.generate()
        self.public_key_der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Identity:
        """The key whose 32-byte private seed is `seed`."""
        return cls(ed25519.Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def to_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


class EcdsaIdentity(Identity):
    """An ECDSA key; signatures are raw r||s over SHA-256 with low S, as the IC expects."""

    curve: type[ec.EllipticCurve] = ec.SECP256K1
    order: int = SECP256K1_ORDER

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | None = None):
        self.private_key = private_key or ec.generate_private_key(self.curve())
        self.public_key_der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @classmethod
    def from_secret(cls, secret: int | bytes) -> EcdsaIdentity:
        number = int.from_bytes(secret, "big") if isinstance(secret, bytes) else secret
        return cls(ec.derive_private_key(number, cls.curve()))

    def sign(self, message: bytes) -> bytes:
        r, s = decode_dss_signature(self.private_key.sign(message, ec.ECDSA(hashes.SHA256())))
        s = min(s, self.order - s)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def to_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )


class Secp256k1Identity(EcdsaIdentity):
    """A secp256k1 key: dfx's default and what `icp identity new` makes."""


class P256Identity(EcdsaIdentity):
    """A NIST P-256 (prime256v1) key."""

    curve = ec.SECP256R1
    order = P256_ORDER


def from_pem(pem: bytes | str) -> Identity:
    """An identity from PEM text: PKCS#8 Ed25519 (icp, dfx) or SEC1 "EC PRIVATE KEY" secp256k1 (dfx)."""
    data = pem.encode() if isinstance(pem, str) else pem
    block = _PEM_KEY_BLOCK.search(data)
    if block is None:
        raise ValueError("no PRIVATE KEY block in the PEM data")
    if b"ENCRYPTED" in block.group(0).split(b"\n", 1)[0]:
        raise ValueError("the PEM key is encrypted: export it unencrypted (icp/dfx identity export)")
    try:
        key = serialization.load_pem_private_key(block.group(0), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        der = base64.b64decode(b"".join(block.group(0).splitlines()[1:-1]))
        if _SEC1_WITHOUT_CURVE.match(der) is not None:
            return _secp256k1_from_sec1_without_curve(der)
        if _ED25519_PKCS8.match(der) is None:
            raise ValueError(f"cannot read the PEM private key: {exc}") from exc
        return _ed25519_from_pkcs8_v2(der)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519Identity(key)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        for cls in (Secp256k1Identity, P256Identity):
            if isinstance(key.curve, cls.curve):
                return cls(key)
    raise ValueError(f"unsupported key type {type(key).__name__}: use Ed25519, secp256k1 or P-256")


def _secp256k1_from_sec1_without_curve(der: bytes) -> Secp256k1Identity:
    """SEC1 "EC PRIVATE KEY" with no curve parameters: secp256k1, as agent-rs reads it. An embedded
    public key must match."""
    identity = Secp256k1Identity.from_secret(der[7:39])
    rest = der[39:]
    if rest:
        public = identity.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        if rest != b"\xa1\x44\x03\x42\x00" + public:
            raise ValueError("the PEM key's public key does not match its private key on secp256k1")
    return identity


def _ed25519_from_pkcs8_v2(der: bytes) -> Ed25519Identity:
    """PKCS#8 v2 Ed25519 with the public key appended (icp and dfx write it; `cryptography` refuses it)."""
    identity = Ed25519Identity.from_seed(der[16:48])
    public = der[48:]
    expected = identity.public_key_der[-32:]
    if public and not (
        public[-32:] == expected and public[:-32] in (b"\x81\x21\x00", b"\xa1\x23\x03\x21\x00")
    ):
        raise ValueError("the PEM key's public key does not match its private key")
    return identity


def from_pem_file(path: str | Path) -> Identity:
    """An identity from a PEM file written by `icp identity export` or `dfx identity export`."""
    return from_pem(Path(path).read_bytes())


# SLIP-0010 master-key HMAC keys and curve orders (secp256k1 is plain BIP32).
_SLIP10 = {
    "secp256k1": (b"Bitcoin seed", SECP256K1_ORDER, ec.SECP256K1),
    "prime256v1": (b"Nist256p1 seed", P256_ORDER, ec.SECP256R1),
    "ed25519": (b"ed25519 seed", None, None),
}


def derive_slip10(seed: bytes, path: str, curve: str = "secp256k1") -> bytes:
    """The 32-byte private key at `path` below a BIP39 seed, by SLIP-0010 (BIP32 for secp256k1)."""
    if curve not in _SLIP10:
        raise ValueError(f"unknown curve {curve!r}: use one of {', '.join(_SLIP10)}")
    master_key, order, ec_curve = _SLIP10[curve]
    digest = hmac.new(master_key, seed, hashlib.sha512).digest()
    while order is not None and not 0 < int.from_bytes(digest[:32], "big") < order:
        digest = hmac.new(master_key, digest, hashlib.sha512).digest()
    key, chain = digest[:32], digest[32:]
    for step in path.split("/")[1:]:
        hardened = step.endswith("'")
        index = int(step.rstrip("'")) + (2**31 if hardened else 0)
        if order is None and not hardened:
            raise ValueError("ed25519 derivation supports hardened steps only")
        if hardened:
            data = b"\x00" + key
        else:
            data = (
                ec.derive_private_key(int.from_bytes(key, "big"), ec_curve())
                .public_key()
                .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
            )
        while True:
            digest = hmac.new(chain, data + index.to_bytes(4, "big"), hashlib.sha512).digest()
            if order is None:
                key, chain = digest[:32], digest[32:]
                break
            child = (int.from_bytes(digest[:32], "big") + int.from_bytes(key, "big")) % order
            if int.from_bytes(digest[:32], "big") < order and child != 0:
                key, chain = child.to_bytes(32, "big"), digest[32:]
                break
            data = b"\x01" + digest[32:]
    return key


def from_seed_phrase(
    phrase: str, curve: str = "secp256k1", passphrase: str = "", path: str | None = None
) -> Identity:
    """The identity dfx and icp derive from a BIP39 seed phrase (secp256k1 at m/44'/223'/0'/0/0 by default;
    `curve` as icp's --seed-curve: "secp256k1", "prime256v1" or "ed25519")."""
    words = " ".join(phrase.split())
    if not Mnemonic("english").check(words):
        raise ValueError("invalid seed phrase: unknown word or bad checksum (BIP39, English)")
    if path is None:
        path = ED25519_DERIVATION_PATH if curve == "ed25519" else DFX_DERIVATION_PATH
    secret = derive_slip10(Mnemonic.to_seed(words, passphrase), path, curve)
    if curve == "ed25519":
        return Ed25519Identity.from_seed(secret)
    return (Secp256k1Identity if curve == "secp256k1" else P256Identity).from_secret(secret)


def load_identity(source: str | Path | None) -> Identity:
    """Anonymous for None, "" or "anonymous"; else a file holding a PEM key or a seed phrase."""
    if source is None or str(source) in ("", "anonymous"):
        return Identity()
    data = Path(source).read_bytes()
    if b"-----BEGIN" in data:
        return from_pem(data)
    return from_seed_phrase(data.decode())
