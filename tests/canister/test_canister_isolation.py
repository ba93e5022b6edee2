"""Owners stay isolated: a link, an unlink, a cascade, a batch or a restore changes only entities the
caller could change directly; callers without read access learn nothing from get/find/stats.

Each test is an attack first (mallory against bob and alice), then the rule it proves."""

import json

import pytest
from canister_fixtures import fingerprint, with_types
from canister_harness import (
    field,
    field_def,
    fields_of,
    plain,
    policy,
    relation_def,
    text,
    type_def,
)

PROJECT = type_def("iso::Project", [field_def("name", "Text", required=True, high=40)])
TASK = type_def(
    "iso::Task",
    [field_def("title", "Text", required=True, high=40)],
    relations=[relation_def("project", "ManyToOne", "iso::Project", "tasks", "Cascade")],
)
LABEL = type_def(
    "iso::Label",
    [field_def("name", "Text", required=True, high=40)],
    relations=[relation_def("tasks", "ManyToMany", "iso::Task", "labels")],
)
BOARD = type_def("iso::Board", [field_def("name", "Text", required=True, high=40)])
# a sticker goes when one of its boards goes (the engine applies it on Board.stickers)
STICKER = type_def(
    "iso::Sticker",
    [field_def("name", "Text", required=True, high=40)],
    relations=[relation_def("boards", "ManyToMany", "iso::Board", "stickers", "Cascade")],
)
PERSON = type_def(
    "iso::Person",
    [field_def("name", "Text", required=True, high=40)],
    relations=[relation_def("spouse", "OneToOne", "iso::Person", "spouse")],
)
BADGE = type_def(
    "iso::Badge",
    [field_def("code", "Text", required=True, high=40)],
    relations=[relation_def("holder", "OneToOne", "iso::Person", "badge")],
)
DIARY = type_def(
    "iso::Diary",
    [field_def("email", "Text", required=True, high=80)],
    alias="email",
    access=policy(read="Owner"),
)
AUDITED = type_def("iso::Audited", [field_def("n", "Int")], access=policy(read="Admins"))
NOTEBOOK = type_def("iso::Notebook", [field_def("title", "Text", high=40)])
PAGE = type_def(
    "iso::Page",
    [field_def("text", "Text", high=40)],
    relations=[relation_def("notebook", "ManyToOne", "iso::Notebook", "pages")],
    access=policy(read="Owner"),
)
MEMO = type_def(
    "iso::Memo",
    [field_def("text", "Text", high=40)],
    relations=[relation_def("sheet", "ManyToOne", "iso::Page", "memos")],
)
TYPES = [PROJECT, TASK, LABEL, BOARD, STICKER, PERSON, BADGE, DIARY, AUDITED, NOTEBOOK, PAGE, MEMO]


@pytest.fixture(scope="module")
def net(db):
    return with_types(db, TYPES)


def new(caller, type_name: str, **values) -> dict:
    return caller.ok("create", type_name, [field(k, text(v)) for k, v in values.items()])


def state_of(net, type_name: str, entity_id: int) -> dict:
    """The entity as an admin reads it (fields, refs, owner, updater, version)."""
    return plain(net.admin.ok("get", type_name, entity_id))


def links(net, type_name: str, entity_id: int, relation: str) -> list:
    return net.admin.ok("links", type_name, entity_id, relation, [], 100)["items"]


def refused(net, caller, kind: str, method: str, *args) -> str:
    """Call, expect `Err kind`, and prove nothing changed; returns the message."""
    before = fingerprint(net.admin)
    got, message = caller.err(method, *args)
    assert got == kind, message
    assert fingerprint(net.admin) == before
    return message


# --- links through the to-many side of OneToMany / ManyToOne ---


