"""The IC HTTP interface endpoints: status, query (v2, v3), call (v2, v3, v4), read_state."""

import cbor2
import pytest
from cryptography.hazmat.primitives.serialization import load_der_public_key
from fake_replica import FakeReplica
from ic.candid import Types, decode, encode
from signing_kit import Http, Signer, content, envelope, verify_certificate

from ic_protocol import hash_tree
from ic_protocol.principal import from_text, to_text
from ic_protocol.request_id import hash_map, request_id
from localnet.state_tree import nat


@pytest.fixture
def net(localnet):
    return localnet({"counter": "counter.py", "other": "other.py"}, replica_factory=FakeReplica)


@pytest.fixture
def http(net):
    client = Http(net.url)
    yield client
    client.close()


def _tagged(response) -> dict:
    assert response.content[:3] == b"\xd9\xd9\xf7", "replies carry the self-describe tag 55799"
    return cbor2.loads(response.content)


def _read_state(http, net, signer, paths, canister=None):
    canister = canister or net.canister_id("counter")
    body = envelope(content("read_state", signer, paths=paths), signer)
    response = http.post(f"/api/v2/canister/{canister}/read_state", body)
    assert response.status_code == 200, response.text
    return verify_certificate(_tagged(response)["certificate"], net.root_key)


def test_status_serves_the_root_key_and_health(net, http):
    status = _tagged(http.get("/api/v2/status"))
    assert status["root_key"] == net.root_key
    assert len(net.root_key) == 133
    assert status["replica_health_status"] == "healthy"
    assert status["impl_version"]


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_query_replies_with_a_node_signature_readable_from_the_subnet(net, http, version):
    signer = Signer()
    cid = net.canister_id("counter")
    body = content("query", signer, cid)
    reply = _tagged(http.post(f"/api/{version}/canister/{cid}/query", envelope(body, signer)))
    assert reply["status"] == "replied"
    assert decode(reply["reply"]["arg"])[0]["value"] == 0
    [signature] = reply["signatures"]
    tree = _read_state(http, net, signer, [[b"subnet"]])
    subnet_id = net.keys.subnet_id
    node_key = hash_tree.lookup(tree, [b"subnet", subnet_id, b"node", signature["identity"], b"public_key"])
    assert len(node_key) == 44
    signed = hash_map(
        {
            "status": "replied",
            "reply": reply["reply"],
            "timestamp": signature["timestamp"],
            "request_id": request_id(body),
        }
    )
    load_der_public_key(node_key).verify(signature["signature"], b"\x0bic-response" + signed)
    ranges = cbor2.loads(hash_tree.lookup(tree, [b"subnet", subnet_id, b"canister_ranges"]))
    assert any(low <= from_text(cid) <= high for low, high in ranges)
    assert hash_tree.lookup(tree, [b"subnet", subnet_id, b"public_key"]) == net.root_key


def test_query_rejects_carry_codes_and_a_signature(net, http):
    signer = Signer()
    cid = net.canister_id("counter")
    body = content("query", signer, cid, method_name="inc")
    reply = _tagged(http.post(f"/api/v2/canister/{cid}/query", envelope(body, signer)))
    assert reply["status"] == "rejected"
    assert (reply["reject_code"], reply["error_code"]) == (5, "IC0536")
    assert "no query method 'inc'" in reply["reject_message"]
    [signature] = reply["signatures"]
    signed = hash_map(
        {
            "status": "rejected",
            "reject_code": 5,
            "reject_message": reply["reject_message"],
            "error_code": "IC0536",
            "timestamp": signature["timestamp"],
            "request_id": request_id(body),
        }
    )
    load_der_public_key(net.keys.node_key_der).verify(signature["signature"], b"\x0bic-response" + signed)


def test_a_query_never_changes_state(net, http):
    signer = Signer()
    cid = net.canister_id("counter")
    http.post(f"/api/v2/canister/{cid}/query", envelope(content("query", signer, cid), signer))
    assert net.replica.executions == 0


def test_v2_call_is_accepted_then_its_status_is_polled(net, http):
    signer = Signer("secp256k1")
    cid = net.canister_id("counter")
    body = content("call", signer, cid, method_name="add", arg=encode([{"type": Types.Nat, "value": 7}]))
    response = http.post(f"/api/v2/canister/{cid}/call", envelope(body, signer))
    assert (response.status_code, response.content) == (202, b"")
    rid = request_id(body)
    tree = _read_state(http, net, signer, [[b"request_status", rid]])
    assert hash_tree.lookup(tree, [b"request_status", rid, b"status"]) == b"replied"
    assert decode(hash_tree.lookup(tree, [b"request_status", rid, b"reply"]))[0]["value"] == 7
    assert isinstance(hash_tree.lookup(tree, [b"time"]), bytes)


@pytest.mark.parametrize("version", ["v3", "v4"])
def test_sync_call_returns_a_certificate_of_the_reply(net, http, version):
    signer = Signer("p256")
    cid = net.canister_id("counter")
    body = content("call", signer, cid, method_name="inc")
    response = http.post(f"/api/{version}/canister/{cid}/call", envelope(body, signer))
    assert response.status_code == 200
    reply = _tagged(response)
    assert reply["status"] == "replied"
    tree = verify_certificate(reply["certificate"], net.root_key)
    rid = request_id(body)
    assert hash_tree.lookup(tree, [b"request_status", rid, b"status"]) == b"replied"
    assert decode(hash_tree.lookup(tree, [b"request_status", rid, b"reply"]))[0]["value"] == 1


