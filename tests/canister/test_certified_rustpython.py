"""Certified reads and the ICRC-3 chain on Kybra's own interpreter (localnet's rustpython runtime): the
proofs the canister builds there verify with the client's verifier, and the certified paths stay far
below the IC's instruction limits."""

from __future__ import annotations

import re

import pytest
from canister_fixtures import callers, deploy
from canister_fixtures import certified_query as fixtures_certified_query
from canister_harness import field, policy, text, type_def
from canister_harness import field_def as fdef
from simple_db_client.certified import verify_chain, verify_entity, verify_tip

from localnet import rustpython_runtime
from localnet.replica import Replica
from localnet.subnet_keys import SubnetKeys

pytestmark = pytest.mark.skipif(not rustpython_runtime.available(), reason=rustpython_runtime.HOW_TO_GET)
KEYS = SubnetKeys.generate()
DOC = type_def("c::Doc", [fdef("title", "Text"), fdef("n", "Int")], access=policy(certified=True))


def certified_query(net, method: str, *args):
    """canister_fixtures.certified_query with this module's subnet keys."""
    return fixtures_certified_query(net, KEYS, method, *args)


@pytest.fixture(scope="module")
def net():
    with Replica(runtime="rustpython") as replica:
        net = callers(replica, deploy(replica))
        assert net.admin.call("define_type", DOC, False) == {"Ok": None}
        for i in range(20):
            net.alice.ok("create", "c::Doc", [field("title", text("d" + str(i))), field("n", {"Int": i})])
        net.alice.ok("delete", "c::Doc", 7)
        yield net


def test_proofs_made_on_rustpython_verify(net):
    for entity_id, present in ((3, True), (7, False), (20, True), (99, False)):
        reply = certified_query(net, "get_certified", "c::Doc", entity_id)["Ok"]
        entity = verify_entity(reply, "c::Doc", entity_id, net.cid, KEYS.root_key_der)
        assert (entity is not None) == present
    tip = certified_query(net, "icrc3_get_tip_certificate")[0]
    last_index, last_hash = verify_tip(tip, net.cid, KEYS.root_key_der)
    result = net.admin.call("icrc3_get_blocks", [{"start": 0, "length": 100}])
    verify_chain([(b["id"], b["block"]) for b in result["blocks"]], last_index, last_hash)


def test_certified_paths_stay_far_below_the_instruction_limits(net):
    log = net.replica.log_path(net.cid).read_text()
    counts = re.findall(r"\[instructions\] (\w+) (\w+): (\d+)", log)
    seen = {name for _, name, _ in counts}
    assert {"create", "delete", "get_certified", "icrc3_get_blocks"} <= seen
    for kind, name, n in counts:
        assert int(n) < rustpython_runtime.LIMITS[kind] / 10, (kind, name, n)