def test_linking_from_the_to_many_side_cannot_move_another_owners_entity(net):
    bobs_project = new(net.bob, "iso::Project", name="bob's")
    task = new(net.bob, "iso::Task", title="bob's task")
    net.bob.ok("link", "iso::Task", task["id"], "project", bobs_project["id"])
    before = state_of(net, "iso::Task", task["id"])
    mine = new(net.mallory, "iso::Project", name="mallory's")
    message = refused(net, net.mallory, "Forbidden", "link", "iso::Project", mine["id"], "tasks", task["id"])
    assert "iso::Task" in message and str(task["id"]) in message
    assert state_of(net, "iso::Task", task["id"]) == before
    assert links(net, "iso::Project", mine["id"], "tasks") == []
    # the same attack inside a batch
    op = {
        "Link": {"type_name": "iso::Project", "id": mine["id"], "relation": "tasks", "target_id": task["id"]}
    }
    assert refused(net, net.mallory, "Forbidden", "batch", [op]).startswith("operation 0:")
    # the owner of both may, and so may an admin
    assert net.bob.call("link", "iso::Project", bobs_project["id"], "tasks", task["id"]) == {"Ok": None}
    assert net.admin.call("link", "iso::Project", mine["id"], "tasks", task["id"]) == {"Ok": None}
    assert fields_of(net.admin.ok("get", "iso::Task", task["id"]))["title"] == text("bob's task")


def test_unlinking_from_the_to_many_side_cannot_rewrite_another_owners_entity(net):
    mine = new(net.mallory, "iso::Project", name="mallory's")
    task = new(net.bob, "iso::Task", title="joins mallory")
    net.bob.ok("link", "iso::Task", task["id"], "project", mine["id"])  # bob's choice
    refused(net, net.mallory, "Forbidden", "unlink", "iso::Project", mine["id"], "tasks", task["id"])
    assert net.bob.call("unlink", "iso::Task", task["id"], "project", mine["id"]) == {"Ok": None}


def test_joining_another_owners_set_changes_only_its_membership(net):
    theirs = new(net.alice, "iso::Project", name="alice's")
    before = state_of(net, "iso::Project", theirs["id"])
    task = new(net.bob, "iso::Task", title="bob joins")
    assert net.bob.call("link", "iso::Task", task["id"], "project", theirs["id"]) == {"Ok": None}
    assert links(net, "iso::Project", theirs["id"], "tasks") == [task["id"]]
    assert state_of(net, "iso::Project", theirs["id"]) == before  # no version step, same updater


# --- OneToOne ---


def test_one_to_one_link_cannot_take_another_owners_partner(net):
    ann = new(net.alice, "iso::Person", name="Ann")
    al = new(net.alice, "iso::Person", name="Al")
    net.alice.ok("link", "iso::Person", ann["id"], "spouse", al["id"])
    before = (state_of(net, "iso::Person", ann["id"]), state_of(net, "iso::Person", al["id"]))
    mal = new(net.mallory, "iso::Person", name="Mal")
    message = refused(net, net.mallory, "Forbidden", "link", "iso::Person", mal["id"], "spouse", ann["id"])
    assert "iso::Person" in message
    assert (state_of(net, "iso::Person", ann["id"]), state_of(net, "iso::Person", al["id"])) == before
    # a target without a partner is still another owner's document
    single = new(net.bob, "iso::Person", name="Bo")
    refused(net, net.mallory, "Forbidden", "link", "iso::Person", mal["id"], "spouse", single["id"])
    badge = new(net.mallory, "iso::Badge", code="B1")
    refused(net, net.mallory, "Forbidden", "link", "iso::Badge", badge["id"], "holder", single["id"])


def test_one_to_one_relink_cannot_clear_another_owners_side(net):
    mal = new(net.mallory, "iso::Person", name="Mal")
    bo = new(net.bob, "iso::Person", name="Bo")
    assert net.admin.call("link", "iso::Person", mal["id"], "spouse", bo["id"]) == {"Ok": None}
    before = state_of(net, "iso::Person", bo["id"])
    other = new(net.mallory, "iso::Person", name="Mal2")
    refused(net, net.mallory, "Forbidden", "link", "iso::Person", mal["id"], "spouse", other["id"])
    refused(net, net.mallory, "Forbidden", "unlink", "iso::Person", mal["id"], "spouse", bo["id"])
    assert state_of(net, "iso::Person", bo["id"]) == before


# --- Cascade ---


