"""Certificates: hash trees, BLS signatures, delegations and freshness, checked on certificates built here."""

import hashlib
import time

import cbor2
import leb128
import pytest

from ic_protocol import bls
from ic_protocol.certificate import CertificateError, lookup, verify_certificate
from ic_protocol.constants import MAINNET_ROOT_KEY, STATE_ROOT_DOMAIN
from ic_protocol.hash_tree import ABSENT, UNKNOWN, build, digest
from ic_protocol.request_id import request_id

SECRET = 0x1234567890ABCDEF1234567890ABCDEF
ROOT_KEY = bls.public_key_der(SECRET)


def labeled(mapping):
    """A hash tree from nested dicts; bytes values become leaves."""
    return build(mapping)


def certify(tree, secret=SECRET, **extra):
    return {"tree": tree, "signature": bls.sign(secret, STATE_ROOT_DOMAIN + digest(tree)), **extra}


def now_leb():
    return bytes(leb128.u.encode(time.time_ns()))


def test_spec_request_id_example():
    content = {
        "request_type": "call",
        "canister_id": bytes.fromhex("00000000000004D2"),
        "method_name": "hello",
        "arg": b"DIDL\x00\xfd*",
    }
    assert request_id(content).hex() == "8781291c347db32a9d8c10eb62b710fce5a93be676474c42babc74c51858f94b"


def test_request_id_hashes_nested_paths_and_skips_none():
    with_paths = {"request_type": "read_state", "paths": [[b"request_status", b"\x01" * 32]], "nonce": None}
    assert request_id(with_paths) == request_id(
        {"request_type": "read_state", "paths": [[b"request_status", b"\x01" * 32]]}
    )


def test_empty_tree_digest_is_the_spec_value():
    assert digest([0]) == hashlib.sha256(b"\x11ic-hashtree-empty").digest()


def test_lookup_finds_absent_and_unknown_paths():
    tree = labeled({b"a": {b"x": b"1"}, b"c": b"3"})
    assert lookup({"tree": tree}, [b"a", b"x"]) == b"1"
    assert lookup({"tree": tree}, ["c"]) == b"3"
    assert lookup({"tree": tree}, [b"b"]) is ABSENT
    pruned = [1, [4, digest(tree[1])], tree[2]]
    assert digest(pruned) == digest(tree)
    assert lookup({"tree": pruned}, [b"a", b"x"]) is UNKNOWN


def test_a_valid_certificate_verifies():
    verify_certificate(certify(labeled({b"time": now_leb()})), ROOT_KEY, None)


def test_a_tampered_tree_or_wrong_key_fails():
    cert = certify(labeled({b"time": now_leb(), b"x": b"1"}))
    cert["tree"] = labeled({b"time": lookup(cert, [b"time"]), b"x": b"2"})
    with pytest.raises(CertificateError, match="signature"):
        verify_certificate(cert, ROOT_KEY, None)
    with pytest.raises(CertificateError, match="signature"):
        verify_certificate(certify(labeled({b"time": now_leb()})), MAINNET_ROOT_KEY, None)
    with pytest.raises(CertificateError, match="BLS12-381"):
        verify_certificate(certify(labeled({b"time": now_leb()})), b"\x30" * 10, None)


def test_stale_or_timeless_certificates_fail():
    old = bytes(leb128.u.encode(time.time_ns() - 3600 * 10**9))
    with pytest.raises(CertificateError, match="3600 s old"):
        verify_certificate(certify(labeled({b"time": old})), ROOT_KEY, None)
    with pytest.raises(CertificateError, match="no time"):
        verify_certificate(certify(labeled({b"x": b"1"})), ROOT_KEY, None)


def test_delegated_certificates_check_the_subnet_key_and_canister_range():
    subnet_secret, subnet_id, canister = 0xABCDEF, b"\x05" * 29, b"\x00" * 7 + b"\x01\x01\x01"
    subnet_key = bls.public_key_der(subnet_secret)
    ranges = cbor2.dumps([[b"\x00" * 7 + b"\x01\x00\x00", b"\x00" * 7 + b"\x01\xff\xff"]])
    inner = certify(
        labeled(
            {
                b"subnet": {subnet_id: {b"public_key": subnet_key, b"canister_ranges": ranges}},
                b"time": now_leb(),
            }
        )
    )
    delegation = {"subnet_id": subnet_id, "certificate": cbor2.dumps(inner)}
    cert = certify(labeled({b"time": now_leb()}), secret=subnet_secret, delegation=delegation)
    verify_certificate(cert, ROOT_KEY, canister)
    with pytest.raises(CertificateError, match="ranges"):
        verify_certificate(cert, ROOT_KEY, b"\x00" * 7 + b"\x02\x00\x00")
    forged = certify(labeled({b"time": now_leb()}), secret=subnet_secret + 1, delegation=delegation)
    with pytest.raises(CertificateError, match="signature"):
        verify_certificate(forged, ROOT_KEY, canister)


def test_query_reply_signatures_are_checked():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from ic_protocol.query_signature import node_keys, signed_content, verify_query_reply

    node = ed25519.Ed25519PrivateKey.generate()
    der = node.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    node_id, subnet, rid, now = b"\x07" * 29, b"\x05" * 29, b"\x01" * 32, time.time_ns()
    cert = certify(
        labeled({b"subnet": {subnet: {b"node": {node_id: {b"public_key": der}}}}, b"time": now_leb()})
    )
    keys = node_keys(cert, subnet)
    assert keys == {node_id: der}

    def signed(reply, timestamp=now, key=node, identity=node_id):
        signature = key.sign(signed_content(reply, rid, timestamp))
        return dict(
            reply, signatures=[{"timestamp": timestamp, "signature": signature, "identity": identity}]
        )

    replied = {"status": "replied", "reply": {"arg": b"DIDL\x00\x00"}}
    rejected = {"status": "rejected", "reject_code": 5, "reject_message": "no", "error_code": "IC0536"}
    verify_query_reply(signed(replied), rid, keys, 300)
    verify_query_reply(signed(rejected), rid, keys, 300)
    forged = signed(replied)
    forged["reply"] = {"arg": b"DIDL\x00\x01\x7e\x01"}
    for bad, message in [
        (forged, "invalid"),
        (signed(replied, key=ed25519.Ed25519PrivateKey.generate()), "invalid"),
        (signed(replied, identity=b"\x08" * 29), "not in the canister's subnet"),
        (signed(replied, timestamp=now - 3600 * 10**9), "not fresh"),
        (replied, "not signed"),
    ]:
        with pytest.raises(CertificateError, match=message):
            verify_query_reply(bad, rid, keys, 300)
