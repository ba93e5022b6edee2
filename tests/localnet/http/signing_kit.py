"""Test helpers that build and sign IC requests the way agents do, to probe the HTTP interface directly."""

from __future__ import annotations

import time

import cbor2
import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ic_protocol.certificate import parse_certificate
from ic_protocol.certificate import verify_certificate as verify_decoded
from ic_protocol.principal import ANONYMOUS, from_text, self_authenticating
from ic_protocol.request_id import request_id

_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class Signer:
    """A key of one scheme ("ed25519", "secp256k1", "p256") or the anonymous sender ("anonymous")."""

    def __init__(self, scheme: str = "ed25519"):
        self.scheme = scheme
        if scheme == "ed25519":
            self.key = ed25519.Ed25519PrivateKey.generate()
        elif scheme in ("secp256k1", "p256"):
            self.key = ec.generate_private_key(ec.SECP256K1() if scheme == "secp256k1" else ec.SECP256R1())
        elif scheme == "anonymous":
            self.key = None
        else:
            raise ValueError(scheme)

    @property
    def public_der(self) -> bytes | None:
        return None if self.key is None else self.key.public_key().public_bytes(*_SPKI)

    @property
    def sender(self) -> bytes:
        return ANONYMOUS if self.key is None else self_authenticating(self.public_der)

    def sign(self, message: bytes) -> bytes:
        if self.scheme == "ed25519":
            return self.key.sign(message)
        r, s = decode_dss_signature(self.key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def expiry(offset_s: float = 240) -> int:
    return int((time.time() + offset_s) * 1e9)


def content(kind: str, signer: Signer, canister_text: str = "", **fields) -> dict:
    """A request content map for `kind` ("call", "query", "read_state") with sensible defaults."""
    body = {"request_type": kind, "sender": signer.sender, "ingress_expiry": expiry()}
    if kind in ("call", "query"):
        body.update(canister_id=from_text(canister_text), method_name="get", arg=b"DIDL\x00\x00")
    else:
        body["paths"] = [[b"time"]]
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def submit(gateway, canister_text: str, kind: str, body: bytes):
    """Hand a CBOR `body` straight to a localnet Gateway as its `kind` route does ("query", "call" as a
    synchronous call, or "read_state"); the route's answer, or its HttpError raised."""
    if kind == "query":
        return gateway.query(canister_text, body)
    if kind == "call":
        return gateway.call(canister_text, body, synchronous=True)
    return gateway.read_state(body, canister_text=canister_text)


def envelope(body: dict, signer: Signer, **overrides) -> bytes:
    """The CBOR envelope of `body`, signed by `signer` (overrides replace envelope fields)."""
    env = {"content": body}
    if signer.key is not None:
        env["sender_pubkey"] = signer.public_der
        env["sender_sig"] = signer.sign(b"\x0aic-request" + request_id(body))
    env.update(overrides)
    return cbor2.dumps(cbor2.CBORTag(55799, env))


class Http:
    """A keep-alive HTTP client for one LocalNet."""

    def __init__(self, url: str):
        self.client = httpx.Client(base_url=url, timeout=30)

    def post(self, path: str, body: bytes) -> httpx.Response:
        return self.client.post(path, content=body, headers={"Content-Type": "application/cbor"})

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def close(self) -> None:
        self.client.close()


def verify_certificate(certificate: bytes, root_key_der: bytes) -> list:
    """Check a localnet certificate with the client's verifier (any age) and return its tree."""
    decoded = parse_certificate(certificate)
    verify_decoded(decoded, root_key_der, None, max_age_s=float("inf"))
    return decoded["tree"]