def test_cascade_deletes_only_what_the_caller_may_delete(net):
    mine = new(net.mallory, "iso::Project", name="to delete")
    own_task = new(net.mallory, "iso::Task", title="mallory's")
    net.mallory.ok("link", "iso::Task", own_task["id"], "project", mine["id"])
    bobs = new(net.bob, "iso::Task", title="bob's, linked by bob")
    net.bob.ok("link", "iso::Task", bobs["id"], "project", mine["id"])
    seq = net.admin.call("stats")["audit_length"]
    assert net.mallory.call("delete", "iso::Project", mine["id"]) == {"Ok": None}
    assert net.admin.err("get", "iso::Task", own_task["id"])[0] == "NotFound"  # cascaded
    kept = net.admin.ok("get", "iso::Task", bobs["id"])
    assert fields_of(kept)["title"] == text("bob's, linked by bob")
    assert kept["refs"] == [{"relation": "project", "target_type": "iso::Project", "target_id": []}]
    entries = net.admin.ok("audit", seq, [], 100)["items"]
    deleted = {(e["type_name"], e["id"]) for e in entries if e["operation"] == "delete"}
    assert deleted == {("iso::Project", mine["id"]), ("iso::Task", own_task["id"])}
    # inside a batch too: the cascade spares what the caller may not delete
    project = new(net.mallory, "iso::Project", name="batch")
    net.bob.ok("link", "iso::Task", bobs["id"], "project", project["id"])
    deletion = {"Delete": {"type_name": "iso::Project", "id": project["id"]}}
    assert net.mallory.ok("batch", [deletion]) == [{"Done": None}]
    assert fields_of(net.admin.ok("get", "iso::Task", bobs["id"]))["title"] == text("bob's, linked by bob")
    # an admin's delete cascades to everything
    project = new(net.bob, "iso::Project", name="admin deletes")
    net.bob.ok("link", "iso::Task", bobs["id"], "project", project["id"])
    assert net.admin.call("delete", "iso::Project", project["id"]) == {"Ok": None}
    assert net.admin.err("get", "iso::Task", bobs["id"])[0] == "NotFound"


def test_many_to_many_cascade_spares_other_owners_and_keeps_their_version(net):
    board = new(net.mallory, "iso::Board", name="mallory's board")
    sticker = new(net.bob, "iso::Sticker", name="bob's sticker")
    assert net.mallory.call("link", "iso::Board", board["id"], "stickers", sticker["id"]) == {"Ok": None}
    before = state_of(net, "iso::Sticker", sticker["id"])
    assert links(net, "iso::Sticker", sticker["id"], "boards") == [board["id"]]
    assert net.mallory.call("delete", "iso::Board", board["id"]) == {"Ok": None}
    assert state_of(net, "iso::Sticker", sticker["id"]) == before  # spared, not even a version step
    assert links(net, "iso::Sticker", sticker["id"], "boards") == []
    # the caller's own sticker goes with the board
    board = new(net.mallory, "iso::Board", name="again")
    own = new(net.mallory, "iso::Sticker", name="mallory's sticker")
    net.mallory.ok("link", "iso::Board", board["id"], "stickers", own["id"])
    net.mallory.ok("delete", "iso::Board", board["id"])
    assert net.admin.err("get", "iso::Sticker", own["id"])[0] == "NotFound"


def test_many_to_many_link_keeps_the_targets_version_and_updater(net):
    task = new(net.bob, "iso::Task", title="labelled")
    before = state_of(net, "iso::Task", task["id"])
    label = new(net.mallory, "iso::Label", name="mine")
    assert net.mallory.call("link", "iso::Label", label["id"], "tasks", task["id"]) == {"Ok": None}
    assert state_of(net, "iso::Task", task["id"]) == before
    assert net.mallory.call("unlink", "iso::Label", label["id"], "tasks", task["id"]) == {"Ok": None}
    assert state_of(net, "iso::Task", task["id"]) == before


# --- leaks ---


