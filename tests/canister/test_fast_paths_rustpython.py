"""Issue 14's fast paths on Kybra's own interpreter (localnet's rustpython runtime), where they were
tuned: inline Text/Int checks refuse what the plain path refuses, index splices of non-ASCII text keep
order and counts, a batch failing part-way after changing the held entity changes nothing, and an
upgrade (a new heap) keeps the certified tip and chains on; the client's verifiers check it all."""

from __future__ import annotations

import pytest
from canister_fixtures import callers, deploy, verified_chain
from canister_harness import field, policy, text, type_def
from canister_harness import field_def as fdef

from localnet import rustpython_runtime
from localnet.replica import Replica
from localnet.subnet_keys import SubnetKeys

pytestmark = pytest.mark.skipif(not rustpython_runtime.available(), reason=rustpython_runtime.HOW_TO_GET)
KEYS = SubnetKeys.generate()
DOC = type_def("r::Doc", [fdef("title", "Text", high=40.0, indexed=True),
                          fdef("n", "Int", low=0.0, high=9.0)], access=policy(certified=True))
TITLES = ["é", "𝄞x", "a\u2028b", "\"q\\", "zz", "é"]


def verified(net) -> int:
    """The tip index after checking the tip certificate, every block and every certified document."""
    return verified_chain(net, KEYS, "r::Doc", range(1, len(TITLES) + 2))[0]


def titles_in_order(net) -> list:
    request = {"type_name": "r::Doc", "filters": [], "order": [{"field": "title", "descending": False}],
               "cursor": [], "limit": 100}
    return [next(iter(e["fields"][0]["value"].values())) for e in net.admin.ok("query", request)["items"]]


def test_fast_paths_refuse_change_nothing_and_survive_an_upgrade():
    with Replica(runtime="rustpython") as replica:
        net = callers(replica, deploy(replica))
        assert net.admin.call("define_type", DOC, False) == {"Ok": None}
        for i, title in enumerate(TITLES):
            net.alice.ok("create", "r::Doc", [field("title", text(title)), field("n", {"Int": i})])
        for bad in ({"Int": 10}, {"Int": -1}, {"Text": "1"}, {"Bool": True}, {"Float": 1.0}):
            assert "Invalid" in net.alice.call("update", "r::Doc", 1, [field("n", bad)], [])["Err"]
        assert "Invalid" in net.alice.call("update", "r::Doc", 1, [field("title", text("x" * 41))], [])["Err"]
        assert "Invalid" in net.alice.call("update", "r::Doc", 1, [field("n", {"Int": 1}),
                                                                    field("n", {"Int": 2})], [])["Err"]
        assert "Invalid" in net.alice.call("update", "r::Doc", 1, [field("nope", {"Int": 1})], [])["Err"]
        assert "Err" in net.bob.call("update", "r::Doc", 1, [field("n", {"Int": 1})], [])
        first = {"Update": {"type_name": "r::Doc", "id": 2, "fields": [field("n", {"Int": 8})],
                            "expected_version": []}}
        bad = {"Update": {"type_name": "r::Doc", "id": 2, "fields": [field("n", {"Int": 99})],
                          "expected_version": []}}
        assert "Err" in net.alice.call("batch", [first, bad])
        assert net.alice.ok("get", "r::Doc", 2)["version"] == 1
        tip = verified(net)
        assert titles_in_order(net) == sorted(TITLES)
        counted = net.admin.ok("count", "r::Doc", [field("title", text("é"))])
        assert counted == 2

        assert deploy(replica) == net.cid       # an upgrade: a new heap
        assert verified(net) == tip
        net.alice.ok("update", "r::Doc", 1, [field("title", text("𝄞"))], [])
        net.alice.ok("create", "r::Doc", [field("title", text("é")), field("n", {"Int": 0})])
        assert verified(net) == tip + 2
        assert titles_in_order(net) == sorted(["𝄞"] + TITLES[1:] + ["é"])
        assert net.admin.ok("count", "r::Doc", [field("title", text("é"))]) == 2
