"""Sender authentication, ingress expiry and request-status privacy: every scheme accepted, every
forgery refused with a clear HTTP error and nothing executed."""

import time

import cbor2
import pytest
from fake_replica import FakeReplica
from signing_kit import Http, Signer, content, envelope, expiry

from ic_protocol.principal import self_authenticating
from ic_protocol.request_id import hash_map, request_id


@pytest.fixture
def net(localnet):
    return localnet({"counter": "counter.py"}, replica_factory=FakeReplica)


@pytest.fixture
def http(net):
    client = Http(net.url)
    yield client
    client.close()


def _call(http, net, body: bytes, version: str = "v3"):
    return http.post(f"/api/{version}/canister/{net.canister_id('counter')}/call", body)


@pytest.mark.parametrize("scheme", ["ed25519", "secp256k1", "p256", "anonymous"])
def test_each_signature_scheme_is_accepted(net, http, scheme):
    signer = Signer(scheme)
    response = _call(
        http, net, envelope(content("call", signer, net.canister_id("counter"), method_name="inc"), signer)
    )
    assert response.status_code == 200, response.text
    assert net.replica.executions == 1


@pytest.mark.parametrize("scheme", ["ed25519", "secp256k1", "p256"])
def test_a_bad_signature_is_refused(net, http, scheme):
    signer = Signer(scheme)
    body = content("call", signer, net.canister_id("counter"), method_name="inc")
    forged = envelope(body, signer, sender_sig=signer.sign(b"\x0aic-request" + b"\x00" * 32))
    response = _call(http, net, forged)
    assert response.status_code == 403
    assert "Invalid signature" in response.text
    assert net.replica.executions == 0


def test_a_signature_over_other_content_is_refused(net, http):
    signer = Signer()
    body = content("call", signer, net.canister_id("counter"), method_name="inc")
    other = dict(body, method_name="add")
    response = _call(
        http, net, envelope(body, signer, sender_sig=signer.sign(b"\x0aic-request" + request_id(other)))
    )
    assert response.status_code == 403
    assert net.replica.executions == 0


def test_a_sender_that_is_not_the_keys_principal_is_refused(net, http):
    signer, victim = Signer(), Signer()
    body = content("call", signer, net.canister_id("counter"), method_name="inc", sender=victim.sender)
    response = _call(http, net, envelope(body, signer))
    assert response.status_code == 403
    assert "sender" in response.text
    assert net.replica.executions == 0


def test_a_signed_request_needs_key_and_signature(net, http):
    signer = Signer()
    body = content("call", signer, net.canister_id("counter"), method_name="inc")
    unsigned = cbor2.dumps({"content": body})
    assert _call(http, net, unsigned).status_code == 403


def test_an_anonymous_request_must_not_carry_a_signature(net, http):
    signer, anonymous = Signer(), Signer("anonymous")
    body = content("call", anonymous, net.canister_id("counter"), method_name="inc")
    response = _call(
        http, net, envelope(body, anonymous, sender_pubkey=signer.public_der, sender_sig=b"x" * 64)
    )
    assert response.status_code == 400
    assert net.replica.executions == 0


@pytest.mark.parametrize("offset_s", [-30, 3600])
@pytest.mark.parametrize("kind", ["call", "query", "read_state"])
def test_expiry_outside_the_window_is_refused(net, http, offset_s, kind):
    signer = Signer()
    cid = net.canister_id("counter")
    body = content(kind, signer, cid, ingress_expiry=expiry(offset_s))
    path = {
        "call": "v2/canister/{}/call",
        "query": "v2/canister/{}/query",
        "read_state": "v2/canister/{}/read_state",
    }
    response = http.post("/api/" + path[kind].format(cid), envelope(body, signer))
    assert response.status_code == 400
    assert "Invalid request expiry:" in response.text
    assert net.replica.executions == 0


def test_expiry_at_the_edges_of_the_window_is_accepted(net, http):
    signer = Signer()
    for offset_s in (5, 300):
        body = content(
            "call", signer, net.canister_id("counter"), method_name="inc", ingress_expiry=expiry(offset_s)
        )
        assert _call(http, net, envelope(body, signer)).status_code == 200
    assert net.replica.executions == 2


def test_request_status_is_readable_only_by_its_sender(net, http):
    owner, stranger = Signer(), Signer()
    cid = net.canister_id("counter")
    body = content("call", owner, cid, method_name="inc")
    assert _call(http, net, envelope(body, owner), "v2").status_code == 202
    paths = [[b"request_status", request_id(body)]]
    for reader in (stranger, Signer("anonymous")):
        response = http.post(
            f"/api/v2/canister/{cid}/read_state", envelope(content("read_state", reader, paths=paths), reader)
        )
        assert response.status_code == 403
    own = http.post(
        f"/api/v2/canister/{cid}/read_state", envelope(content("read_state", owner, paths=paths), owner)
    )
    assert own.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xfe not cbor",
        cbor2.dumps([1, 2]),
        cbor2.dumps({"content": "x"}),
        cbor2.dumps({"no": "content"}),
    ],
)
def test_malformed_bodies_are_refused(net, http, body):
    for path in ("call", "query", "read_state"):
        response = http.post(f"/api/v2/canister/{net.canister_id('counter')}/{path}", body)
        assert response.status_code == 400, (path, response.text)
    assert net.replica.executions == 0


