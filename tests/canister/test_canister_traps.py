"""Input that used to trap or poison the canister: numbers beyond float range, restore records that
skip create's rules, and types whose largest entity could not be stored. Each is an Err that changes
nothing; a type that is accepted holds an entity with every field at its maximum."""

import json

import pytest
from canister_fixtures import fingerprint
from canister_harness import field, field_def, fields_of, plain, relation_def, type_def

HUGE = 2**1100  # a Candid Int beyond float64 range
MEASURE = type_def(
    "trap::Measure",
    [
        field_def("label", "Text", high=20),
        field_def("weight", "Float", indexed=True),
        field_def("tally", "Int"),
        field_def("seen", "Timestamp"),
        field_def("who", "Principal"),
        field_def("code", "Text", required=True, high=8),
        field_def("flag", "Bool"),
    ],
)


@pytest.fixture(scope="module")
def net(db):
    assert db.admin.call("define_type", MEASURE, False) == {"Ok": None}
    return db


def refused(net, caller, kind: str, method: str, *args) -> str:
    before = fingerprint(net.admin)
    got, message = caller.err(method, *args)
    assert got == kind, message
    assert fingerprint(net.admin) == before
    return message


# --- Int beyond float range ---


def test_int_beyond_float_range_is_invalid_for_float_fields_filters_and_defaults(net):
    code = field("code", {"Text": "c"})
    assert "Float" in refused(
        net, net.alice, "Invalid", "create", "trap::Measure", [code, field("weight", {"Int": HUGE})]
    )
    made = net.alice.ok("create", "trap::Measure", [code, field("weight", {"Int": 2})])
    assert fields_of(made)["weight"] == {"Float": 2.0}
    refused(
        net,
        net.alice,
        "Invalid",
        "update",
        "trap::Measure",
        made["id"],
        [field("weight", {"Int": -HUGE})],
        [],
    )
    refused(net, net.anon, "Invalid", "list", "trap::Measure", [field("weight", {"Int": HUGE})], [], 10)
    refused(net, net.anon, "Invalid", "count", "trap::Measure", [field("weight", {"Int": HUGE})])
    query = {
        "type_name": "trap::Measure",
        "filters": [{"field": "weight", "op": {"Gt": None}, "values": [{"Int": HUGE}]}],
        "order": [],
        "cursor": [],
        "limit": 10,
    }
    assert "Float range" in refused(net, net.anon, "Invalid", "query", query)
    bad_default = type_def("trap::Default", [field_def("x", "Float", default={"Int": HUGE})])
    refused(net, net.admin, "Invalid", "define_type", bad_default, False)


# --- restore validates every record as create does, and more ---


def record(**changes) -> dict:
    base = {
        "type": "trap::Measure",
        "id": 500,
        "fields": {"label": "restored", "code": "r"},
        "refs": {},
        "links": {},
        "owner": "aaaaa-aa",
        "creator": "aaaaa-aa",
        "updater": "aaaaa-aa",
        "created": 1_700_000_000_000_000_000,
        "updated": 1_700_000_000_000_000_001,
        "version": 2,
    }
    base.update(changes)
    return base


def page(*records) -> str:
    return json.dumps({"format": "kybra-simple-db-dump/1", "records": list(records)})


def fields(**values) -> dict:
    return {"label": "restored", "code": "r", **values}


NESTED = "[" * 50_000 + "]" * 50_000
BAD_RECORDS = {
    "created beyond nat64": record(created=2**64, updated=2**64),
    "created after updated": record(created=10, updated=9),
    "updated in the future": record(updated=2**63),
    "negative time": record(created=-1),
    "timestamp field beyond nat64": record(fields=fields(seen=2**70)),
    "int field beyond 64 bits": record(fields=fields(tally=2**100)),
    "float field beyond float range": record(fields=fields(weight=HUGE)),
    "float field as text": record(fields=fields(weight="1.5")),
    "text longer than its max": record(fields=fields(label="x" * 21)),
    "text field as a list": record(fields=fields(label=["x"])),
    "bool field as int": record(fields=fields(flag=1)),
    "principal field not a principal": record(fields=fields(who="not a principal")),
    "required field missing": record(fields={"label": "no code"}),
    "unknown field": record(fields=fields(colour="red")),
    "owner not a principal": record(owner="mallory"),
    "owner anonymous": record(owner="2vxsx-fae"),
    "creator not a principal": record(creator="AAAAA-AA"),
    "updater not text": record(updater=5),
    "version zero": record(version=0),
    "version beyond nat64": record(version=2**64),
    "id zero": record(id=0),
    "id negative": record(id=-4),
    "ref to an unknown relation": record(refs={"nothing": 1}),
    "unknown type": record(type="trap::Nothing"),
    "fields not an object": record(fields=["label"]),
}


