"""The `LocalNet` Python API: start and stop, ids, deploy while serving, root key kept in the state dir."""

import cbor2
import httpx
import pytest
from fake_replica import FakeReplica

from localnet import LocalNet
from localnet.subnet_keys import KEYS_FILE


def test_root_key_and_ids_survive_a_restart_on_the_same_state(tmp_path):
    with LocalNet({"counter": "c.py"}, state_dir=tmp_path, replica_factory=FakeReplica) as first:
        root_key, url = first.root_key, first.url
        assert first.canister_id("counter") == "rrkah-fqaaa-aaaaa-aaaaq-cai"
        assert httpx.get(url + "/api/v2/status").status_code == 200
    assert (tmp_path / KEYS_FILE).stat().st_mode & 0o077 == 0, "the key file is private"
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/api/v2/status", timeout=2)
    with LocalNet(state_dir=tmp_path, replica_factory=FakeReplica) as second:
        assert second.root_key == root_key


def test_a_temporary_state_is_removed_and_keys_differ(localnet):
    first = localnet(replica_factory=FakeReplica)
    state = first.state_dir
    assert state.is_dir()
    first.stop()
    assert not state.exists()
    second = localnet(replica_factory=FakeReplica)
    assert second.root_key != first.keys.root_key_der


def test_deploy_while_serving_and_unknown_names(localnet):
    net = localnet(replica_factory=FakeReplica)
    assert net.canister_ids() == {}
    cid = net.deploy("late", "late.py")
    assert net.canister_id("late") == cid
    with pytest.raises(KeyError, match="no canister named 'nope'"):
        net.canister_id("nope")


def test_a_corrupt_key_file_is_a_clear_error(tmp_path):
    (tmp_path / KEYS_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        LocalNet(state_dir=tmp_path, replica_factory=FakeReplica).start()


def test_not_running_is_a_clear_error():
    net = LocalNet(replica_factory=FakeReplica)
    with pytest.raises(RuntimeError, match="not running"):
        print(net.url)


def test_a_request_repeated_after_a_restart_is_not_executed_again(tmp_path):
    from signing_kit import Http, Signer, content, envelope, verify_certificate

    from ic_protocol import hash_tree
    from ic_protocol.request_id import request_id

    signer = Signer()
    with LocalNet({"counter": "c.py"}, state_dir=tmp_path, replica_factory=FakeReplica) as first:
        cid = first.canister_id("counter")
        body = content("call", signer, cid, method_name="inc")
        signed = envelope(body, signer)
        http = Http(first.url)
        assert http.post(f"/api/v2/canister/{cid}/call", signed).status_code == 202
        http.close()
        assert first.replica.executions == 1
    with LocalNet({"counter": "c.py"}, state_dir=tmp_path, replica_factory=FakeReplica) as second:
        http = Http(second.url)
        reply = http.post(f"/api/v3/canister/{cid}/call", signed)
        http.close()
        assert second.replica.executions == 0
        tree = verify_certificate(cbor2.loads(reply.content)["certificate"], second.root_key)
        assert hash_tree.lookup(tree, [b"request_status", request_id(body), b"status"]) == b"replied"


def test_expired_requests_are_pruned_from_the_store(tmp_path):
    from localnet.outcome import Reply
    from localnet.request_store import RequestRecord, RequestStore

    store = RequestStore(tmp_path / "requests.sqlite3")
    store.claim(b"old", RequestRecord(b"\x04", b"c", ingress_expiry=10))
    store.finish(b"old", Reply(b"DIDL\x00\x00"))
    store.claim(b"new", RequestRecord(b"\x04", b"c", ingress_expiry=10**30))
    store.finish(b"new", Reply(b"DIDL\x00\x00"))
    assert store.prune(now_ns=10**12) == 1
    store.close()
    reopened = RequestStore(tmp_path / "requests.sqlite3")
    assert reopened.get(b"old") is None
    assert reopened.get(b"new").status == "replied"
    reopened.close()
