"""The `LocalNet` Python API: start and stop, ids, deploy while serving, root key kept in the state dir."""

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
