"""Attacks on the endpoints that landed after issue 9 (query, query_count, upsert, create with refs,
audit_query, certified reads, ICRC-3, links, dump/restore cursors), each by a hostile caller through the
real stack (the Replica with real Candid). Each test is the attack; it asserts the refusal (an `Err`,
never a trap) and that a refused call changed nothing."""

import base64
import json

import pytest
from canister_fixtures import fingerprint, with_types
from canister_harness import (
    Rejected,
    field,
    field_def,
    policy,
    relation_def,
    text,
    type_def,
    user,
)
from test_canister_queries import request

BOARD = type_def("rt::Board", [field_def("title", "Text", high=40, indexed=True)])
NOTE = type_def(
    "rt::Note",
    [field_def("body", "Text", high=40, indexed=True), field_def("score", "Float", indexed=True)],
    relations=[relation_def("board", "ManyToOne", "rt::Board", "notes")],
    access=policy(read="Owner"),
)
HANDLE = type_def(
    "rt::Handle",
    [field_def("name", "Text", required=True, high=40)],
    relations=[relation_def("holder", "OneToOne", "rt::Board", "handle")],
)
TYPES = [BOARD, NOTE, HANDLE]


@pytest.fixture(scope="module")
def net(db):
    return with_types(db, TYPES)


def refused(net, caller, method: str, *args) -> tuple:
    """Call, expect an `Err` (never a trap), prove nothing changed; returns (kind, message)."""
    before = fingerprint(net.admin)
    try:
        result = caller.call(method, *args)
    except Rejected as exc:
        pytest.fail(f"{method} trapped: {exc.message}")
    assert "Err" in result, result
    assert fingerprint(net.admin) == before
    ((kind, message),) = result["Err"].items()
    return kind, message


def cursor_of(payload: str) -> str:
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


# --- leaks ---


def test_links_cursor_does_not_reveal_hidden_ids(net):
    """A `links` page that holds only entities the caller may not read must not hand their ids back as
    its cursor."""
    board = net.mallory.ok("create", "rt::Board", [field("title", text("shared"))])
    hidden = []
    for _ in range(3):
        note = net.bob.ok("create", "rt::Note", [field("body", text("private"))])
        net.bob.ok("link", "rt::Note", note["id"], "board", board["id"])
        hidden.append(note["id"])
    page = net.mallory.ok("links", "rt::Board", board["id"], "notes", [], 1)
    assert page["items"] == []
    assert not (set(page["next"]) & set(hidden)), page
    empty = net.mallory.ok("create", "rt::Board", [field("title", text("empty"))])
    assert page == net.mallory.ok("links", "rt::Board", empty["id"], "notes", [], 1)


def test_audit_shows_no_side_effect_on_another_owners_hidden_entity(net):
    """Deleting her Board clears bob's (Owner-read) Note's ref; that write is hers in the log, but it
    must not show her bob's hidden Note."""
    board = net.mallory.ok("create", "rt::Board", [field("title", text("trap"))])
    note = net.bob.ok("create", "rt::Note", [field("body", text("private"))])
    net.bob.ok("link", "rt::Note", note["id"], "board", board["id"])
    net.mallory.ok("delete", "rt::Board", board["id"])
    seen = []
    start = 0
    while True:
        page = net.mallory.ok("audit", start, [], 100)
        seen += page["items"]
        if not page["next"]:
            break
        start = page["next"][0]
    assert not [e for e in seen if e["type_name"] == "rt::Note" and e["id"] == note["id"]]
    query = {"start": [], "newest_first": True, "type_name": ["rt::Note"], "id": [note["id"]], "caller": [],
             "limit": 10}
    assert net.mallory.ok("audit_query", query)["items"] == []


# --- traps from crafted input ---


@pytest.mark.parametrize(
    "payload",
    [
        "[" * 1500,
        "[" * 700 + "]" * 700,
        '["x",[NaN,1]]',
        '["x",' + "9" * 1400 + "]",
        '"' + "\\ud800" * 200 + '"',
    ],
)
def test_forged_query_cursors_are_invalid_not_traps(net, payload):
    cursor = cursor_of(payload)[:2000]
    for method in ("query", "query_count"):
        for order in (None, {"field": "title", "descending": True}):
            kind, _ = refused(net, net.mallory, method, request("rt::Board", order=order, cursor=cursor))
            assert kind == "Invalid"


