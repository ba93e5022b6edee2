"""The local subnet's key material: the BLS root key that signs certificates and the Ed25519 node key
that signs query replies. Kept in the state directory so clients' fetched root key survives restarts."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ic_protocol import bls
from ic_protocol.constants import RESPONSE_DOMAIN, STATE_ROOT_DOMAIN
from ic_protocol.principal import self_authenticating

KEYS_FILE = "localnet_keys.json"


@dataclass(frozen=True)
class SubnetKeys:
    """The root (subnet) BLS key and the single node's Ed25519 key, with the ids derived from them."""

    root_secret: int
    node_seed: bytes

    @cached_property
    def root_key_der(self) -> bytes:
        return bls.public_key_der(self.root_secret)

    @cached_property
    def subnet_id(self) -> bytes:
        return self_authenticating(self.root_key_der)

    @cached_property
    def node_private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.node_seed)

    @cached_property
    def node_key_der(self) -> bytes:
        return self.node_private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @cached_property
    def node_id(self) -> bytes:
        return self_authenticating(self.node_key_der)

    def sign_state_root(self, root_hash: bytes) -> bytes:
        """The BLS signature a certificate carries over its tree's root hash."""
        return bls.sign(self.root_secret, STATE_ROOT_DOMAIN + root_hash)

    def sign_response(self, response_hash: bytes) -> bytes:
        """The node's Ed25519 signature over a query response's representation-independent hash."""
        return self.node_private_key.sign(RESPONSE_DOMAIN + response_hash)

    @classmethod
    def generate(cls) -> SubnetKeys:
        return cls(root_secret=bls.new_secret(), node_seed=os.urandom(32))

    @classmethod
    def load_or_create(cls, state_dir: str | Path) -> SubnetKeys:
        """Read the keys from the state directory, creating and saving them on first use."""
        path = Path(state_dir) / KEYS_FILE
        if path.exists():
            try:
                saved = json.loads(path.read_text())
                return cls(
                    root_secret=int(saved["root_secret"], 16), node_seed=bytes.fromhex(saved["node_seed"])
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path} is corrupt ({exc}); remove it to create new keys") from exc
        keys = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"root_secret": f"{keys.root_secret:x}", "node_seed": keys.node_seed.hex()}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return keys
