"""The canister on Kybra's own interpreter (localnet's rustpython runtime): a smoke workload over the main
endpoints answers exactly as under CPython, a refused call changes nothing, and each message stays far
below the IC's instruction limits. The whole suite runs under CPython; this is the focused RustPython set."""

from __future__ import annotations

import json
import re

import pytest
from canister_fixtures import callers, define_schema, deploy
from canister_harness import (
    Rejected,
    decode_reply,
    encode_args,
    field,
    field_def,
    opt,
    plain,
    policy,
    text,
    type_def,
)

from localnet import rustpython_runtime
from localnet.replica import Replica
from localnet.state_store import read_stable_rows

pytestmark = pytest.mark.skipif(not rustpython_runtime.available(), reason=rustpython_runtime.SKIP_REASON)

TIMES = ("created_at", "updated_at", "created", "updated", "time", "at", "ts")


def without_times(value):
    """`value` (plain) with timestamps, which differ between two replicas' clocks, left out."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    if isinstance(value, str) and value.startswith(("{", "[")):
        try:
            return without_times(json.loads(value))
        except ValueError:
            return value
    return value


def certified_query(caller, method: str, *args):
    """A query given a data certificate, as the HTTP side passes one (its bytes are only passed through)."""
    outcome = caller.replica.query(
        caller.canister_id,
        method,
        encode_args(method, args),
        caller.principal.bytes,
        data_certificate=b"cert",
    )
    return decode_reply(method, outcome.arg)


NOTE = type_def("proof::Note", [field_def("code", "Text")], alias="code", access=policy(certified=True))


def workload(net) -> tuple[list, list]:
    """The answers of a fixed sequence of calls over every endpoint: those two replicas answer alike, and
    the kind of answer (Ok/Err) of those whose content depends on the replica's clock and keys."""
    a, b, admin = net.alice, net.bob, net.admin
    pen = [field("name", text("pen")), field("sku", text("P-1"))]
    assert admin.call("define_type", NOTE, False) == {"Ok": None}
    answers = [
        a.call("create", "shop::Item", pen),
        a.call("create", "shop::Item", [field("name", text("ink")), field("qty", {"Int": 3})]),
        a.call("create", "shop::Tag", [field("label", text("office"))]),
        a.call("get", "shop::Item", 1),
        a.call("find", "shop::Item", "P-1"),
        a.call("update", "shop::Item", 1, [field("qty", {"Int": 7})], opt(1)),
        a.call("update", "shop::Item", 1, [field("qty", {"Int": 8})], opt(1)),  # stale version: Err
        a.call("link", "shop::Tag", 1, "items", 1),
        a.call("links", "shop::Tag", 1, "items", [], 10),
        a.call("list", "shop::Item", [], [], 10),
        a.call("count", "shop::Item", [field("name", text("ink"))]),
        b.call("update", "shop::Item", 1, [field("qty", {"Int": 9})], []),  # not the owner: Err
        a.call("batch", [{"Delete": {"type_name": "shop::Item", "id": 2}}]),
        a.call("create", "shop::Item", [field("qty", {"Int": 5000})]),  # invalid: Err
        a.call("unlink", "shop::Tag", 1, "items", 1),
        a.call("delete", "shop::Tag", 1),
        net.admin.call("dump", [], 100),
        a.call("audit", 0, [], 100),
        a.call("stats"),
        a.call("whoami"),
        a.call("schema"),
        a.call("transfer", "shop::Item", 1, b.principal),
        admin.call("add_admin", b.principal),
        admin.call("admins"),
        admin.call("remove_admin", b.principal),
        admin.call("restore", json.dumps({"format": "kybra-simple-db-dump/1", "records": []})),
        a.call("icrc3_supported_block_types"),
        a.call("icrc3_get_archives", {"from_": []}),
    ]
    a.call("create", "proof::Note", [field("code", text("n-1"))])
    shapes = [
        certified_query(a, "get_certified", "proof::Note", 1),
        certified_query(a, "find_certified", "proof::Note", "n-1"),
        admin.call("icrc3_get_blocks", [{"start": 0, "length": 10}]),
        admin.call("icrc3_get_tip_certificate"),
    ]
    return without_times(plain(answers)), [
        sorted(s) if isinstance(s, dict) else type(s).__name__ for s in shapes
    ]


@pytest.fixture(scope="module")
def both():
    """The same workload's answers under CPython and under RustPython, and the RustPython net."""
    results = {}
    with Replica() as cpy, Replica(runtime="rustpython") as rpy:
        for name, replica in (("cpython", cpy), ("rustpython", rpy)):
            net = callers(replica, deploy(replica))
            define_schema(net.admin)
            results[name] = workload(net)
        yield results, callers(rpy, net.cid)


def test_the_main_endpoints_answer_as_under_cpython(both):
    results, _ = both
    assert results["rustpython"] == results["cpython"]
    answers, shapes = results["rustpython"]
    assert answers[0]["Ok"]["id"] == 1 and "Err" in answers[6]
    assert shapes[:2] == [["Ok"], ["Ok"]]


def test_malformed_candid_is_rejected_and_changes_nothing(both):
    _, net = both
    rows = read_stable_rows(net.replica.db_path, net.cid)
    with pytest.raises(Rejected) as e:
        net.alice.raw("create", b"DIDL\x00\x01\x71\x03abc")
    assert e.value.code == 5 and "invalid argument for create" in e.value.message
    assert read_stable_rows(net.replica.db_path, net.cid) == rows


def test_every_message_stays_far_below_the_ic_limits(both):
    _, net = both
    log = net.replica.log_path(net.cid).read_text()
    counts = re.findall(r"\[instructions\] (\w+) (\w+): (\d+)", log)
    assert {name for _, name, _ in counts} >= {
        "create",
        "get",
        "update",
        "link",
        "list",
        "dump",
        "audit",
        "restore",
    }
    for kind, name, n in counts:
        limit = rustpython_runtime.LIMITS[kind]
        assert int(n) < limit / 10, (kind, name, n)