def test_forged_cursor_with_the_right_fingerprint_is_invalid_not_a_trap(net):
    for n in range(3):
        net.alice.ok("create", "rt::Board", [field("title", text("b" + str(n)))])
    order = {"field": "title", "descending": False}
    page = net.alice.ok("query", request("rt::Board", order=order, limit=1))
    fingerprint_, _ = json.loads(base64.urlsafe_b64decode(page["next"][0] + "==").decode())
    for position in ([float("nan"), 1], [1e308 * 10, 1], ["x", 2**200], [None, 1], [[1], 1], ["x", -(2**70)]):
        cursor = cursor_of(json.dumps([fingerprint_, position]))
        result = net.alice.call("query", request("rt::Board", order=order, cursor=cursor))
        assert "Err" in result or "Ok" in result
    plain_page = net.alice.ok("query", request("rt::Board", limit=1))
    fingerprint_, _ = json.loads(base64.urlsafe_b64decode(plain_page["next"][0] + "==").decode())
    for position in (2**200, 2**64, -1, 1.5):
        cursor = cursor_of(json.dumps([fingerprint_, position]))
        result = net.alice.call("query", request("rt::Board", cursor=cursor))
        assert "Err" in result or "Ok" in result


@pytest.mark.parametrize(
    "filters",
    [
        [{"field": "score", "op": {"Gt": None}, "values": [{"Float": float("nan")}]}],
        [{"field": "score", "op": {"Lt": None}, "values": [{"Float": float("inf")}]}],
        [{"field": "score", "op": {"Eq": None}, "values": [{"Int": 2**300}]}],
        [{"field": "body", "op": {"StartsWith": None}, "values": [text("x" * 100_000)]}],
        [{"field": "body", "op": {"In": None}, "values": [text("y" * 2000)] * 100}],
        [{"field": "body", "op": {"In": None}, "values": [text("z")] * 101}],
        [{"field": "body", "op": {"Between": None}, "values": [text("a")]}],
        [{"field": "", "op": {"Eq": None}, "values": [text("a")]}],
        [{"field": "body", "op": {"Eq": None}, "values": [{"Int": 1}]}],
        [{"field": "body", "op": {"Eq": None}, "values": []}],
        [{"field": "id", "op": {"Eq": None}, "values": [{"Int": -1}]}],
        [{"field": "body", "op": {"Eq": None}, "values": [text("a")]}] * 9,
    ],
)
def test_hostile_query_filters_are_errors_or_answers_never_traps(net, filters):
    for method in ("query", "query_count"):
        for caller in (net.mallory, net.anon, net.admin):
            try:
                result = caller.call(method, request("rt::Note", filters=filters, limit=4_000_000_000))
            except Rejected as exc:
                pytest.fail(f"{method} trapped: {exc.message}")
            assert "Err" in result or "Ok" in result


def test_hostile_audit_queries_never_trap(net):
    for start in ([], [0], [2**64 - 1]):
        for newest_first in (True, False):
            query = {"start": start, "newest_first": newest_first, "type_name": ["rt::Note"],
                     "id": [2**64 - 1], "caller": [user("nobody")], "limit": 4_000_000_000}
            for caller in (net.mallory, net.anon):
                assert "Ok" in caller.call("audit_query", query)
    assert "Ok" in net.mallory.call("audit", 2**64 - 1, [0], 4_000_000_000)


def test_hostile_certified_reads_never_trap(net):
    for entity_id in (0, 2**63, 2**64 - 1):
        for caller in (net.mallory, net.anon):
            for result in (
                caller.call("get_certified", "rt::Board", entity_id),
                caller.call("get_certified", "nope::Type", entity_id),
                caller.call("list_certified", "rt::Board", [entity_id], 4_000_000_000),
                caller.call("find_certified", "rt::Board", "x" * 10_000),
            ):
                assert "Err" in result or "Ok" in result


def test_hostile_dump_cursors_are_invalid_not_traps(net):
    for cursor in ("1:-5", "-3:0", "1:" + "9" * 5000, "0:0", "99999999999999999999:1", ":", "1:2:3"):
        result = net.admin.call("dump", [cursor], 1)
        assert "Err" in result or "Ok" in result, cursor