def test_a_repeated_request_id_is_executed_once(net, http):
    signer = Signer()
    cid = net.canister_id("counter")
    body = envelope(content("call", signer, cid, method_name="inc"), signer)
    for path in ("v2", "v3", "v2", "v4"):
        assert http.post(f"/api/{path}/canister/{cid}/call", body).status_code in (200, 202)
    assert net.replica.executions == 1
    assert net.replica.counters[from_text(cid)] == 1


def test_a_trap_is_a_certified_reject(net, http):
    signer = Signer()
    cid = net.canister_id("counter")
    body = content("call", signer, cid, method_name="fail")
    tree = verify_certificate(
        _tagged(http.post(f"/api/v3/canister/{cid}/call", envelope(body, signer)))["certificate"],
        net.root_key,
    )
    rid = request_id(body)
    assert hash_tree.lookup(tree, [b"request_status", rid, b"status"]) == b"rejected"
    assert hash_tree.lookup(tree, [b"request_status", rid, b"reject_code"]) == nat(5)
    assert hash_tree.lookup(tree, [b"request_status", rid, b"error_code"]) == b"IC0503"
    assert b"deliberate failure" in hash_tree.lookup(tree, [b"request_status", rid, b"reject_message"])


def test_calling_a_missing_method_is_rejected_and_pollable(net, http):
    signer = Signer()
    cid = net.canister_id("counter")
    body = content("call", signer, cid, method_name="nope")
    assert http.post(f"/api/v2/canister/{cid}/call", envelope(body, signer)).status_code == 202
    rid = request_id(body)
    tree = _read_state(http, net, signer, [[b"request_status", rid]])
    assert hash_tree.lookup(tree, [b"request_status", rid, b"status"]) == b"rejected"
    assert hash_tree.lookup(tree, [b"request_status", rid, b"error_code"]) == b"IC0536"
    assert net.replica.executions == 0


def test_an_unknown_request_id_is_provably_absent(net, http):
    signer = Signer()
    tree = _read_state(http, net, signer, [[b"request_status", b"\x01" * 32]])
    assert hash_tree.lookup(tree, [b"request_status", b"\x01" * 32, b"status"]) is hash_tree.ABSENT


def test_read_state_canister_information(net, http):
    signer = Signer()
    cid = net.canister_id("counter")
    raw = from_text(cid)
    tree = _read_state(
        http,
        net,
        signer,
        [
            [b"canister", raw, b"module_hash"],
            [b"canister", raw, b"controllers"],
            [b"canister", raw, b"metadata", b"candid:service"],
        ],
    )
    assert hash_tree.lookup(tree, [b"canister", raw, b"module_hash"]) == net.replica.module_hash(raw)
    controllers = hash_tree.lookup(tree, [b"canister", raw, b"controllers"])
    assert controllers[:3] == b"\xd9\xd9\xf7" and cbor2.loads(controllers) == [b"\x04"]
    assert b"service" in hash_tree.lookup(tree, [b"canister", raw, b"metadata", b"candid:service"])


def test_canister_paths_must_match_the_effective_canister(net, http):
    signer = Signer()
    other = from_text(net.canister_id("other"))
    body = envelope(content("read_state", signer, paths=[[b"canister", other, b"module_hash"]]), signer)
    response = http.post(f"/api/v2/canister/{net.canister_id('counter')}/read_state", body)
    assert response.status_code == 400


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_subnet_read_state(net, http, version):
    signer = Signer("anonymous")
    sid = to_text(net.keys.subnet_id)
    body = envelope(content("read_state", signer, paths=[[b"subnet"], [b"time"]]), signer)
    reply = _tagged(http.post(f"/api/{version}/subnet/{sid}/read_state", body))
    tree = verify_certificate(reply["certificate"], net.root_key)
    assert hash_tree.lookup(tree, [b"subnet", net.keys.subnet_id, b"public_key"]) == net.root_key
    wrong = http.post(f"/api/{version}/subnet/{to_text(b'x' * 29)}/read_state", body)
    assert wrong.status_code == 404
    canister_path = envelope(content("read_state", signer, paths=[[b"request_status", b"\x00" * 32]]), signer)
    assert http.post(f"/api/{version}/subnet/{sid}/read_state", canister_path).status_code == 400


def test_unknown_paths_and_endpoints(net, http):
    signer = Signer()
    cid = net.canister_id("counter")
    body = envelope(content("read_state", signer, paths=[[b"nonsense"]]), signer)
    response = http.post(f"/api/v2/canister/{cid}/read_state", body)
    assert (response.status_code, response.text) == (404, "Invalid path requested.")
    assert http.post(f"/api/v1/canister/{cid}/query", b"").status_code == 404
    assert http.post(f"/api/v4/canister/{cid}/query", b"").status_code == 404
    assert http.get("/api/v3/status").status_code == 404
    assert http.post("/api/v2/status", b"").status_code == 404
