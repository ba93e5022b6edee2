"""Upgrades and restarts keep data, schema, admins and audit; dump -> restore into a fresh canister gives
an identical dump; another canister (the consumer example) is an owner like any caller."""

import json

import pytest
from canister_fixtures import SCHEMA, callers, define_schema, deploy, dump_all, snapshot
from canister_harness import (
    CONSUMER_ENTRY,
    ENTRY,
    Rejected,
    ReplicaCaller,
    field,
    field_def,
    fields_of,
    text,
    type_def,
    user,
)
from ic.candid import Types, decode, encode
from ic.principal import Principal
from simple_db_client import candid_types as ct

from localnet.outcome import Reject
from localnet.replica import Replica


def fill(net) -> None:
    """Some of everything: entities of several types, links, a transfer, a delete, an admin."""
    define_schema(net.admin)
    items = [
        net.alice.ok("create", "shop::Item", [field("name", text(f"i{n}")), field("sku", text(f"S{n}"))])[
            "id"
        ]
        for n in range(5)
    ]
    tag = net.bob.ok("create", "shop::Tag", [field("label", text("sale"))])["id"]
    for i in items[:3]:
        net.bob.ok("link", "shop::Tag", tag, "items", i)
    review = net.bob.ok("create", "shop::Review", [field("stars", {"Int": 4})])["id"]
    net.bob.ok("link", "shop::Review", review, "item", items[0])
    net.alice.ok("transfer", "shop::Item", items[1], net.bob.principal)
    net.alice.ok("delete", "shop::Item", items[4])
    net.alice.ok("create", "vault::Secret", [field("note", text("s"))])
    net.bob.ok("create", "demo::Note", [field("title", text("hello"))])
    net.admin.ok("add_admin", user("second-admin"))


def records(pages: list) -> list:
    return [record for page in pages for record in page["records"]]


def test_upgrade_keeps_data_schema_admins_and_audit():
    with Replica() as replica:
        net = callers(replica, deploy(replica))
        fill(net)
        before = snapshot(net.admin)
        assert deploy(replica) == net.cid  # same name: an upgrade (pre_upgrade, new heap, post_upgrade)
        assert snapshot(net.admin) == before
        created = net.alice.ok(
            "create", "shop::Item", [field("name", text("after")), field("sku", text("AFTER"))]
        )
        assert created["id"] == 6  # ids continue; the deleted 5 is not reused
        audit = net.admin.ok("audit", 0, [], 100)["items"]
        assert [e["seq"] for e in audit] == list(range(len(audit)))  # the audit sequence continued
        assert net.anon.ok("find", "shop::Item", "S0")["id"] == 1


def test_restart_keeps_everything(tmp_path):
    with Replica(tmp_path) as replica:
        net = callers(replica, deploy(replica))
        fill(net)
        before = snapshot(net.admin)
        cid = net.cid
    with Replica(tmp_path) as replica:
        net = callers(replica, cid)
        assert snapshot(net.admin) == before
        assert (
            net.bob.ok("update", "shop::Item", 2, [field("qty", {"Int": 5})], [])["version"] == 3
        )  # create, transfer, update


def test_dump_restore_into_a_fresh_canister_is_identical():
    with Replica() as replica:
        source = callers(replica, deploy(replica))
        fill(source)
        original = dump_all(source.admin, limit=3)
        assert len(original) >= 3 and "schema" in original[0]
        copy = callers(replica, deploy(replica, name="simple_db_copy"))
        restored = 0
        for page in original:
            restored += copy.admin.ok("restore", json.dumps(page))
        assert restored == len([r for r in records(original) if "id" in r])
        again = dump_all(copy.admin, limit=3)
        assert records(again) == records(original)
        assert again[0]["schema"] == original[0]["schema"]
        assert copy.anon.ok("links", "shop::Tag", 1, "items", [], 10)["items"] == [1, 2, 3]
        assert copy.anon.ok("get", "shop::Item", 2)["owner"].to_str() == source.bob.text