def test_content_fields_are_type_checked(net, http):
    signer = Signer("anonymous")
    cid = net.canister_id("counter")
    bad_fields = (
        {"arg": "text"},
        {"ingress_expiry": "soon"},
        {"ingress_expiry": True},
        {"method_name": b"inc"},
        {"nonce": b"n" * 33},
        {"sender": b"s" * 30},
        {7: b"non-text key"},
    )
    for bad in bad_fields:
        body = content("call", signer, cid, method_name="inc")
        body.update(bad)
        response = _call(http, net, envelope(body, signer))
        assert response.status_code == 400, bad
    wrong_type = content("query", signer, cid)
    assert _call(http, net, envelope(wrong_type, signer)).status_code == 400
    assert net.replica.executions == 0


def test_the_canister_must_match_the_url(net, localnet, http):
    signer = Signer()
    body = content("call", signer, net.canister_id("counter"), method_name="inc")
    response = http.post("/api/v3/canister/aaaaa-aa/call", envelope(body, signer))
    assert response.status_code == 400
    assert http.post("/api/v3/canister/not-a-principal/call", envelope(body, signer)).status_code == 400


def test_an_unknown_canister_is_not_found(net, http):
    signer = Signer()
    missing = "ryjl3-tyaaa-aaaaa-aaaba-cai"
    from ic_protocol.principal import from_text

    for kind in ("call", "query"):
        body = content(kind, signer, missing, method_name="inc")
        response = http.post(f"/api/v2/canister/{missing}/{kind}", envelope(body, signer))
        assert response.status_code == 404
        assert "not found" in response.text
    assert from_text(missing) not in net.replica.counters


def test_oversized_bodies_are_refused(net, http):
    response = http.post(
        f"/api/v2/canister/{net.canister_id('counter')}/call", b"\x00" * (4 * 1024 * 1024 + 1)
    )
    assert response.status_code == 413


@pytest.mark.parametrize("version", ["v2", "v3", "v4"])
def test_an_update_over_2_mib_is_refused_with_the_ics_error(net, http, version):
    signer = Signer()
    cid = net.canister_id("counter")
    body = content("call", signer, cid, method_name="inc", arg=b"DIDL\x00\x00" + bytes(2 * 1024 * 1024))
    signed = envelope(body, signer)
    response = http.post(f"/api/{version}/canister/{cid}/call", signed)
    assert response.status_code == 413
    assert response.text == (
        f"Request 0x{request_id(body).hex()} is too large. Message byte size {len(signed)} "
        "is larger than the max allowed 2097152."
    )
    # a query of the same size is not an ingress message: it is executed (and rejected by the canister)
    query = content("query", signer, cid, method_name="get", arg=body["arg"])
    assert http.post(f"/api/v2/canister/{cid}/query", envelope(query, signer)).status_code == 200


def _delegation(from_signer: Signer, to_signer: Signer, expiration: int, targets=None) -> dict:
    delegation = {"pubkey": to_signer.public_der, "expiration": expiration}
    if targets is not None:
        delegation["targets"] = targets
    signature = from_signer.sign(b"\x1aic-request-auth-delegation" + hash_map(delegation))
    return {"delegation": delegation, "signature": signature}


def test_a_delegation_chain_is_followed(net, http):
    identity, session = Signer(), Signer("p256")
    body = content("call", identity, net.canister_id("counter"), method_name="inc")
    chain = [_delegation(identity, session, expiry(600))]
    signed = envelope(
        body, identity, sender_delegation=chain, sender_sig=session.sign(b"\x0aic-request" + request_id(body))
    )
    assert _call(http, net, signed).status_code == 200
    assert net.replica.executions == 1


def test_expired_or_misdirected_delegations_are_refused(net, http):
    from ic_protocol.principal import from_text

    identity, session = Signer(), Signer()
    for chain in (
        [_delegation(identity, session, time.time_ns() - 1)],
        [_delegation(identity, session, expiry(600), targets=[from_text("aaaaa-aa")])],
        [_delegation(session, session, expiry(600))],
    ):
        body = content("call", identity, net.canister_id("counter"), method_name="inc", nonce=bytes(8))
        signed = envelope(
            body,
            identity,
            sender_delegation=chain,
            sender_sig=session.sign(b"\x0aic-request" + request_id(body)),
        )
        assert _call(http, net, signed).status_code == 403
    assert net.replica.executions == 0
    assert self_authenticating(identity.public_der) == identity.sender


def test_malformed_delegation_targets_are_refused(net, http):
    identity, session = Signer(), Signer()
    body = content("call", identity, net.canister_id("counter"), method_name="inc")
    chain = [_delegation(identity, session, expiry(600), targets=5)]
    signed = envelope(
        body, identity, sender_delegation=chain, sender_sig=session.sign(b"\x0aic-request" + request_id(body))
    )
    assert _call(http, net, signed).status_code == 400
    assert net.replica.executions == 0
