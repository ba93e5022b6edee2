"""The review's attacks on the cost cuts on Kybra's own interpreter (localnet's rustpython runtime): audit
entries heard and then rolled back (a batch failing at its end, a timer step of a stepwise delete stopped
by a Restrict link), certified creates that take the ordered index's text paths (quotes, backslashes,
an astral character), an upgrade (a new heap); after each, the tip certificate, every block and every
certified entity verify, and counts by title match what was created. Deployed from a copy of the source
with a per-message delete share of 2 (canister_fixtures.small_share_copy)."""

from __future__ import annotations

import pytest
from canister_fixtures import callers, deploy, small_share_copy, verified_chain, with_types
from canister_harness import field_def, policy, relation_def, type_def

from localnet import rustpython_runtime
from localnet.replica import Replica
from localnet.subnet_keys import SubnetKeys

pytestmark = pytest.mark.skipif(not rustpython_runtime.available(), reason=rustpython_runtime.SKIP_REASON)

KEYS = SubnetKeys.generate()
NODE = type_def("c::Node", [field_def("title", "Text", high=40.0, indexed=True)],
                access=policy(certified=True),
                relations=[relation_def("parent", "ManyToOne", "c::Node", "children", "Cascade")])
LOCK = type_def("c::Lock", [field_def("title", "Text")],
                relations=[relation_def("nodes", "ManyToMany", "c::Node", "locks", "Restrict")])
TITLES = ['q"uote', "back\\slash", "𝄞", 'q"uote', "é"]


def _title(text: str) -> dict:
    return {"name": "title", "value": {"Text": text}}


def _verified(net, ids: list) -> int:
    """The tip index after checking the tip certificate, every block and every certified node."""
    return verified_chain(net, KEYS, "c::Node", ids)[0]


def _counts(net) -> dict:
    return {title: net.admin.ok("count", "c::Node", [_title(title)]) for title in set(TITLES)}


def test_rolled_back_entries_and_blocked_timer_steps_keep_the_chain_verifiable(tmp_path):
    entry = small_share_copy(tmp_path, 2)
    with Replica(tmp_path / "state", runtime="rustpython") as replica:
        cid = deploy(replica, entry=entry)
        net = with_types(callers(replica, cid), [NODE, LOCK])
        ids = []
        for i in range(8):
            parent = [{"name": "parent", "value": {"Int": ids[-1]}}] if ids else []
            ids.append(net.alice.ok("create", "c::Node", [_title(TITLES[i % len(TITLES)])] + parent)["id"])
        lock = net.alice.ok("create", "c::Lock", [_title("l")])["id"]
        assert net.alice.call("link", "c::Lock", lock, "nodes", ids[6]) == {"Ok": None}
        counts = _counts(net)
        tip = _verified(net, ids)

        # a batch whose creates and update are heard, then rolled back by its last op
        create = {"Create": {"type_name": "c::Node", "fields": [_title('q"uote')]}}
        update = {"Update": {"type_name": "c::Node", "id": ids[1], "fields": [_title("𝄞")],
                             "expected_version": []}}
        stale = {"Update": {"type_name": "c::Node", "id": ids[2], "fields": [_title("é")],
                            "expected_version": [99]}}
        assert "Conflict" in net.alice.call("batch", [create, create, update, stale])["Err"]
        assert _verified(net, ids) == tip and _counts(net) == counts
        created = net.alice.ok("create", "c::Node", [_title("é")])["id"]   # the numbers given back, reused
        assert _verified(net, ids + [created]) == tip + 1

        # the family's delete goes on in timer steps until the lock stops one (that step rolls back)
        replica.set_time(replica.time_ns())
        assert net.alice.call("delete", "c::Node", ids[0]) == {"Ok": None}
        while replica.advance_time(1_000_000_000):
            pass
        assert net.alice.err("delete_continue", "c::Node", ids[0])[0] == "Conflict"
        left = [i for i in ids + [created] if "Ok" in net.alice.call("get", "c::Node", i)]
        assert ids[6] in left and ids[0] not in left
        _verified(net, left)

        assert deploy(replica, entry=entry) == cid   # a new heap
        tip = _verified(net, left)
        net.alice.ok("update", "c::Node", ids[6], [_title("é")], [])   # (it was back\\slash)
        again = net.alice.ok("create", "c::Node", [_title('q"uote')])["id"]
        assert _verified(net, left + [again]) == tip + 2
        titles = {}
        for i in left + [again]:
            title = net.alice.ok("get", "c::Node", i)["fields"][0]["value"]["Text"]
            titles[title] = titles.get(title, 0) + 1
        assert {t: c for t, c in _counts(net).items() if c} == titles
