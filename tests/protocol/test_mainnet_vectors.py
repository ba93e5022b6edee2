"""Real mainnet certificates from the official agents (tests/protocol/vectors/README.md says where each
comes from): sharded and plain canister ranges, the range check with and without a delegation, the
delegation age cap, node keys, and malformed variants that must fail with CertificateError only."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ic_protocol.certificate import (
    DELEGATION_MAX_AGE_S,
    canister_ranges,
    certificate_time,
    parse_certificate,
    verify_certificate,
)
from ic_protocol.constants import MAINNET_ROOT_KEY
from ic_protocol.errors import CertificateError, NotAuthorized
from ic_protocol.principal import from_text, to_text
from ic_protocol.query_signature import subnet_node_keys
from ic_protocol.tagged_cbor import loads

VECTORS = Path(__file__).parent / "vectors"
IVG37 = from_text("ivg37-qiaaa-aaaab-aaaga-cai")
RYJL3 = from_text("ryjl3-tyaaa-aaaaa-aaaba-cai")  # the ICP ledger, on the NNS subnet
ERXUE = from_text("erxue-5aaaa-aaaab-qaagq-cai")
_224OD = from_text("224od-giaaa-aaaao-ae5vq-cai")
RDMX6 = from_text("rdmx6-jaaaa-aaaaa-aaadq-cai")
UZR34 = from_text("uzr34-akd3s-xrdag-3ql62-ocgoh-ld2ao-tamcv-54e7j-krwgb-2gm4z-oqe")


def read_state_cert(name: str) -> dict:
    """The certificate in an agent-rs read_state reply body."""
    return parse_certificate(loads((VECTORS / name).read_bytes())["certificate"])


def golden(name: str) -> dict:
    return parse_certificate(bytes.fromhex((VECTORS / f"agent_js_{name}.hex").read_text().strip()))


def verify_at_its_time(cert: dict, canister: bytes | None, **kwargs) -> None:
    verify_certificate(cert, MAINNET_ROOT_KEY, canister, now_ns=certificate_time(cert), **kwargs)


@pytest.mark.parametrize("name", ["ivg37_time.bin", "ivg37_delegated_v2.bin"])
def test_delegated_certificates_verify_for_a_canister_in_range(name):
    verify_at_its_time(read_state_cert(name), IVG37)


@pytest.mark.parametrize("name", ["ivg37_time.bin", "ivg37_delegated_v2.bin"])
def test_a_delegated_certificate_served_for_another_canister_is_not_authorized(name):
    with pytest.raises(NotAuthorized):
        verify_at_its_time(read_state_cert(name), RYJL3)


@pytest.mark.parametrize("name", ["ivg37_time_pruned_ranges.bin", "ivg37_delegated_v2_pruned_subnet.bin"])
def test_a_delegation_without_its_ranges_is_refused(name):
    with pytest.raises(CertificateError):
        verify_at_its_time(read_state_cert(name), IVG37)


def test_sharded_ranges_are_read_from_canister_ranges():
    cert = read_state_cert("ivg37_time.bin")
    inner = parse_certificate(cert["delegation"]["certificate"])
    subnet = cert["delegation"]["subnet_id"]
    ranges = canister_ranges(inner, subnet)
    assert any(low <= IVG37 <= high for low, high in ranges)
    assert len(canister_ranges(inner, subnet, IVG37)) <= len(ranges)  # one shard only


def test_subnet_read_state_vector_lists_ranges_and_node_keys():
    cert = read_state_cert("uzr34_node_keys.bin")
    verify_at_its_time(cert, None)
    assert cert["delegation"]["subnet_id"] == UZR34
    assert canister_ranges(cert, UZR34)
    from ic_protocol.query_signature import node_keys

    assert node_keys(cert, UZR34)


def test_subnet_certificate_node_keys_for_a_canister_of_that_subnet():
    cert = read_state_cert("224od_subnet.bin")
    verify_at_its_time(cert, _224OD)
    keys = subnet_node_keys(cert, MAINNET_ROOT_KEY, _224OD)
    assert len(keys) >= 4 and all(len(key) == 44 for key in keys.values())


def test_subnet_certificate_served_for_a_canister_elsewhere_is_not_authorized():
    """agent-rs's wrong_subnet_query_certificate: 224od's /subnet served at rdmx6's read_state."""
    cert = read_state_cert("224od_subnet.bin")
    with pytest.raises(NotAuthorized):
        verify_at_its_time(cert, RDMX6)
    with pytest.raises(NotAuthorized):
        subnet_node_keys(cert, MAINNET_ROOT_KEY, RDMX6)