def test_get_and_find_answer_the_same_for_hidden_and_absent_entities(net):
    diary = new(net.alice, "iso::Diary", email="ann@example.org")
    for caller in (net.bob, net.anon):
        hidden = caller.err("get", "iso::Diary", diary["id"])
        absent = caller.err("get", "iso::Diary", diary["id"] + 1000)
        assert hidden[0] == absent[0] == "NotFound"
        assert hidden[1].replace(str(diary["id"]), "#") == absent[1].replace(str(diary["id"] + 1000), "#")
        hidden = caller.err("find", "iso::Diary", "ann@example.org")
        absent = caller.err("find", "iso::Diary", "nobody@example.org")
        assert hidden[0] == absent[0] == "NotFound"
        assert hidden[1].replace("ann", "#") == absent[1].replace("nobody", "#")
    assert net.alice.ok("find", "iso::Diary", "ann@example.org")["id"] == diary["id"]
    # writes do not tell them apart either
    hidden = net.bob.err("update", "iso::Diary", diary["id"], [field("email", text("x@y"))], [])
    absent = net.bob.err("update", "iso::Diary", diary["id"] + 1000, [field("email", text("x@y"))], [])
    assert hidden[0] == absent[0] == "NotFound"
    assert net.bob.err("delete", "iso::Diary", diary["id"])[0] == "NotFound"


def test_admin_read_types_are_refused_whether_or_not_the_entity_exists(net):
    entity = net.alice.ok("create", "iso::Audited", [field("n", {"Int": 1})])
    assert net.alice.err("get", "iso::Audited", entity["id"])[0] == "Forbidden"
    assert net.alice.err("get", "iso::Audited", entity["id"] + 1000)[0] == "Forbidden"


def test_stats_show_only_the_counts_the_caller_may_count(net):
    shown = {t["type_name"] for t in net.anon.call("stats")["types"]}
    assert "iso::Project" in shown
    assert "iso::Diary" not in shown and "iso::Audited" not in shown
    for caller in (net.anon, net.bob):
        stats = caller.call("stats")
        for entry in stats["types"]:
            assert caller.ok("count", entry["type_name"], []) == entry["count"]
        assert stats["entities"] == sum(t["count"] for t in stats["types"])
    admin_shown = {t["type_name"] for t in net.admin.call("stats")["types"]}
    assert {"iso::Diary", "iso::Audited"} <= admin_shown


def test_links_and_refs_show_only_entities_the_caller_may_read(net):
    notebook = new(net.bob, "iso::Notebook", title="shared")
    page = net.alice.ok("create", "iso::Page", [field("text", text("private"))])
    net.alice.ok("link", "iso::Page", page["id"], "notebook", notebook["id"])
    assert net.alice.ok("links", "iso::Notebook", notebook["id"], "pages", [], 100)["items"] == [page["id"]]
    assert net.admin.ok("links", "iso::Notebook", notebook["id"], "pages", [], 100)["items"] == [page["id"]]
    for caller in (net.bob, net.anon):
        assert caller.ok("links", "iso::Notebook", notebook["id"], "pages", [], 100)["items"] == []
    mine = net.alice.ok("get", "iso::Page", page["id"])
    assert mine["refs"][0]["target_id"] == [notebook["id"]]
    memo = net.alice.ok("create", "iso::Memo", [field("text", text("see page"))])
    net.alice.ok("link", "iso::Memo", memo["id"], "sheet", page["id"])
    assert net.alice.ok("get", "iso::Memo", memo["id"])["refs"][0]["target_id"] == [page["id"]]
    for caller in (net.bob, net.anon):
        assert caller.ok("get", "iso::Memo", memo["id"])["refs"][0]["target_id"] == []
        listed = caller.ok("list", "iso::Memo", [], [], 100)["items"]
        assert [m["refs"][0]["target_id"] for m in listed if m["id"] == memo["id"]] == [[]]


