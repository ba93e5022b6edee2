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


# agent-rs's secp256k1 test key (ic-agent/src/identity/secp256k1.rs, Apache-2.0) and its public key.
AGENT_RS_SECP256K1_PEM = """-----BEGIN EC PARAMETERS-----
BgUrgQQACg==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
MHQCAQEEIAgy7nZEcVHkQ4Z1Kdqby8SwyAiyKDQmtbEHTIM+WNeBoAcGBSuBBAAK
oUQDQgAEgO87rJ1ozzdMvJyZQ+GABDqUxGLvgnAnTlcInV3NuhuPv4O3VGzMGzeB
N3d26cRxD99TPtm8uo2OuzKhSiq6EQ==
-----END EC PRIVATE KEY-----
"""
AGENT_RS_SECP256K1_DER_PUBLIC = (
    "3056301006072a8648ce3d020106052b8104000a0342000480ef3bac9d68cf374cbc9c9943e180043a94c462ef8270274e"
    "57089d5dcdba1b8fbf83b7546ccc1b3781377776e9c4710fdf533ed9bcba8d8ebb32a14a2aba11"
)


def _sec1_without_curve(pem: str, keep_public: bool) -> str:
    """The same SEC1 key with its [0] curve parameters removed (what some tools write)."""
    import base64
    import textwrap

    body = "".join(pem.split("-----BEGIN EC PRIVATE KEY-----")[1].split("-----END")[0].split())
    der = base64.b64decode(body)
    assert der[7:9] == b"\x04\x20" or der[5:7] == b"\x04\x20"
    secret = der[7:39]
    rest = der[39:]
    assert rest[:2] == b"\xa0\x07"  # the curve OID element
    public = rest[9:] if keep_public else b""
    inner = b"\x02\x01\x01\x04\x20" + secret + public
    stripped = bytes([0x30, len(inner)]) + inner
    lines = textwrap.wrap(base64.b64encode(stripped).decode(), 64)
    return "-----BEGIN EC PRIVATE KEY-----\n" + "\n".join(lines) + "\n-----END EC PRIVATE KEY-----\n"


@pytest.mark.parametrize("keep_public", [True, False])
def test_sec1_keys_without_a_curve_oid_load_as_secp256k1(keep_public):
    identity = from_pem(_sec1_without_curve(AGENT_RS_SECP256K1_PEM, keep_public))
    assert isinstance(identity, Secp256k1Identity)
    assert identity.public_key_der.hex() == AGENT_RS_SECP256K1_DER_PUBLIC
    assert identity.principal == from_pem(AGENT_RS_SECP256K1_PEM).principal


def test_sec1_key_without_curve_whose_public_key_does_not_match_is_refused():
    import base64

    pem = _sec1_without_curve(AGENT_RS_SECP256K1_PEM, keep_public=True)
    body = "".join(pem.splitlines()[1:-1])
    der = bytearray(base64.b64decode(body))
    der[-1] ^= 1
    bad = (
        "-----BEGIN EC PRIVATE KEY-----\n"
        + base64.b64encode(bytes(der)).decode()
        + "\n-----END EC PRIVATE KEY-----\n"
    )
    with pytest.raises(ValueError, match="does not match"):
        from_pem(bad)
