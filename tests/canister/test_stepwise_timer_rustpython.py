"""The stepwise delete's timer on Kybra's RustPython (localnet's rustpython runtime): a cascade larger
than one message's share is finished by the timer the canister sets, one message per step, and the
deleted entities and their links are gone. To keep it to a few seconds the canister is deployed from a
copy of its source whose only change is the engine's per-message share (DEFAULT_DELETE_BUDGET, 2,000)
lowered to 2, so a dozen entities need several timer messages."""

from __future__ import annotations

import re

import pytest
from canister_fixtures import callers, deploy, small_share_copy, with_types
from canister_harness import field_def, relation_def, type_def

from localnet import rustpython_runtime
from localnet.replica import Replica
from localnet.state_store import read_stable_rows

pytestmark = pytest.mark.skipif(not rustpython_runtime.available(), reason=rustpython_runtime.SKIP_REASON)

SHARE = 2
NODE = type_def("t::Node", [field_def("label", "Text")],
                relations=[relation_def("parent", "ManyToOne", "t::Node", "children", "Cascade")])
TAG = type_def("t::Tag", [field_def("label", "Text")],
               relations=[relation_def("nodes", "ManyToMany", "t::Node", "tags", "SetNull")])


def _label(text: str) -> dict:
    return {"name": "label", "value": {"Text": text}}


def _child(net, parent: int, label: str) -> int:
    """A node of alice's under `parent` (Cascade: it goes with its parent); its id."""
    fields = [_label(label), {"name": "parent", "value": {"Int": parent}}]
    return net.alice.ok("create", "t::Node", fields)["id"]


def _job_keys(replica: Replica, cid: bytes) -> list:
    """Keys of stepwise-delete jobs, their stacks and held ids left in the canister's stable maps."""
    return [key for _, key, _ in read_stable_rows(replica.db_path, cid)
            if any(marker in bytes(key) for marker in (b"!dj:", b"!ds:", b"!dh:"))]


def test_the_timer_finishes_a_stepwise_delete_on_rustpython(tmp_path):
    entry = small_share_copy(tmp_path, SHARE)
    with Replica(tmp_path / "state", runtime="rustpython") as replica:
        cid = deploy(replica, entry=entry)
        net = with_types(callers(replica, cid), [NODE, TAG])
        root = net.alice.ok("create", "t::Node", [_label("root")])["id"]
        children = [_child(net, root, f"c{i}") for i in range(4)]
        grandchild = _child(net, children[0], "g")
        tag = net.bob.ok("create", "t::Tag", [_label("t")])["id"]
        for node in (root, children[1], grandchild):
            assert net.bob.call("link", "t::Tag", tag, "nodes", node) == {"Ok": None}
        replica.set_time(replica.time_ns())         # timers now run only when the test moves the clock

        assert net.alice.call("delete", "t::Node", root) == {"Ok": None}
        assert net.alice.err("get", "t::Node", root)[0] == "NotFound"
        assert net.admin.ok("count", "t::Node", []) > 0          # the rest waits for the timer
        assert _job_keys(replica, cid)

        messages = 0
        while ran := replica.advance_time(1_000_000_000):     # each due timer is a message; it sets the next
            messages += ran
        metered = re.findall(r"\[instructions\] update <timer>: (\d+)", replica.log_path(cid).read_text())
        assert messages >= 2 and len(metered) == messages      # each a message on the wasm interpreter
        assert net.admin.ok("count", "t::Node", []) == 0
        for node in (root, *children, grandchild):
            assert net.alice.err("get", "t::Node", node)[0] == "NotFound"
        assert net.bob.ok("links", "t::Tag", tag, "nodes", [], 10)["items"] == []   # its links are gone
        assert net.bob.ok("get", "t::Tag", tag)["id"] == tag          # the SetNull side stays
        assert net.alice.err("delete_continue", "t::Node", root)[0] == "NotFound"
        assert _job_keys(replica, cid) == []
