"""Real clients, unchanged, against the HTTP interface: ic-py 1.0.1 and the icp CLI 1.5.0 (which
verifies BLS certificates and query node signatures), signed with each key type and anonymous."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fake_replica import COUNTER_DID, FakeReplica
from ic.candid import Types, encode

from ic_protocol import bls
from ic_protocol.principal import from_text
from localnet.subnet_keys import SubnetKeys


@pytest.fixture
def net(localnet):
    return localnet({"counter": "counter.py"}, replica_factory=FakeReplica)


@pytest.mark.parametrize("identity", ["ed25519", "secp256k1", "anonymous"])
def test_ic_py_update_and_query(net, ic_agent, identity):
    agent = ic_agent(net.url, identity)
    cid = net.canister_id("counter")
    assert agent.update_raw(cid, "add", encode([{"type": Types.Nat, "value": 3}]))[0]["value"] == 3
    assert agent.query_raw(cid, "get", encode([]))[0]["value"] == 3
    whoami = agent.query_raw(cid, "whoami", encode([]))[0]["value"]
    assert whoami.to_str() == agent.get_principal().to_str()


def test_ic_py_sees_rejects(net, ic_agent):
    agent = ic_agent(net.url)
    cid = net.canister_id("counter")
    with pytest.raises(Exception, match="deliberate failure"):
        agent.update_raw(cid, "fail", encode([]))
    assert "no query method" in agent.query_raw(cid, "inc", encode([]))


@pytest.mark.parametrize("key_type", ["ed25519", "secp256k1", "prime256v1", "anonymous"])
def test_icp_cli_update_and_query(net, icp, key_type):
    name = "anonymous" if key_type == "anonymous" else f"proto-{key_type}"
    principal = "2vxsx-fae" if key_type == "anonymous" else icp.new_identity(name, key_type)
    cid = net.canister_id("counter")
    assert icp.call(net.url, cid, "add", "(5)", identity=name).stdout.strip() == "(5 : nat)"
    assert icp.call(net.url, cid, "get", identity=name, query=True).stdout.strip() == "(5 : nat)"
    for query in (False, True):
        out = icp.call(net.url, cid, "whoami", identity=name, query=query).stdout
        assert f'principal "{principal}"' in out
    assert net.replica.counters[from_text(cid)] == 5


def test_icp_cli_reports_rejects(net, icp):
    result = icp.call(net.url, net.canister_id("counter"), "fail", check=False)
    assert result.returncode != 0
    assert "deliberate failure" in result.stderr and "IC0503" in result.stderr


def test_icp_cli_refuses_a_certificate_not_signed_by_the_root_key(net, icp, monkeypatch, tmp_path):
    did = tmp_path / "counter.did"
    did.write_text(COUNTER_DID)  # so the CLI reaches the update itself, not the metadata read
    rogue = bls.new_secret()
    monkeypatch.setattr(
        SubnetKeys, "sign_state_root", lambda self, root: bls.sign(rogue, b"\x0dic-state-root" + root)
    )
    result = icp.call(net.url, net.canister_id("counter"), "inc", check=False, extra=("--candid", str(did)))
    assert result.returncode != 0
    assert "(1 : nat)" not in result.stdout
    assert "Certificate verification failed" in result.stderr
    assert net.replica.executions == 1


def test_icp_cli_refuses_a_query_reply_not_signed_by_the_node(net, icp, monkeypatch):
    rogue = Ed25519PrivateKey.generate()
    monkeypatch.setattr(
        SubnetKeys, "sign_response", lambda self, digest: rogue.sign(b"\x0bic-response" + digest)
    )
    result = icp.call(net.url, net.canister_id("counter"), "get", query=True, check=False)
    assert result.returncode != 0
    assert "Query signature verification failed" in result.stderr
