"""Arbitrary bodies never crash the HTTP interface: each is answered or refused with a 4xx error."""

import cbor2
from fake_replica import FakeReplica
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signing_kit import Signer, content, envelope, submit

from ic_protocol.principal import to_text
from localnet.gateway import Gateway
from localnet.http_error import HttpError
from localnet.subnet_keys import SubnetKeys

REPLICA = FakeReplica()
CANISTER = to_text(REPLICA.deploy("counter", "c.py"))
GATEWAY = Gateway(REPLICA, SubnetKeys.generate())

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.binary(max_size=40),
    st.text(max_size=20),
)
values = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "request_type",
        "sender",
        "ingress_expiry",
        "nonce",
        "canister_id",
        "method_name",
        "arg",
        "paths",
        "other",
    ]
)


def _answer(kind: str, body: bytes) -> None:
    try:
        submit(GATEWAY, CANISTER, kind, body)
    except HttpError as error:
        assert 400 <= error.status < 500, error.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["query", "call", "read_state"]), body=st.binary(max_size=200))
def test_random_bytes(kind, body):
    _answer(kind, body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["query", "call", "read_state"]),
    changes=st.dictionaries(field_names, values, max_size=3),
    extra=st.dictionaries(
        st.sampled_from(["sender_pubkey", "sender_sig", "sender_delegation"]), values, max_size=2
    ),
)
def test_mutated_requests(kind, changes, extra):
    signer = Signer("anonymous")
    body = content(kind, signer, CANISTER, method_name="inc" if kind == "call" else "get")
    body.update(changes)
    _answer(kind, envelope(body, signer, **extra))
    _answer(kind, cbor2.dumps({"content": body, **extra}))