# --- writes through other owners' entities ---


def test_create_with_a_reverse_one_to_one_ref_cannot_take_another_owners_partner(net):
    board = net.bob.ok("create", "rt::Board", [field("title", text("bob's"))])
    handle = net.bob.ok("create", "rt::Handle", [field("name", text("bob"))])
    net.bob.ok("link", "rt::Handle", handle["id"], "holder", board["id"])
    kind, _ = refused(net, net.mallory, "create", "rt::Handle",
                      [field("name", text("m")), field("holder", {"Int": board["id"]})])
    assert kind == "Forbidden"
    kind, _ = refused(net, net.mallory, "create", "rt::Board",
                      [field("title", text("m")), field("handle", {"Int": handle["id"]})])
    assert kind == "Forbidden"


def test_upsert_cannot_touch_another_owners_entity(net):
    item = net.bob.ok("create", "shop::Item", [field("name", text("lamp")), field("sku", text("RT-1"))])
    kind, _ = refused(net, net.mallory, "upsert", "shop::Item", text("RT-1"), [field("name", text("mine"))])
    assert kind == "Conflict"
    op = {"Upsert": {"type_name": "shop::Item", "alias": text("RT-1"), "fields": [field("qty", {"Int": 0})]}}
    kind, _ = refused(net, net.mallory, "batch", [op])
    assert kind == "Conflict"
    assert net.admin.ok("get", "shop::Item", item["id"])["version"] == 1
    kind, _ = refused(net, net.anon, "upsert", "shop::Item", text("RT-2"), [field("name", text("anon"))])
    assert kind == "Unauthenticated"


def test_list_cursor_does_not_name_a_hidden_entity(net):
    """Entities of two owners interleaved: a full page of bob's must end its cursor at his last one,
    not at alice's hidden entity read after it."""
    mine = []
    for n in range(4):
        net.alice.ok("create", "rt::Note", [field("body", text("a" + str(n)))])
        mine.append(net.bob.ok("create", "rt::Note", [field("body", text("b" + str(n)))])["id"])
        net.alice.ok("create", "rt::Note", [field("body", text("c" + str(n)))])
    cursor, seen = [], []
    while True:
        page = net.bob.ok("list", "rt::Note", [], cursor, 2)
        seen += [e["id"] for e in page["items"]]
        if not page["next"]:
            break
        assert page["next"][0] == page["items"][-1]["id"], page
        cursor = page["next"]
    assert [i for i in seen if i in mine] == mine


PIN = type_def(
    "rt::Pin",
    [field_def("label", "Text", high=40)],
    relations=[relation_def("note", "ManyToOne", "rt::Note", "pins"),
               relation_def("notes", "ManyToMany", "rt::Note", "pinned_by")],
)


def test_audit_of_a_public_type_names_no_hidden_link_target(net):
    """Bob's public Pin links to his Owner-read Note: `get` shows others the ref as null, and the audit
    log of the public Pin must not name the Note either."""
    assert net.admin.call("define_type", PIN, False) == {"Ok": None}
    note = net.bob.ok("create", "rt::Note", [field("body", text("private"))])
    pin = net.bob.ok("create", "rt::Pin", [field("label", text("p")), field("note", {"Int": note["id"]})])
    net.bob.ok("link", "rt::Pin", pin["id"], "notes", note["id"])
    other = net.bob.ok("create", "rt::Pin", [field("label", text("q"))])
    net.bob.ok("link", "rt::Pin", other["id"], "note", note["id"])
    assert net.mallory.ok("get", "rt::Pin", pin["id"])["refs"][0]["target_id"] == []
    for caller in (net.mallory, net.anon):
        query = {"start": [], "newest_first": True, "type_name": ["rt::Pin"], "id": [], "caller": [],
                 "limit": 100}
        entries = caller.ok("audit_query", query)["items"]
        assert entries, "bob's Pin entries are public"
        shown = [c for e in entries for c in e["changes"] if c["name"] in ("note", "notes")]
        assert all(c["value"] == {"Null": None} for c in shown), shown
    mine = net.bob.ok("audit_query", dict(query, caller=[net.bob.principal]))["items"]
    assert {"Int": note["id"]} in [c["value"] for e in mine for c in e["changes"]]