def test_nns_node_keys_are_trusted_only_for_canisters_in_the_nns_ranges():
    """Gap 1: agent-js's mainnetSystem has no delegation. Its node keys hold for the ledger (on the NNS)
    but not for ivg37: otherwise one NNS node could sign query replies for any canister."""
    cert = golden("mainnetSystem")
    assert cert.get("delegation") is None
    verify_at_its_time(cert, RYJL3)
    keys = subnet_node_keys(cert, MAINNET_ROOT_KEY, RYJL3)
    assert len(keys) == 40  # agent-js's snapshot
    assert from_text("ego73-sreyv-vpdjs-gxxxh-jormr-swyro-toj4x-obghz-sbk32-duwid-dae") in keys
    with pytest.raises(NotAuthorized):
        subnet_node_keys(cert, MAINNET_ROOT_KEY, IVG37)


def test_application_subnet_node_keys_through_a_delegation():
    cert = golden("mainnetApplication")
    verify_at_its_time(cert, ERXUE)
    assert to_text(cert["delegation"]["subnet_id"]).startswith("pae4o-")
    keys = subnet_node_keys(cert, MAINNET_ROOT_KEY, ERXUE)
    assert len(keys) == 13
    assert from_text("djil5-54fkt-55svu-26a7h-ttflx-dqn6u-3w3j6-zyuwg-cfwuo-7oi46-uae") in keys
    with pytest.raises(NotAuthorized):
        subnet_node_keys(cert, MAINNET_ROOT_KEY, RYJL3)


def test_a_delegation_older_than_thirty_days_is_refused():
    """Gap 2: the delegation's own time is capped at 30 days (as agent-js), whatever the outer age."""
    cert = golden("mainnetApplication")
    inner_time = certificate_time(parse_certificate(cert["delegation"]["certificate"]))
    day = 86400 * 10**9
    verify_certificate(cert, MAINNET_ROOT_KEY, ERXUE, max_age_s=float("inf"), now_ns=inner_time + 29 * day)
    with pytest.raises(CertificateError, match="delegation"):
        verify_certificate(
            cert, MAINNET_ROOT_KEY, ERXUE, max_age_s=float("inf"), now_ns=inner_time + 31 * day
        )
    assert DELEGATION_MAX_AGE_S == 30 * 86400


def test_an_old_certificate_is_refused_at_the_current_time():
    with pytest.raises(CertificateError, match="old"):
        verify_certificate(read_state_cert("ivg37_time.bin"), MAINNET_ROOT_KEY, IVG37)


RAW = (VECTORS / "ivg37_time.bin").read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_certificates_fail_only_with_certificate_error(data):
    """Gap 5: flipped, cut or inserted bytes anywhere give CertificateError, never another exception."""
    raw = bytearray(loads(RAW)["certificate"])
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            raw[where] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "cut":
            del raw[where:]
            if not raw:
                raw = bytearray(b"\x00")
        else:
            raw[where:where] = data.draw(st.binary(min_size=1, max_size=4))
    cert_time = certificate_time(parse_certificate(loads(RAW)["certificate"]))
    try:
        cert = parse_certificate(bytes(raw))
        verify_certificate(cert, MAINNET_ROOT_KEY, IVG37, now_ns=cert_time)
    except CertificateError:
        pass


@pytest.mark.parametrize(
    "cert",
    [
        {"tree": [1, [0]], "signature": b"\x00" * 48},
        {"tree": [2, 5, [0]], "signature": b"\x00" * 48},
        {"tree": [0], "signature": b"\x00" * 47},
        {"tree": [0], "signature": b"\x00" * 48, "delegation": {"subnet_id": b"x"}},
        {"tree": [0], "signature": b"\x00" * 48, "delegation": {"subnet_id": b"x", "certificate": b"\xff"}},
        {"tree": "x", "signature": b""},
        [],
    ],
)
def test_malformed_certificate_shapes_raise_certificate_error(cert):
    with pytest.raises(CertificateError):
        verify_certificate(cert, MAINNET_ROOT_KEY, IVG37)
