"""The transport against localnet with a small sample canister: v3 and v2 calls, nonces, certificates,
rejects as exceptions, and HTTP failures as TransportError."""

from __future__ import annotations

import pytest
from ic.candid import decode
from simple_db_client import Ed25519Identity, P256Identity, Principal, Secp256k1Identity
from simple_db_client.agent import Agent
from simple_db_client.errors import CertificateError, RejectError, TransportError

from tests.client.store_kit import NO_ARGS, history, text_args


@pytest.mark.parametrize("identity", [Ed25519Identity(), Secp256k1Identity(), P256Identity()], ids=repr)
def test_signed_updates_run_once_each_even_when_identical(store, identity):
    net, canister = store
    agent = Agent(net.url, identity, fetch_root_key=True)
    assert agent.root_key == net.root_key
    before = history(agent, canister)
    agent.update(canister, "put", text_args("k", "v"))
    agent.update(canister, "put", text_args("k", "v"))
    assert history(agent, canister) == before + 2
    assert decode(agent.query(canister, "whoami", NO_ARGS))[0]["value"].bytes == identity.principal.bytes


def test_v2_polling_fallback_gives_the_same_replies(store):
    net, canister = store
    agent = Agent(net.url, Ed25519Identity(), fetch_root_key=True)
    agent._use_v3 = False
    reply = decode(agent.update(canister, "put", text_args("fallback", "1")))[0]["value"]
    assert reply == []
    assert decode(agent.query(canister, "get", text_args("fallback")))[0]["value"] == ["1"]


def test_rejects_are_exceptions_for_queries_and_updates(store):
    net, canister = store
    agent = Agent(net.url, Ed25519Identity(), fetch_root_key=True)
    with pytest.raises(RejectError, match="no query method") as info:
        agent.query(canister, "nope", NO_ARGS)
    assert info.value.code == 5 and info.value.error_code
    with pytest.raises(RejectError, match="no update method"):
        agent.update(canister, "nope", NO_ARGS)
    with pytest.raises(RejectError, match="no way") as info:
        agent.update(canister, "refuse", text_args("no way"))
    assert info.value.code == 4


def test_certificates_under_another_root_key_are_refused(store):
    net, canister = store
    mainnet = Agent(net.url, Ed25519Identity())
    with pytest.raises(CertificateError, match="signature"):
        mainnet.update(canister, "put", text_args("k", "v"))


def test_http_errors_become_transport_errors(store):
    net, _ = store
    agent = Agent(net.url, Ed25519Identity(), fetch_root_key=True)
    missing = Principal(b"\x00" * 9 + b"\x01")
    with pytest.raises((TransportError, RejectError)):
        agent.update(missing, "put", text_args("k", "v"))
    agent.ingress_expiry = 3600  # beyond the 5 minutes the IC accepts
    with pytest.raises(TransportError, match="HTTP 400"):
        agent.query(Principal.from_text(net.canister_id("store")), "history_len", NO_ARGS)
