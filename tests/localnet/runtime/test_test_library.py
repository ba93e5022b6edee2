"""LocalNet as a test library (PocketIC style): in-process agents with typed calls, the clock under the
test's control with timers that fire deterministically, canisters created, installed and upgraded."""

from __future__ import annotations

from pathlib import Path

import pytest
from simple_db_client import Ed25519Identity

from localnet import LocalNet
from localnet import candid_codec as codec
from localnet.candid_types import Interface, Prim
from localnet.inprocess import CanisterReject

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
STORE = SAMPLE / "store" / "main.py"
GREETING = codec.encode((Prim("text"),), ["hello"], Interface())
SECOND = 1_000_000_000


@pytest.fixture(scope="module")
def net():
    with LocalNet(http=False) as net:
        net.replica.deploy("store", STORE, GREETING)
        yield net


def test_agents_call_in_process_with_typed_values(net):
    alice = Ed25519Identity()
    agent = net.agent(alice)
    assert agent.principal == alice.principal.to_str()
    assert agent.call("store", "whoami").to_str() == alice.principal.to_str()
    assert net.agent().call("store", "whoami").to_str() == "2vxsx-fae"  # None: anonymous
    agent.call("store", "put", "k", "v")
    assert agent.call("store", "get", "k") == "v"
    assert agent.call(net.canister_id("store"), "add", 2, -5) == -3  # by principal text too
    with pytest.raises(CanisterReject) as e:
        agent.call("store", "put_then_trap", "k", "x")
    assert e.value.code == 5 and e.value.error_code == "IC0503" and "boom after writes" in e.value.message
    assert agent.call("store", "get", "k") == "v"
    with pytest.raises(CanisterReject) as e:
        agent.call("store", "no_such_method")
    assert e.value.error_code == "IC0302"
    with pytest.raises(CanisterReject) as e:
        agent.call("aaaaa-aa", "canister_status", {"canister_id": net.canister_id("store")})
    assert e.value.error_code == "IC0512"  # the test library goes through the real checks
    with pytest.raises(RuntimeError, match="not running"):
        net.url  # noqa: B018 - no HTTP server with http=False


def test_timers_fire_when_the_test_moves_the_clock(net):
    agent = net.agent()
    start = net.time_ns() + 1_000 * SECOND
    net.set_time(start)
    agent.call("store", "start_timer", 60)
    assert net.advance_time(59 * SECOND) == 0
    assert agent.call("store", "get", "timer") is None
    assert net.advance_time(1 * SECOND) == 1
    assert agent.call("store", "get", "timer") == "fired by self"
    assert net.time_ns() >= start + 60 * SECOND
    with pytest.raises(ValueError, match="cannot go back"):
        net.set_time(start)


def test_create_install_upgrade_reinstall(net, tmp_path):
    admin = Ed25519Identity()
    cid = net.create_canister(controllers=[admin])
    agent = net.agent(admin)
    with pytest.raises(CanisterReject) as e:
        agent.call(cid, "get", "k")
    assert e.value.error_code == "IC0537"
    with pytest.raises(CanisterReject) as e:
        net.install(cid, STORE, GREETING, sender=Ed25519Identity())
    assert e.value.error_code == "IC0512"
    net.install(cid, STORE, GREETING)  # as its controller
    assert agent.call(cid, "get", "greeting") == "hello"
    agent.call(cid, "put", "k", "v")
    copy = tmp_path / "store"
    copy.mkdir()
    for path in STORE.parent.rglob("*.py"):
        target = copy / path.relative_to(STORE.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text())
    entry = copy / "main.py"
    entry.write_text(entry.read_text() + "\n\n@query\ndef version() -> text:\n    return 'v2'\n")
    net.upgrade(cid, entry, GREETING)
    assert agent.call(cid, "version") == "v2" and agent.call(cid, "get", "k") == "v"
    net.reinstall(cid, STORE, GREETING)
    assert agent.call(cid, "get", "k") is None
    with pytest.raises(CanisterReject):
        agent.call(cid, "version")
