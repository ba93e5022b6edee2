"""A real upgrade on localnet (pre_upgrade, a new heap, post_upgrade over the same stable memory) keeps
what the canister certifies: the chain's state and the certified-types record live in the heap once read
or written, and after an upgrade the tip is found again by probing the block hashes. The client's
verifiers check the tip certificate, the chain and certified gets before and after, and blocks appended
after the upgrade (also after a refused batch) chain onto the old tip."""

from __future__ import annotations

from canister_fixtures import callers, deploy, verified_chain
from canister_fixtures import certified_query as fixtures_certified_query
from canister_harness import field, policy, text, type_def
from canister_harness import field_def as fdef
from simple_db_client.certified import verify_entity

from localnet.replica import Replica
from localnet.subnet_keys import SubnetKeys

KEYS = SubnetKeys.generate()
DOC = type_def("c::Doc", [fdef("title", "Text"), fdef("n", "Int")], access=policy(certified=True))


def certified_query(net, method: str, *args):
    """canister_fixtures.certified_query with this module's subnet keys."""
    return fixtures_certified_query(net, KEYS, method, *args)


def verified_doc(net, entity_id: int):
    reply = certified_query(net, "get_certified", "c::Doc", entity_id)["Ok"]
    return verify_entity(reply, "c::Doc", entity_id, net.cid, KEYS.root_key_der)


def test_an_upgrade_keeps_the_certified_tip_and_later_blocks_chain_onto_it():
    with Replica() as replica:
        net = callers(replica, deploy(replica))
        assert net.admin.call("define_type", DOC, False) == {"Ok": None}
        for i in range(6):
            net.alice.ok("create", "c::Doc", [field("title", text("d" + str(i))), field("n", {"Int": i})])
        net.alice.ok("update", "c::Doc", 2, [field("n", {"Int": 20})], [])
        net.alice.ok("delete", "c::Doc", 4)
        before = replica.certified_data(net.cid)
        tip = verified_chain(net, KEYS)
        assert verified_doc(net, 2) is not None and verified_doc(net, 4) is None

        assert deploy(replica) == net.cid       # an upgrade: a new heap over the same stable memory
        assert replica.certified_data(net.cid) == before
        assert verified_chain(net, KEYS) == tip
        assert verified_doc(net, 2) is not None

        bad = {"Update": {"type_name": "c::Doc", "id": 99, "fields": [field("n", {"Int": 1})],
                          "expected_version": []}}
        good = {"Update": {"type_name": "c::Doc", "id": 3, "fields": [field("n", {"Int": 30})],
                           "expected_version": []}}
        assert "Err" in net.alice.call("batch", [good, bad])
        assert verified_chain(net, KEYS) == tip         # a refused batch appends no block
        net.alice.ok("update", "c::Doc", 2, [field("n", {"Int": 21})], [])
        assert verified_chain(net, KEYS)[0] == tip[0] + 1
        assert verified_doc(net, 2)["fields"][1]["value"] == {"Int": 21}

        assert deploy(replica) == net.cid       # again: the chain record still names where it began
        after = verified_chain(net, KEYS)
        assert after[0] == tip[0] + 1
        net.alice.ok("create", "c::Doc", [field("title", text("late"))])
        assert verified_chain(net, KEYS)[0] == tip[0] + 2
        assert verified_doc(net, 7) is not None
