"""A create whose message traps after its index insert (the stable map refuses its document at commit)
leaves nothing behind, on both localnet runtimes: neither the entry nor the heap's tail hint of its value
(a trap ends the message's heap with it, as on the IC), so the value's next creates, placed by hints,
are found by the index in order and counted."""

from __future__ import annotations

import pytest
from canister_fixtures import callers, deploy, fingerprint, with_types
from canister_harness import Rejected, field, field_def, fields_of, text, type_def
from test_host_functions_rustpython import RUNTIMES, _narrow_copy

from localnet.replica import Replica

TAGGED = type_def("th::T", [field_def("t", "Text", indexed=True), field_def("b", "Text", high=600)])


def _query(tag: str) -> dict:
    return {
        "type_name": "th::T",
        "filters": [{"field": "t", "op": {"Eq": None}, "values": [text(tag)]}],
        "order": [{"field": "t", "descending": False}],
        "cursor": [],
        "limit": 100,
    }


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_creates_after_a_trapped_create_of_their_value_are_indexed_in_order(tmp_path, runtime):
    kwargs = {} if runtime == "cpython" else {"runtime": runtime}
    with Replica(**kwargs) as replica:
        net = with_types(callers(replica, deploy(replica, entry=_narrow_copy(tmp_path))), [TAGGED])
        made = []
        for tag in ("0", "a", "b", "a", "a"):   # "a"'s entries sit between others in their leaf: hinted
            made.append((tag, net.alice.ok("create", "th::T", [field("t", text(tag))])["id"]))
        before = fingerprint(net.admin)
        with pytest.raises(Rejected):
            net.alice.call("create", "th::T", [field("t", text("a")), field("b", text("x" * 500))])
        assert fingerprint(net.admin) == before
        for tag in ("a", "a", "b"):
            made.append((tag, net.alice.ok("create", "th::T", [field("t", text(tag))])["id"]))
        for tag in ("0", "a", "b"):
            page = net.alice.ok("query", _query(tag))
            assert [item["id"] for item in page["items"]] == [i for t, i in made if t == tag]
            assert all(fields_of(item)["t"] == text(tag) for item in page["items"])
            assert net.alice.ok("query_count", _query(tag))["count"] == sum(1 for t, _ in made if t == tag)
