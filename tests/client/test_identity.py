"""Identities: keys exported by icp/dfx load to the principals icp prints; seed phrases derive like icp."""

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from simple_db_client import (
    Ed25519Identity,
    Identity,
    P256Identity,
    Principal,
    Secp256k1Identity,
    from_pem,
    from_pem_file,
    from_seed_phrase,
    load_identity,
)
from simple_db_client.identity import SECP256K1_ORDER

VECTORS = Path(__file__).parent / "vectors"
EXPECTED = json.loads((VECTORS / "principals.json").read_text())
SEED = (VECTORS / "seed_phrase.txt").read_text()


@pytest.mark.parametrize("name", [n for n in EXPECTED if n.endswith(".pem")])
def test_pem_files_give_the_principal_icp_prints(name):
    assert str(from_pem_file(VECTORS / name).principal) == EXPECTED[name]


@pytest.mark.parametrize("curve", ["secp256k1", "prime256v1", "ed25519"])
def test_seed_phrase_derives_like_icp(curve):
    assert str(from_seed_phrase(SEED, curve).principal) == EXPECTED[f"seed_{curve}"]


def test_seed_phrase_derives_like_dfx_for_the_well_known_test_phrase():
    # The dfx/agent-js test phrase (12 x "peacock") fails the BIP39 checksum, so derive below the check.
    from mnemonic import Mnemonic
    from simple_db_client.identity import DFX_DERIVATION_PATH, derive_slip10

    seed = Mnemonic.to_seed(" ".join(["peacock"] * 12))
    identity = Secp256k1Identity.from_secret(derive_slip10(seed, DFX_DERIVATION_PATH))
    assert str(identity.principal) == "wnkwv-wdqb5-7wlzr-azfpw-5e5n5-dyxrf-uug7x-qxb55-mkmpa-5jqik-tqe"


def test_bad_seed_phrases_are_refused():
    with pytest.raises(ValueError, match="seed phrase"):
        from_seed_phrase(" ".join(["peacock"] * 12))
    with pytest.raises(ValueError, match="seed phrase"):
        from_seed_phrase("not a seed phrase at all")
    with pytest.raises(ValueError, match="curve"):
        from_seed_phrase(SEED, "rsa")


def test_anonymous_is_the_default():
    identity = load_identity(None)
    assert identity.is_anonymous and identity.sign(b"x") is None
    assert identity.principal == Principal.from_text("2vxsx-fae")
    assert load_identity("anonymous").is_anonymous


def test_load_identity_reads_pem_or_seed_phrase_files(tmp_path):
    assert str(load_identity(VECTORS / "icp_new.pem").principal) == EXPECTED["icp_new.pem"]
    assert str(load_identity(VECTORS / "seed_phrase.txt").principal) == EXPECTED["seed_secp256k1"]


def test_ed25519_signatures_verify():
    identity = Ed25519Identity()
    signature = identity.sign(b"message")
    identity.private_key.public_key().verify(signature, b"message")
    again = from_pem(identity.to_pem())
    assert again.principal == identity.principal


@pytest.mark.parametrize("cls", [Secp256k1Identity, P256Identity])
def test_ecdsa_signatures_are_raw_low_s_and_verify(cls):
    identity = cls()
    for i in range(8):
        message = b"message %d" % i
        signature = identity.sign(message)
        assert len(signature) == 64
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        assert s <= identity.order // 2
        public = serialization.load_der_public_key(identity.public_key_der)
        public.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    assert from_pem(identity.to_pem()).principal == identity.principal
    assert SECP256K1_ORDER == Secp256k1Identity.order


def test_malformed_pem_is_refused_clearly():
    with pytest.raises(ValueError, match="no PRIVATE KEY block"):
        from_pem("hello")
    with pytest.raises(ValueError, match="cannot read"):
        from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    rsa_like = (VECTORS / "icp_seed_ed25519.pem").read_text().replace("MFEC", "MFED")
    with pytest.raises(ValueError):
        from_pem(rsa_like)


def test_ed25519_pkcs8_v2_with_a_wrong_public_key_is_refused():
    import base64

    text = (VECTORS / "icp_seed_ed25519.pem").read_text().splitlines()
    der = bytearray(base64.b64decode("".join(text[1:-1])))
    der[-1] ^= 1
    pem = (
        "-----BEGIN PRIVATE KEY-----\n"
        + base64.b64encode(bytes(der)).decode()
        + "\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(ValueError, match="does not match"):
        from_pem(pem)


def test_identity_repr_names_the_principal():
    assert "2vxsx-fae" in repr(Identity())
