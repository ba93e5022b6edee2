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
from test_canister_queries import request, where

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
GAUGE = type_def("rt::Gauge", [field_def("reading", "Float", indexed=True)])
TYPES = [BOARD, NOTE, HANDLE, GAUGE]


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
    query = {
        "start": [],
        "newest_first": True,
        "type_name": ["rt::Note"],
        "id": [note["id"]],
        "caller": [],
        "limit": 10,
    }
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
            query = {
                "start": start,
                "newest_first": newest_first,
                "type_name": ["rt::Note"],
                "id": [2**64 - 1],
                "caller": [user("nobody")],
                "limit": 4_000_000_000,
            }
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
    kind, _ = refused(
        net,
        net.mallory,
        "create",
        "rt::Handle",
        [field("name", text("m")), field("holder", {"Int": board["id"]})],
    )
    assert kind == "Forbidden"
    kind, _ = refused(
        net,
        net.mallory,
        "create",
        "rt::Board",
        [field("title", text("m")), field("handle", {"Int": handle["id"]})],
    )
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
    relations=[
        relation_def("note", "ManyToOne", "rt::Note", "pins"),
        relation_def("notes", "ManyToMany", "rt::Note", "pinned_by"),
    ],
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
        query = {
            "start": [],
            "newest_first": True,
            "type_name": ["rt::Pin"],
            "id": [],
            "caller": [],
            "limit": 100,
        }
        entries = caller.ok("audit_query", query)["items"]
        assert entries, "bob's Pin entries are public"
        shown = [c for e in entries for c in e["changes"] if c["name"] in ("note", "notes")]
        assert all(c["value"] == {"Null": None} for c in shown), shown
    mine = net.bob.ok("audit_query", dict(query, caller=[net.bob.principal]))["items"]
    assert {"Int": note["id"]} in [c["value"] for e in mine for c in e["changes"]]


BIG = 2**64 - 1
HOSTILE_NAMES = ["", "rt::", "::Board", "rt::Board::x", "x" * 50_000, "rt::Note\x00", "shop::Item "]
HOSTILE_VALUES = [
    {"Text": ""},
    {"Text": "x" * 100_000},
    {"Int": 2**200},
    {"Int": -(2**200)},
    {"Float": float("nan")},
    {"Float": float("-inf")},
    {"Bool": True},
    {"Timestamp": BIG},
    {"Null": None},
    {"Principal": "aaaaa-aa"},
    {"Principal": "2vxsx-fae"},
]


def hostile_calls(board_id: int, note_id: int) -> list:
    """(method, args) a hostile caller sends: odd names, ids, values and fields on every endpoint."""
    calls = []
    for name in HOSTILE_NAMES:
        calls += [
            ("get", (name, 1)),
            ("find", (name, "x")),
            ("count", (name, [])),
            ("delete", (name, 1)),
            ("create", (name, [])),
            ("upsert", (name, text("a"), [])),
            ("links", (name, 1, name, [], 0)),
            ("list", (name, [], [], 0)),
            ("get_certified", (name, 1)),
            ("list_certified", (name, [], 0)),
            ("query", (request(name),)),
            ("query_count", (request(name),)),
            ("transfer", (name, 1, user("x"))),
            ("rebuild_indexes", (name, [], 0)),
            ("link", ("rt::Note", note_id, name, board_id)),
            ("unlink", ("rt::Note", note_id, name, board_id)),
            ("create", ("rt::Board", [field(name, text("v"))])),
            ("update", ("rt::Board", board_id, [field(name, text("v"))], [])),
            ("list", ("rt::Board", [field(name, text("v"))], [], 0)),
        ]
    for entity_id in (0, 2**63, BIG):
        calls += [
            ("get", ("rt::Board", entity_id)),
            ("delete", ("rt::Board", entity_id)),
            ("update", ("rt::Board", entity_id, [], [BIG])),
            ("transfer", ("rt::Board", entity_id, user("x"))),
            ("link", ("rt::Note", note_id, "board", entity_id)),
            ("link", ("rt::Note", entity_id, "board", 1)),
            ("links", ("rt::Board", board_id, "notes", [entity_id], 4_000_000_000)),
            ("list", ("rt::Board", [], [entity_id], 4_000_000_000)),
            ("create", ("rt::Note", [field("board", {"Int": entity_id})])),
            ("update", ("rt::Board", board_id, [], [entity_id])),
        ]
    for value in HOSTILE_VALUES:
        calls += [
            ("create", ("rt::Note", [field("body", value)])),
            ("create", ("rt::Note", [field("score", value)])),
            ("create", ("rt::Note", [field("board", value)])),
            ("update", ("rt::Board", board_id, [field("title", value)], [])),
            ("upsert", ("shop::Item", value, [field("name", text("n"))])),
            ("upsert", ("shop::Item", text("RT-9"), [field("sku", value)])),
            ("list", ("rt::Note", [field("body", value)], [], 0)),
            ("count", ("rt::Board", [field("title", value)])),
            ("find", ("shop::Item", "x" * 3000)),
        ]
    calls += [
        ("create", ("rt::Board", [field("title", text("a")), field("title", text("b"))])),
        ("batch", ([{"Delete": {"type_name": "rt::Board", "id": board_id}}] * 101,)),
        (
            "batch",
            (
                [
                    {"Create": {"type_name": "rt::Board", "fields": []}},
                    {"Delete": {"type_name": "rt::Board", "id": board_id}},
                ],
            ),
        ),
        ("restore", ("{}",)),
        ("dump", ([], 0)),
        ("add_admin", (user("mallory"),)),
        ("remove_admin", (user("admin"),)),
        ("define_type", (BOARD, True)),
        ("audit", (BIG, [0], 0)),
        ("audit", (0, [BIG], BIG % 2**32)),
    ]
    return calls


