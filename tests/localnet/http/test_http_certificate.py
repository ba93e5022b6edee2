"""Certificates and keys: BLS signatures, certificate round trips and tampering, principal text."""

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signing_kit import verify_certificate

from ic_protocol import bls, hash_tree
from ic_protocol.certificate import CertificateError
from ic_protocol.principal import from_text, self_authenticating, to_text
from localnet.certificate import certify
from localnet.subnet_keys import SubnetKeys

KEYS = SubnetKeys.generate()
LABELED = {
    b"time": b"\x01",
    b"request_status": {b"r" * 32: {b"status": b"replied", b"reply": b"DIDL\x00\x00"}},
}


def test_bls_signatures_verify_only_for_their_key_and_message():
    secret = bls.new_secret()
    signature = bls.sign(secret, b"message")
    assert len(signature) == 48 and len(bls.public_key(secret)) == 96
    assert bls.verify(signature, b"message", bls.public_key_der(secret))
    assert not bls.verify(signature, b"other", bls.public_key_der(secret))
    assert not bls.verify(signature, b"message", bls.public_key_der(bls.new_secret()))
    with pytest.raises(bls.BlsError):
        bls.verify(b"\x00" * 48, b"message", bls.public_key_der(secret))


def test_root_key_der_has_the_ic_prefix():
    der = KEYS.root_key_der
    assert der.hex().startswith("308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100")
    assert der[-96:] == bls.public_key(KEYS.root_secret)
    with pytest.raises(bls.BlsError, match="not a DER-encoded BLS12-381 public key"):
        bls.verify(bls.sign(KEYS.root_secret, b"m"), b"m", der[:-1])


def test_certificate_round_trip():
    certificate = certify(LABELED, KEYS)
    assert certificate[:3] == b"\xd9\xd9\xf7"
    tree = verify_certificate(certificate, KEYS.root_key_der)
    assert hash_tree.lookup(tree, [b"request_status", b"r" * 32, b"status"]) == b"replied"


def test_a_tampered_certificate_is_refused():
    decoded = cbor2.loads(certify(LABELED, KEYS))
    decoded["tree"] = hash_tree.build({**LABELED, b"time": b"\x02"})
    with pytest.raises(CertificateError, match="signature is invalid"):
        verify_certificate(cbor2.dumps(decoded), KEYS.root_key_der)


def test_a_certificate_under_another_root_key_is_refused():
    with pytest.raises(CertificateError):
        verify_certificate(certify(LABELED, SubnetKeys.generate()), KEYS.root_key_der)
    with pytest.raises(CertificateError, match="malformed"):
        verify_certificate(b"\x00", KEYS.root_key_der)


def test_ids_derive_from_the_keys():
    assert KEYS.subnet_id == self_authenticating(KEYS.root_key_der)
    assert KEYS.node_id == self_authenticating(KEYS.node_key_der)
    assert len(KEYS.node_key_der) == 44


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=29))
def test_principal_text_round_trips(raw):
    assert from_text(to_text(raw)) == raw


@pytest.mark.parametrize(
    "text",
    ["", "aaaaa-ab", "AAAAA-AB", "rrkah-fqaaa-aaaaa-aaaaq-caj", "rrkahfqaaaaaaaaaaaqcai", "not a principal!"],
)
def test_malformed_principal_text_is_refused(text):
    with pytest.raises(ValueError):
        from_text(text)


def test_principal_text_is_case_insensitive():
    assert from_text("AAAAA-AA") == b""
    assert from_text("RRKAH-FQAAA-AAAAA-AAAAQ-CAI") == from_text("rrkah-fqaaa-aaaaa-aaaaq-cai")


def test_known_principals():
    assert to_text(b"") == "aaaaa-aa"
    assert to_text(b"\x04") == "2vxsx-fae"
    assert from_text("rrkah-fqaaa-aaaaa-aaaaq-cai") == bytes.fromhex("00000000000000010101")


def test_data_certificates_are_reused_briefly_and_renewed_on_change():
    from localnet.data_certificates import REUSE_NS, DataCertificates

    now = [10**18]
    certificates = DataCertificates(KEYS, clock=lambda: now[0])
    first = certificates.certificate(b"cid", b"data")
    assert certificates.certificate(b"cid", b"data") == first
    changed = certificates.certificate(b"cid", b"other")
    assert changed != first
    tree = verify_certificate(changed, KEYS.root_key_der)
    assert hash_tree.lookup(tree, [b"canister", b"cid", b"certified_data"]) == b"other"
    now[0] += REUSE_NS
    assert certificates.certificate(b"cid", b"other") != changed