def test_restore_refuses_bad_data_and_changes_nothing():
    with Replica() as replica:
        net = callers(replica, deploy(replica))
        fill(net)
        page = dump_all(net.admin)[0]
        before = snapshot(net.admin)
        assert net.admin.err("restore", json.dumps(page))[0] == "Conflict"  # ids exist already
        assert net.admin.err("restore", "{not json")[0] == "Invalid"
        assert net.admin.err("restore", json.dumps({"format": "other"}))[0] == "Invalid"
        changed = dict(
            page, schema=[dict(page["schema"][0], policy=dict(page["schema"][0]["policy"], read="Owner"))]
        )
        assert net.admin.err("restore", json.dumps(changed))[0] == "Conflict"
        assert net.admin.err("restore", "x" * 1_600_000)[0] == "Limit"
        far = dict(page["records"][0], id=10**12)
        assert (
            net.admin.err("restore", json.dumps({"format": page["format"], "records": [far]}))[0] == "Limit"
        )
        huge = dict(page["records"][0], id=2**70)
        assert (
            net.admin.err("restore", json.dumps({"format": page["format"], "records": [huge]}))[0]
            == "Invalid"
        )
        bad_schema = {"format": page["format"], "schema": [{"name": "x::Y"}], "records": []}
        assert net.admin.err("restore", json.dumps(bad_schema))[0] == "Invalid"
        assert (
            net.admin.err("restore", json.dumps({"format": page["format"], "records": [1, "x"]}))[0]
            == "Invalid"
        )
        assert snapshot(net.admin) == before


def test_anonymous_installer_leaves_no_admin():
    with Replica() as replica:
        cid = replica.deploy("simple_db", ENTRY)
        anon = ReplicaCaller(replica, cid, Principal.anonymous())
        assert anon.call("admins") == []
        kind, _ = ReplicaCaller(replica, cid, user("someone")).err("define_type", SCHEMA[0], False)
        assert kind == "Forbidden"


# --- the consumer example: another canister is a caller like any other ---

ENTITY_RESULT = ct.EntityResult
NOTE_RESULT = Types.Variant({"Ok": ct.Entity, "Err": ct.Error, "CallFailed": Types.Text})
CONFIG_RESULT = Types.Variant({"Ok": Types.Null, "Err": Types.Text})
PRINCIPAL_RESULT = Types.Variant({"Ok": Types.Principal, "CallFailed": Types.Text})
FORGET_RESULT = Types.Variant({"Ok": Types.Null, "Err": ct.Error, "CallFailed": Types.Text})


def consumer_call(replica, cid, sender, method, args, result_type):
    outcome = replica.update(cid, method, encode(args), sender.bytes)
    if isinstance(outcome, Reject):
        raise Rejected(outcome.code, outcome.message)
    return decode(outcome.arg, result_type)[0]["value"]