def test_restore_leaves_no_one_sided_pair_and_lists_only_many_to_many_links(net):
    ann = new(net.alice, "iso::Person", name="Ann")
    dump = {"format": "kybra-simple-db-dump/1"}
    person = {
        "type": "iso::Person",
        "id": 900,
        "fields": {"name": "Restored"},
        "refs": {"spouse": ann["id"]},
        "links": {},
        "owner": "aaaaa-aa",
        "creator": "aaaaa-aa",
        "updater": "aaaaa-aa",
        "created": 1,
        "updated": 1,
        "version": 1,
    }
    before = fingerprint(net.admin)
    assert net.admin.err("restore", json.dumps(dict(dump, records=[person])))[0] == "Conflict"
    project = dict(person, type="iso::Project", fields={"name": "p"}, refs={}, links={"tasks": [1]})
    assert net.admin.err("restore", json.dumps(dict(dump, records=[project])))[0] == "Invalid"
    assert fingerprint(net.admin) == before
    free = dict(person, refs={"spouse": 901})  # a partner restored later (or on a later page)
    partner = dict(person, id=901, refs={"spouse": 900})
    assert net.admin.ok("restore", json.dumps(dict(dump, records=[free, partner]))) == 2
    assert net.admin.ok("get", "iso::Person", 901)["refs"][0]["target_id"] == [900]


def test_list_filters_do_not_tell_hidden_matches_from_none(net):
    contact = type_def(
        "iso::Contact", [field_def("email", "Text", high=80, indexed=True)], access=policy(read="Owner")
    )
    assert net.admin.call("define_type", contact, False) == {"Ok": None}
    for _ in range(3):
        net.alice.ok("create", "iso::Contact", [field("email", text("ann@example.org"))])
    mine = [
        net.bob.ok("create", "iso::Contact", [field("email", text("bo@example.org"))])["id"] for _ in range(3)
    ]
    for limit in (1, 2, 50):
        for value in ("ann@example.org", "nobody@example.org"):
            page = net.bob.ok("list", "iso::Contact", [field("email", text(value))], [], limit)
            assert page == {"items": [], "next": []}
    # bob pages through his own entities past alice's hidden ones
    seen, cursor = [], []
    while True:
        page = net.bob.ok("list", "iso::Contact", [], cursor, 2)
        seen += [e["id"] for e in page["items"]]
        if not page["next"]:
            break
        cursor = page["next"]
    assert seen == mine


def test_query_does_not_tell_hidden_matches_from_none(net):
    contact = type_def(
        "iso::Card",
        [field_def("email", "Text", high=80, indexed=True), field_def("note", "Text")],
        access=policy(read="Owner"),
    )
    assert net.admin.call("define_type", contact, False) == {"Ok": None}
    for _ in range(3):
        net.alice.ok(
            "create", "iso::Card", [field("email", text("ann@example.org")), field("note", text("n"))]
        )
    own = net.bob.ok(
        "create", "iso::Card", [field("email", text("bo@example.org")), field("note", text("n"))]
    )

    def query(caller, op, value, field_name="email", limit=10):
        request = {
            "type_name": "iso::Card",
            "filters": [{"field": field_name, "op": {op: None}, "values": [text(value)]}],
            "order": [],
            "cursor": [],
            "limit": limit,
        }
        return caller.ok("query", request)

    for limit in (1, 10):
        for op, field_name in (("Eq", "email"), ("StartsWith", "email"), ("Eq", "note")):
            hidden = query(
                net.bob, op, "ann@example.org" if field_name == "email" else "n", field_name, limit
            )
            absent = query(
                net.bob, op, "zed@example.org" if field_name == "email" else "zzz", field_name, limit
            )
            if field_name == "note":  # bob's own card matches "n"
                assert [e["id"] for e in hidden["items"]] == [own["id"]]
                hidden = dict(hidden, items=[], scanned=hidden["scanned"] - 1)
            assert hidden == absent, (op, field_name, limit)
    assert len(query(net.alice, "Eq", "ann@example.org")["items"]) == 3
    # bob pages through his own cards, one per call, past alice's; each cursor follows one of his
    net.alice.ok("create", "iso::Card", [field("email", text("ann2@example.org")), field("note", text("n"))])
    second = net.bob.ok(
        "create", "iso::Card", [field("email", text("bo2@example.org")), field("note", text("n"))]
    )
    seen, cursor = [], []
    while True:
        request = {"type_name": "iso::Card", "filters": [], "order": [], "cursor": cursor, "limit": 1}
        page = net.bob.ok("query", request)
        seen += [e["id"] for e in page["items"]]
        if not page["next"]:
            break
        cursor = page["next"]
    assert seen == [own["id"], second["id"]]