@pytest.mark.parametrize("who", ["mallory", "anon"])
def test_hostile_calls_are_errors_that_change_nothing(net, who):
    """Every odd argument to every endpoint, from a caller who owns nothing there: never a trap, and a
    refused update leaves every stored byte as it was."""
    board = net.bob.ok("create", "rt::Board", [field("title", text("bob's board"))])
    note = net.bob.ok("create", "rt::Note", [field("body", text("bob's note"))])
    caller = getattr(net, who)
    reads = (
        "get",
        "find",
        "count",
        "links",
        "list",
        "get_certified",
        "list_certified",
        "query",
        "query_count",
        "dump",
        "audit",
    )
    before = fingerprint(net.admin)
    for method, args in hostile_calls(board["id"], note["id"]):
        try:
            result = caller.call(method, *args)
        except Rejected as exc:
            pytest.fail(f"{method}{str(args)[:200]} trapped: {exc.message}")
        if method in reads:
            continue
        after = fingerprint(net.admin)
        if "Err" in result:
            assert after == before, (method, str(args)[:200])
        before = after
    assert net.admin.ok("get", "rt::Board", board["id"])["version"] == 1
    assert net.admin.ok("get", "rt::Note", note["id"])["version"] == 1


def test_create_with_a_ref_to_a_hidden_entity_answers_as_for_an_absent_one(net):
    if "rt::Pin" not in [t["name"] for t in net.admin.call("schema")]:
        assert net.admin.call("define_type", PIN, False) == {"Ok": None}
    hidden = net.bob.ok("create", "rt::Note", [field("body", text("private"))])["id"]
    absent = hidden + 1000
    answers = []
    for target in (hidden, absent):
        kind, message = refused(net, net.mallory, "create", "rt::Pin", [field("note", {"Int": target})])
        answers.append((kind, message.replace(str(target), "ID")))
    assert answers[0] == answers[1] and answers[0][0] == "NotFound"


@pytest.mark.parametrize(
    "order",
    [
        {"field": "body", "descending": True},
        {"field": "board", "descending": False},
        {"field": "nope", "descending": False},
        {"field": "", "descending": False},
        {"field": "id", "descending": True},
    ],
)
def test_odd_query_orders_are_answers_or_errors(net, order):
    for caller in (net.mallory, net.admin):
        for cursor in (None, cursor_of("[]")):
            result = caller.call("query", request("rt::Note", order=order, cursor=cursor, limit=0))
            assert "Ok" in result or "Err" in result


def test_negative_zero_is_stored_as_zero(net):
    """-0.0 == 0.0, but `count` kept them apart (1 each) while `list`, `query` and `query_count` matched
    both: -0.0 is stored as 0.0, so every way of counting agrees."""
    ids = [net.alice.ok("create", "rt::Gauge", [field("reading", {"Float": v})])["id"] for v in (-0.0, 0.0)]
    negative = net.alice.ok("get", "rt::Gauge", ids[0])["fields"][0]["value"]["Float"]
    assert negative == 0.0 and str(negative) == "0.0"
    for zero in ({"Float": 0.0}, {"Float": -0.0}, {"Int": 0}):
        assert net.anon.ok("count", "rt::Gauge", [field("reading", zero)]) == 2
        listed = net.anon.ok("list", "rt::Gauge", [field("reading", zero)], [], 100)["items"]
        assert [e["id"] for e in listed] == ids
        counted = net.anon.ok("query_count", request("rt::Gauge", [where("reading", "Eq", zero)], limit=0))
        assert counted == {"count": 2, "next": []}


@pytest.mark.parametrize(
    "bad",
    [
        field_def("t", "Text", high=-1),
        field_def("t", "Text", low=0.5, high=0.7),
        field_def("i", "Int", low=0.5, high=0.7),
        field_def("s", "Timestamp", low=1.2, high=1.9),
    ],
)
def test_a_field_no_value_can_fit_is_refused(net, bad):
    """A Text field of max length -1, or an Int field between 0.5 and 0.7, took no value at all (every
    create giving it was Invalid): the definition is refused instead."""
    kind, message = refused(net, net.admin, "define_type", type_def("rt::Empty", [bad]), False)
    assert kind == "Invalid" and bad["name"] in message