def test_consumer_canister_owns_what_it_creates():
    with Replica() as replica:
        net = callers(replica, deploy(replica))
        admin = user("admin")
        consumer = replica.deploy("consumer", CONSUMER_ENTRY, controllers=[admin.bytes])
        consumer_text = Principal(consumer).to_str()
        db_text = Principal(net.cid).to_str()
        denied = consumer_call(
            replica,
            consumer,
            user("mallory"),
            "set_database",
            [{"type": Types.Principal, "value": db_text}],
            CONFIG_RESULT,
        )
        assert "Err" in denied
        assert consumer_call(
            replica,
            consumer,
            admin,
            "set_database",
            [{"type": Types.Principal, "value": db_text}],
            CONFIG_RESULT,
        ) == {"Ok": None}
        me = consumer_call(replica, consumer, user("alice"), "identity_at_database", [], PRINCIPAL_RESULT)
        assert me["Ok"].to_str() == consumer_text
        args = [{"type": Types.Text, "value": " from a canister "}, {"type": Types.Text, "value": "body"}]
        note = consumer_call(replica, consumer, user("alice"), "remember", args, NOTE_RESULT)["Ok"]
        assert note["owner"].to_str() == consumer_text and fields_of(note)["title"] == text("from a canister")
        recalled = consumer_call(
            replica,
            consumer,
            user("bob"),
            "recall",
            [{"type": Types.Nat64, "value": note["id"]}],
            NOTE_RESULT,
        )
        assert recalled["Ok"]["id"] == note["id"]
        missing = consumer_call(
            replica, consumer, user("bob"), "recall", [{"type": Types.Nat64, "value": 999}], NOTE_RESULT
        )
        assert "NotFound" in missing["Err"]
        # the database applies its policy to the canister like to any principal
        assert (
            net.alice.err("update", "demo::Note", note["id"], [field("body", text("x"))], [])[0]
            == "Forbidden"
        )
        audit = net.admin.ok("audit", 0, [], 100)["items"]
        assert audit[-1]["caller"] == consumer_text and audit[-1]["operation"] == "create"

        # the canister in the permission matrix: it modifies and deletes its own notes, not others'
        def edit(note_id, body):
            args = [{"type": Types.Nat64, "value": note_id}, {"type": Types.Text, "value": body}]
            return consumer_call(replica, consumer, user("carol"), "edit", args, NOTE_RESULT)

        def forget(note_id):
            args = [{"type": Types.Nat64, "value": note_id}]
            return consumer_call(replica, consumer, user("carol"), "forget", args, FORGET_RESULT)

        edited = edit(note["id"], "edited by the canister")["Ok"]
        assert edited["updater"].to_str() == consumer_text and edited["version"] == 2
        alices = net.alice.ok("create", "demo::Note", [field("title", text("alice's"))])["id"]
        before = snapshot(net.admin)
        assert edit(alices, "hijack")["Err"] == {
            "Forbidden": "only the owner or an admin may modify this demo::Note"
        }
        assert "Forbidden" in forget(alices)["Err"]
        assert snapshot(net.admin) == before
        assert (
            net.admin.ok("update", "demo::Note", note["id"], [field("pinned", {"Bool": True})], [])["version"]
            == 3
        )
        assert forget(note["id"]) == {"Ok": None}
        assert net.anon.err("get", "demo::Note", note["id"])[0] == "NotFound"


@pytest.mark.parametrize("force", [False, True])
def test_runtime_types_survive_upgrade_with_their_changes(force):
    with Replica() as replica:
        net = callers(replica, deploy(replica))
        net.admin.ok("define_type", type_def("up::Thing", [field_def("a", "Text")]), False)
        wider = type_def("up::Thing", [field_def("a", "Text"), field_def("b", "Int")])
        net.admin.ok("define_type", wider, force)
        thing = net.alice.ok("create", "up::Thing", [field("a", text("x")), field("b", {"Int": 2})])
        deploy(replica)
        assert fields_of(net.anon.ok("get", "up::Thing", thing["id"]))["b"] == {"Int": 2}
        assert [f["name"] for f in net.anon.call("schema")[-1]["fields"]] == ["a", "b"]


def test_index_dropped_before_an_upgrade_and_re_added_after_starts_empty():
    indexed = type_def("up::Paint", [field_def("colour", "Text", high=20, indexed=True)])
    plain_fields = type_def("up::Paint", [field_def("colour", "Text", high=20)])
    with Replica() as replica:
        net = callers(replica, deploy(replica))
        net.admin.ok("define_type", indexed, False)
        ids = [net.alice.ok("create", "up::Paint", [field("colour", text("red"))])["id"] for _ in range(3)]
        net.admin.ok("define_type", plain_fields, True)
        deploy(replica)
        net.alice.ok("update", "up::Paint", ids[0], [field("colour", text("blue"))], [])
        for entity_id in ids:
            net.alice.ok("delete", "up::Paint", entity_id)
        net.admin.ok("define_type", indexed, False)
        deploy(replica)
        fresh = net.alice.ok("create", "up::Paint", [field("colour", text("blue"))])["id"]
        for colour, expected in (("red", []), ("blue", [fresh])):
            where = [field("colour", text(colour))]
            assert net.anon.ok("count", "up::Paint", where) == len(expected)
            assert [e["id"] for e in net.anon.ok("list", "up::Paint", where, [], 10)["items"]] == expected