@pytest.mark.parametrize("bad", list(BAD_RECORDS), ids=list(BAD_RECORDS))
def test_restore_refuses_a_record_create_would_refuse(net, bad):
    good = 1000 + 2 * list(BAD_RECORDS).index(bad)
    wrong = dict(BAD_RECORDS[bad])
    if wrong["id"] == 500:
        wrong["id"] = good + 1
    before = fingerprint(net.admin)
    kind, message = net.admin.err("restore", page(record(id=good), wrong))
    assert kind in ("Invalid", "NotFound"), message
    assert fingerprint(net.admin) == before  # the page is all or nothing


def test_restore_refuses_deeply_nested_json_without_trapping(net):
    before = fingerprint(net.admin)
    assert net.admin.err("restore", NESTED)[0] == "Invalid"
    deep = page(record(fields=fields(label=json.loads("[" * 200 + "]" * 200))))
    assert net.admin.err("restore", deep)[0] == "Invalid"
    raw = page(record()).replace('"restored"', "[" * 5000 + "]" * 5000)
    assert net.admin.err("restore", raw)[0] == "Invalid"
    assert fingerprint(net.admin) == before


def test_a_valid_restored_record_reads_back_exactly(net):
    label = '[[[[{{{{[[\\"\\[{'  # brackets, quotes and backslashes inside a string are not nesting
    values = fields(label=label, seen=2**64 - 1, tally=-(2**63))
    assert net.admin.ok("restore", page(record(id=700, fields=values))) == 1
    got = plain(net.anon.ok("get", "trap::Measure", 700))
    assert (
        got["version"] == 2 and got["owner"] == "aaaaa-aa" and got["updated_at"] == 1_700_000_000_000_000_001
    )
    assert fields_of(got)["seen"] == {"Timestamp": 2**64 - 1}
    assert fields_of(got)["tally"] == {"Int": -(2**63)}
    assert fields_of(got)["label"] == {"Text": label}


# --- the largest entity a type allows can be stored ---


def test_a_type_at_every_limit_holds_an_entity_at_every_maximum(net):
    names = [f"{chr(97 + i % 26)}{i:02d}" + "x" * 37 for i in range(32)]
    assert all(len(n) == 40 for n in names) and len(set(names)) == 32
    wide = type_def("trap::" + "W" * 40, [field_def(n, "Text", high=2000) for n in names])
    assert net.admin.call("define_type", wide, False) == {"Ok": None}
    values = ["\U0001f600" * 2000 if i % 2 else "\x01" * 2000 for i in range(32)]
    made = net.alice.ok("create", wide["name"], [field(n, {"Text": v}) for n, v in zip(names, values)])
    assert [f["value"]["Text"] for f in made["fields"]] == values
    again = net.alice.ok(
        "update", wide["name"], made["id"], [field(n, {"Text": "y" * 2000}) for n in names], []
    )
    assert again["version"] == 2
    entries = net.admin.ok("audit", net.admin.call("stats")["audit_length"] - 2, [], 10)["items"]
    assert [e["operation"] for e in entries] == ["create", "update"]
    assert net.alice.call("delete", wide["name"], made["id"]) == {"Ok": None}


def test_a_type_at_every_limit_with_indexes_and_relations_holds_its_largest_entity(net):
    names = [f"{chr(97 + i % 26)}{i:02d}" + "x" * 37 for i in range(32)]
    name = "n" * 40 + "::" + "I" * 40
    relations = [
        relation_def(
            f"r{i:02d}" + "y" * 37, "OneToOne" if i % 2 else "ManyToOne", name, f"b{i:02d}" + "z" * 37
        )
        for i in range(16)
    ]
    fields_ = [field_def(n, "Text", high=256, indexed=True) for n in names]
    assert net.admin.call(
        "define_type", type_def(name, fields_, alias=names[0], relations=relations), False
    ) == {"Ok": None}
    values = ["\U0001f600" * 256 if i % 2 else "\x01" * 256 for i in range(32)]
    made = net.alice.ok("create", name, [field(n, {"Text": v}) for n, v in zip(names, values)])
    other = net.alice.ok("create", name, [field(n, {"Text": v[:-1] + "a"}) for n, v in zip(names, values)])
    for relation in relations:
        assert net.alice.call("link", name, made["id"], relation["name"], other["id"]) == {"Ok": None}
    changed = net.alice.ok("update", name, made["id"], [field(n, {"Text": "q" * 256}) for n in names], [])
    assert changed["version"] == 1 + 16 + 1  # each to-one link is a change of its document
    assert net.anon.ok("find", name, "q" * 256)["id"] == made["id"]
    assert net.alice.call("delete", name, made["id"]) == {"Ok": None}
