"""Schema, data, relations, pages and batches through the Replica with real Candid; every bad input is a
clear Err (or a clean reject for malformed Candid) and changes nothing."""

import itertools
import json

import pytest
from canister_fixtures import dump_all, fingerprint
from canister_harness import (
    Rejected,
    field,
    field_def,
    fields_of,
    plain,
    policy,
    relation_def,
    text,
    type_def,
    user,
)

_serial = itertools.count(1)


def item(db, caller=None, **values) -> dict:
    n = next(_serial)
    given = {"name": text(f"thing {n}"), "sku": text(f"D-{n}")}
    given.update(values)
    return (caller or db.alice).ok("create", "shop::Item", [field(k, v) for k, v in given.items()])


# --- schema ---


def test_schema_lists_python_and_runtime_types(db):
    names = [t["name"] for t in db.anon.call("schema")]
    assert names[0] == "demo::Note"
    assert {"shop::Item", "shop::Tag", "shop::Review", "vault::Secret"} <= set(names)
    item_def = next(t for t in db.anon.call("schema") if t["name"] == "shop::Item")
    assert item_def["alias"] == ["sku"]
    assert [f["name"] for f in item_def["fields"]] == [
        "name",
        "price",
        "qty",
        "active",
        "seller",
        "listed_at",
        "sku",
    ]
    qty = next(f for f in item_def["fields"] if f["name"] == "qty")
    assert qty["default"] == [{"Int": 1}] and qty["min"] == [0.0] and qty["max"] == [1000.0]


def test_schema_changes_additive_pass_destructive_need_force(db):
    base = [field_def("title", "Text", high=100)]
    assert db.admin.call("define_type", type_def("cms::Page", base), False) == {"Ok": None}
    page = db.alice.ok("create", "cms::Page", [field("title", text("Home"))])
    added = base + [field_def("views", "Int", default={"Int": 0})]
    assert db.admin.call("define_type", type_def("cms::Page", added), False) == {"Ok": None}
    assert fields_of(db.anon.ok("get", "cms::Page", page["id"]))["views"] == {"Int": 0}
    before = fingerprint(db.admin)
    kind, message = db.admin.err("define_type", type_def("cms::Page", base), False)
    assert kind == "Conflict" and "removes field views" in message and "force" in message
    tightened = [field_def("title", "Text", high=10), added[1]]
    assert "tightens" in db.admin.err("define_type", type_def("cms::Page", tightened), False)[1]
    indexed = [field_def("title", "Text", high=100, indexed=True), added[1]]
    kind, message = db.admin.err("define_type", type_def("cms::Page", indexed), True)
    assert kind == "Conflict" and "only while it is empty" in message
    assert fingerprint(db.admin) == before
    assert db.admin.call("define_type", type_def("cms::Page", base), True) == {"Ok": None}
    assert fields_of(db.anon.ok("get", "cms::Page", page["id"])) == {"title": text("Home")}


def test_index_and_alias_can_be_added_while_empty(db):
    plain = [field_def("code", "Text", high=20)]
    assert db.admin.call("define_type", type_def("cms::Tag", plain), False) == {"Ok": None}
    keyed = [field_def("code", "Text", high=20, indexed=True)]
    assert db.admin.call("define_type", type_def("cms::Tag", keyed, alias="code"), False) == {"Ok": None}
    db.alice.ok("create", "cms::Tag", [field("code", text("news"))])
    assert db.anon.ok("find", "cms::Tag", "news")["id"] == 1
    assert db.anon.ok("count", "cms::Tag", [field("code", text("news"))]) == 1
    kind, message = db.admin.err("define_type", type_def("cms::Tag", plain, alias="code"), False)
    assert kind == "Conflict" and "drops the index" in message


def test_index_dropped_then_re_added_counts_only_current_entities(db):
    indexed = [field_def("colour", "Text", high=10, indexed=True)]
    plain_fields = [field_def("colour", "Text", high=10)]
    assert db.admin.call("define_type", type_def("cms::Paint", indexed), False) == {"Ok": None}
    ids = [db.alice.ok("create", "cms::Paint", [field("colour", text("red"))])["id"] for _ in range(4)]
    assert db.admin.call("define_type", type_def("cms::Paint", plain_fields), True) == {"Ok": None}
    db.alice.ok("update", "cms::Paint", ids[0], [field("colour", text("blue"))], [])
    for entity_id in ids:
        db.alice.ok("delete", "cms::Paint", entity_id)
    assert db.admin.call("define_type", type_def("cms::Paint", indexed), False) == {"Ok": None}
    fresh = db.alice.ok("create", "cms::Paint", [field("colour", text("red"))])["id"]
    for colour, expected in (("red", [fresh]), ("blue", [])):
        where = [field("colour", text(colour))]
        assert db.anon.ok("count", "cms::Paint", where) == len(expected)
        assert [e["id"] for e in db.anon.ok("list", "cms::Paint", where, [], 100)["items"]] == expected


@pytest.mark.parametrize(
    "typedef,kind,words",
    [
        (type_def("bad name", []), "Invalid", "type name"),
        (type_def("a::b::C", []), "Invalid", "more than one"),
        (type_def("x::Bad", [field_def("id", "Int")]), "Invalid", "reserved"),
        (type_def("x::Bad", [field_def("on_event", "Int")]), "Invalid", "reserved"),   # the engine's hook
        (type_def("x::Bad", [field_def("_x", "Int")]), "Invalid", "starting with a letter"),
        (type_def("x::Bad", [field_def("a", "Int"), field_def("a", "Text")]), "Invalid", "used twice"),
        (type_def("x::Bad", [field_def("n", "Int")], alias="n"), "Invalid", "alias"),
        (type_def("x::Bad", [field_def("n", "Int", low=5, high=1)]), "Invalid", "min is greater"),
        (type_def("x::Bad", [field_def("n", "Bool", low=1)]), "Invalid", "min/max"),
        (type_def("x::Bad", [field_def("t", "Text", high=1e9)]), "Invalid", "max length"),
        (type_def("x::Bad", [field_def("t", "Text", default={"Int": 3})]), "Invalid", "is Text"),
        (type_def("x::Bad", [field_def(f"f{i}", "Int") for i in range(33)]), "Limit", "fields"),
        (
            type_def("x::Bad", [], relations=[relation_def("r", "ManyToOne", "x::Nowhere", "back")]),
            "NotFound",
            "unknown target",
        ),
        (
            type_def("x::Bad", [], relations=[relation_def("r", "ManyToOne", "shop::Item", "name")]),
            "Conflict",
            "already used",
        ),
        (type_def("demo::Note", []), "Conflict", "models.py"),
    ],
)
def test_bad_type_definitions_are_refused(db, typedef, kind, words):
    before = fingerprint(db.admin)
    got_kind, message = db.admin.err("define_type", typedef, False)
    assert (got_kind, words in message) == (kind, True), message
    assert fingerprint(db.admin) == before


# --- values ---


def test_create_fills_defaults_and_round_trips_every_kind(db):
    seller = user("seller")
    created = item(
        db, price={"Int": 3}, seller={"Principal": seller}, listed_at={"Timestamp": 1_700_000_000 * 10**9}
    )
    values = plain(fields_of(created))
    assert values["price"] == {"Float": 3.0}
    assert values["qty"] == {"Int": 1} and values["active"] == {"Bool": True}
    assert values["seller"] == {"Principal": seller.to_str()}
    assert values["listed_at"] == {"Timestamp": 1_700_000_000 * 10**9}
    assert created["version"] == 1 and created["owner"].to_str() == user("alice").to_str()
    assert created["created_at"] == created["updated_at"] > 0
    found = db.anon.ok("find", "shop::Item", values["sku"]["Text"])
    assert found["id"] == created["id"]


@pytest.mark.parametrize(
    "fields,kind,words",
    [
        ([field("name", {"Int": 5})], "Invalid", "is Text"),
        ([field("name", text("x" * 41))], "Invalid", "longer than 40"),
        ([field("name", text("ok")), field("price", {"Float": -1.0})], "Invalid", "below the minimum"),
        ([field("name", text("ok")), field("qty", {"Int": 10**6})], "Invalid", "above the maximum"),
        ([field("name", text("ok")), field("colour", text("red"))], "Invalid", "no field colour"),
        ([field("price", {"Float": 1.0})], "Invalid", "name is required"),
        ([field("name", {"Null": None})], "Invalid", "required"),
        ([field("name", text("ok")), field("name", text("twice"))], "Invalid", "given twice"),
        ([field("name", text("ok")), field("active", text("maybe"))], "Invalid", "is Bool"),
        ([field("name", text("ok")), field("listed_at", {"Int": 5})], "Invalid", "is Timestamp"),
        ([field("name", text("ok")), field("qty", {"Int": 2**70})], "Invalid", "64-bit"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(db, fields, kind, words):
    before = fingerprint(db.admin)
    got_kind, message = db.alice.err("create", "shop::Item", fields)
    assert got_kind == kind and words in message, message
    assert fingerprint(db.admin) == before


def test_unknown_type_and_id_are_not_found(db):
    before = fingerprint(db.admin)
    assert db.alice.err("create", "shop::Nothing", [])[0] == "NotFound"
    assert db.alice.err("get", "shop::Item", 10**9)[0] == "NotFound"
    assert db.alice.err("update", "shop::Item", 10**9, [], [])[0] == "NotFound"
    assert db.alice.err("delete", "shop::Item", 10**9)[0] == "NotFound"
    assert db.alice.err("find", "shop::Item", "no-such-sku")[0] == "NotFound"
    assert db.alice.err("find", "shop::Tag", "x")[0] == "Invalid"
    assert fingerprint(db.admin) == before


def test_alias_is_unique(db):
    first = item(db)
    before = fingerprint(db.admin)
    sku = fields_of(first)["sku"]["Text"]
    kind, message = db.bob.err("create", "shop::Item", [field("name", text("copy")), field("sku", text(sku))])
    assert kind == "Conflict" and sku in message
    assert fingerprint(db.admin) == before


def test_update_is_partial_and_versioned(db):
    created = item(db)
    updated = db.alice.ok("update", "shop::Item", created["id"], [field("qty", {"Int": 7})], [1])
    assert updated["version"] == 2 and fields_of(updated)["qty"] == {"Int": 7}
    assert fields_of(updated)["name"] == fields_of(created)["name"]
    before = fingerprint(db.admin)
    kind, message = db.alice.err("update", "shop::Item", created["id"], [field("qty", {"Int": 8})], [1])
    assert kind == "Conflict" and "version 2" in message
    assert fingerprint(db.admin) == before
    cleared = db.alice.ok("update", "shop::Item", created["id"], [field("price", {"Null": None})], [])
    assert fields_of(cleared)["price"] == {"Null": None}


def test_python_type_hook_applies(db):
    note = db.bob.ok("create", "demo::Note", [field("title", text("  spaced  "))])
    assert fields_of(note)["title"] == text("spaced") and fields_of(note)["body"] == text("")
    before = fingerprint(db.admin)
    kind, message = db.bob.err("create", "demo::Note", [field("title", text("   "))])
    assert kind == "Invalid" and "rejected" in message.lower()
    assert fingerprint(db.admin) == before


def test_delete_removes_and_frees_alias(db):
    created = item(db)
    sku = fields_of(created)["sku"]["Text"]
    assert db.alice.call("delete", "shop::Item", created["id"]) == {"Ok": None}
    assert db.alice.err("get", "shop::Item", created["id"])[0] == "NotFound"
    again = db.bob.ok("create", "shop::Item", [field("name", text("again")), field("sku", text(sku))])
    assert again["id"] != created["id"]


# --- relations ---


def test_many_to_many_links_page_and_stay_symmetric(db):
    product = item(db)
    tags = [
        db.alice.ok("create", "shop::Tag", [field("label", text(f"l{next(_serial)}"))])["id"]
        for _ in range(12)
    ]
    for tag in tags:
        assert db.alice.call("link", "shop::Item", product["id"], "tags", tag) == {"Ok": None}
    first = db.anon.ok("links", "shop::Item", product["id"], "tags", [], 5)
    assert first["items"] == tags[:5] and first["next"]
    rest, cursor = [], first["next"]
    while cursor:
        page = db.anon.ok("links", "shop::Item", product["id"], "tags", cursor, 5)
        rest += page["items"]
        cursor = page["next"]
    assert first["items"] + rest == tags
    assert db.anon.ok("links", "shop::Tag", tags[0], "items", [], 10)["items"] == [product["id"]]
    assert db.alice.call("unlink", "shop::Tag", tags[0], "items", product["id"]) == {"Ok": None}
    assert tags[0] not in db.anon.ok("links", "shop::Item", product["id"], "tags", [], 100)["items"]


def test_many_to_one_refs_and_cascade(db):
    product = item(db)
    review = db.bob.ok("create", "shop::Review", [field("stars", {"Int": 5})])
    assert review["refs"] == [{"relation": "item", "target_type": "shop::Item", "target_id": []}]
    db.bob.ok("link", "shop::Review", review["id"], "item", product["id"])
    linked = db.anon.ok("get", "shop::Review", review["id"])
    assert linked["refs"] == [{"relation": "item", "target_type": "shop::Item", "target_id": [product["id"]]}]
    assert db.anon.ok("links", "shop::Item", product["id"], "reviews", [], 10)["items"] == [review["id"]]
    own = db.alice.ok("create", "shop::Review", [field("stars", {"Int": 4})])
    db.alice.ok("link", "shop::Review", own["id"], "item", product["id"])
    assert db.alice.call("delete", "shop::Item", product["id"]) == {"Ok": None}
    assert db.anon.err("get", "shop::Review", own["id"])[0] == "NotFound"  # cascaded
    # bob's review is not alice's to delete: the cascade unlinks it instead (as SetNull)
    spared = db.anon.ok("get", "shop::Review", review["id"])
    assert spared["refs"] == [{"relation": "item", "target_type": "shop::Item", "target_id": []}]


def test_restrict_blocks_delete_while_linked(db):
    db.admin.ok("define_type", type_def("hr::Dept", [field_def("title", "Text")]), False)
    staff = [relation_def("dept", "ManyToOne", "hr::Dept", "staff", "Restrict")]
    db.admin.ok("define_type", type_def("hr::Person", [field_def("title", "Text")], relations=staff), False)
    dept = db.alice.ok("create", "hr::Dept", [field("title", text("R&D"))])["id"]
    person = db.alice.ok("create", "hr::Person", [field("title", text("Ann"))])["id"]
    db.alice.ok("link", "hr::Person", person, "dept", dept)
    before = fingerprint(db.admin)
    assert db.alice.err("delete", "hr::Dept", dept)[0] == "Conflict"
    assert fingerprint(db.admin) == before
    db.alice.ok("unlink", "hr::Person", person, "dept", dept)
    assert db.alice.call("delete", "hr::Dept", dept) == {"Ok": None}


def test_self_links_set_both_sides(db):
    relations = [
        relation_def("next", "OneToOne", "chain::Card", "prev", "Restrict"),
        relation_def("pals", "ManyToMany", "chain::Card", "pals"),
    ]
    card_def = type_def("chain::Card", [field_def("title", "Text")], relations=relations)
    db.admin.ok("define_type", card_def, False)
    card = db.alice.ok("create", "chain::Card", [field("title", text("a"))])["id"]
    other = db.alice.ok("create", "chain::Card", [field("title", text("b"))])["id"]

    def refs(entity_id: int) -> dict:
        return {r["relation"]: r["target_id"] for r in db.anon.ok("get", "chain::Card", entity_id)["refs"]}

    db.alice.ok("link", "chain::Card", card, "next", card)
    assert refs(card) == {"next": [card], "prev": [card]}
    db.alice.ok("link", "chain::Card", card, "pals", card)
    assert db.anon.ok("links", "chain::Card", card, "pals", [], 10)["items"] == [card]
    db.alice.ok("link", "chain::Card", other, "next", card)   # card's prev moves to other
    assert refs(card) == {"next": [], "prev": [other]} and refs(other) == {"next": [card], "prev": []}
    assert db.alice.err("delete", "chain::Card", card)[0] == "Conflict"   # other still points at it
    db.alice.ok("link", "chain::Card", card, "prev", card)
    assert refs(card) == {"next": [card], "prev": [card]} and refs(other) == {"next": [], "prev": []}
    db.alice.ok("unlink", "chain::Card", card, "prev", card)
    assert refs(card) == {"next": [], "prev": []}
    db.alice.ok("link", "chain::Card", card, "next", card)
    assert db.alice.call("delete", "chain::Card", card) == {"Ok": None}   # a link to itself goes with it
    assert refs(other) == {"next": [], "prev": []}
    assert db.anon.ok("links", "chain::Card", other, "pals", [], 10)["items"] == []


def test_link_errors(db):
    product = item(db)
    before = fingerprint(db.admin)
    assert db.alice.err("link", "shop::Item", product["id"], "nope", 1)[0] == "NotFound"
    assert db.alice.err("link", "shop::Item", product["id"], "tags", 10**9)[0] == "NotFound"
    assert db.alice.err("links", "shop::Item", product["id"], "nope", [], 10)[0] == "NotFound"
    assert fingerprint(db.admin) == before


# --- pages ---


def test_list_pages_filters_and_counts(db):
    db.admin.ok(
        "define_type",
        type_def("inv::Box", [field_def("colour", "Text", indexed=True), field_def("n", "Int")]),
        False,
    )
    ids = []
    for n in range(23):
        box = db.alice.ok(
            "create", "inv::Box", [field("colour", text("red" if n % 3 else "blue")), field("n", {"Int": n})]
        )
        ids.append(box["id"])
    db.alice.ok("delete", "inv::Box", ids[4])
    seen, cursor = [], []
    while True:
        page = db.anon.ok("list", "inv::Box", [], cursor, 6)
        assert len(page["items"]) <= 6
        seen += [e["id"] for e in page["items"]]
        if not page["next"]:
            break
        cursor = page["next"]
    assert seen == [i for i in ids if i != ids[4]]
    blue = db.anon.ok("list", "inv::Box", [field("colour", text("blue"))], [], 100)["items"]
    assert [fields_of(b)["n"]["Int"] for b in blue] == [0, 3, 6, 9, 12, 15, 18, 21]
    assert db.anon.ok("count", "inv::Box", [field("colour", text("blue"))]) == 8
    assert db.anon.ok("count", "inv::Box", []) == 22
    assert db.anon.err("list", "inv::Box", [field("n", {"Int": 1})], [], 10)[0] == "Invalid"
    assert len(db.anon.ok("list", "inv::Box", [], [], 0)["items"]) == 22  # 0 means the default page
    assert len(db.anon.ok("list", "inv::Box", [], [], 4_000_000_000)["items"]) == 22


def test_page_size_is_capped(db):
    db.admin.ok("define_type", type_def("inv::Dot", [field_def("n", "Int")]), False)
    ops = [{"Create": {"type_name": "inv::Dot", "fields": [field("n", {"Int": n})]}} for n in range(100)]
    db.alice.ok("batch", ops)
    db.alice.ok("batch", ops[:30])
    page = db.anon.ok("list", "inv::Dot", [], [], 1000)
    assert len(page["items"]) == 100 and page["next"]
    assert len(db.anon.ok("list", "inv::Dot", [], page["next"], 1000)["items"]) == 30


def test_large_entities_page_within_the_reply_budget(db):
    wide = [field_def(f"f{i}", "Text") for i in range(32)]
    db.admin.ok("define_type", type_def("bulk::Wide", wide), False)
    values = [field(f"f{i}", text(chr(65 + i % 26) * 2000)) for i in range(32)]
    for _ in range(3):
        db.alice.ok("batch", [{"Create": {"type_name": "bulk::Wide", "fields": values}}] * 20)
    total, cursor, pages = 0, [], 0
    while True:
        page = db.anon.ok("list", "bulk::Wide", [], cursor, 100)
        pages += 1
        total += len(page["items"])
        if not page["next"]:
            break
        cursor = page["next"]
    assert total == 60 and pages >= 2
    dump_pages = dump_all(db.admin, limit=100)
    assert all(len(json.dumps(page)) < 1_100_000 for page in dump_pages)
    wide_records = [
        r for page in dump_pages for r in page["records"] if r.get("type") == "bulk::Wide" and "id" in r
    ]
    assert len(wide_records) == 60



def test_the_first_dump_page_holds_its_schema_within_the_page_size(db):
    """The first dump page carries the schema (up to 100 types of 16,000 characters), and its records
    filled 1,000,000 characters beside it: 1.9M characters here, 2.6M at the type limits, past the
    2 MiB reply of a query called as an update. The records now fill what the schema leaves."""
    fields = [field_def(f"f{i:02d}", "Text", default=text("d" * 400)) for i in range(30)]
    for k in range(60):
        db.admin.ok("define_type", type_def(f"big{k:02d}::T", fields), False)
    wide = [field_def(f"f{i}", "Text") for i in range(32)]
    db.admin.ok("define_type", type_def("schema::Wide", wide), False)
    values = [field(f"f{i}", text(chr(65 + i % 26) * 2000)) for i in range(32)]
    db.alice.ok("batch", [{"Create": {"type_name": "schema::Wide", "fields": values}}] * 16)
    cursor, pages = [], []
    while True:
        page = db.admin.ok("dump", cursor, 100)
        pages.append(json.loads(page["data"]))
        assert len(page["data"]) <= 1_000_100
        if not page["next"]:
            break
        cursor = page["next"]
    assert len(json.dumps(pages[0]["schema"])) > 900_000
    records = [r for page in pages for r in page["records"]]
    assert [r["id"] for r in records if r.get("type") == "schema::Wide" and "id" in r] == list(range(1, 17))


# --- batches ---


def test_batch_applies_every_operation(db):
    product = item(db)
    results = db.alice.ok(
        "batch",
        [
            {"Create": {"type_name": "shop::Tag", "fields": [field("label", text("batch-tag"))]}},
            {
                "Update": {
                    "type_name": "shop::Item",
                    "id": product["id"],
                    "fields": [field("qty", {"Int": 9})],
                    "expected_version": [1],
                }
            },
            {"Transfer": {"type_name": "shop::Item", "id": product["id"], "owner": db.bob.principal}},
        ],
    )
    assert fields_of(results[0]["Entity"])["label"] == text("batch-tag")
    assert results[2]["Entity"]["owner"].to_str() == db.bob.text
    link = {
        "type_name": "shop::Item",
        "id": product["id"],
        "relation": "tags",
        "target_id": results[0]["Entity"]["id"],
    }
    assert db.bob.ok(
        "batch",
        [{"Link": link}, {"Unlink": link}, {"Delete": {"type_name": "shop::Item", "id": product["id"]}}],
    ) == [{"Done": None}, {"Done": None}, {"Done": None}]


def test_batch_is_all_or_nothing(db):
    product = item(db)
    before = fingerprint(db.admin)
    kind, message = db.alice.err(
        "batch",
        [
            {"Create": {"type_name": "shop::Tag", "fields": [field("label", text("never"))]}},
            {
                "Update": {
                    "type_name": "shop::Item",
                    "id": product["id"],
                    "fields": [field("qty", {"Int": 2})],
                    "expected_version": [],
                }
            },
            {
                "Update": {
                    "type_name": "shop::Item",
                    "id": product["id"],
                    "fields": [field("qty", text("x"))],
                    "expected_version": [],
                }
            },
        ],
    )
    assert kind == "Invalid" and message.startswith("operation 2:")
    assert fingerprint(db.admin) == before
    too_many = [{"Delete": {"type_name": "shop::Item", "id": 1}}] * 101
    assert db.alice.err("batch", too_many)[0] == "Limit"
    assert fingerprint(db.admin) == before


# --- malformed Candid ---


@pytest.mark.parametrize(
    "method,arg",
    [
        ("create", b"not candid at all"),
        ("create", b"DIDL\x00\x01\x71\x05hello"),  # a text where (text, vec Field) is expected
        ("get", b"DIDL\x00\x02\x71\x71\x01a\x01b"),  # (text, text) for (text, nat64)
        ("batch", b"DIDL\x01\x6d\x7b\x01\x00\xff\xff\xff\xff\x0f"),  # a huge vec length
    ],
)
def test_malformed_candid_is_rejected_cleanly(db, method, arg):
    before = fingerprint(db.admin)
    with pytest.raises(Rejected):
        db.alice.raw(method, arg)
    assert fingerprint(db.admin) == before


def test_stats_count_entities_and_estimate_memory(db):
    stats = db.anon.call("stats")
    counts = {t["type_name"]: t["count"] for t in stats["types"]}
    assert counts["shop::Item"] == db.anon.ok("count", "shop::Item", [])
    assert stats["entities"] == sum(counts.values())
    assert stats["audit_length"] > 0 and stats["stable_memory_bytes"] > 0
    countable = {t["name"] for t in db.anon.call("schema")} - {"vault::Secret", "ops::Ledger"}
    assert set(counts) == countable  # the anonymous caller may count Public-read types only
    admin_counts = {t["type_name"] for t in db.admin.call("stats")["types"]}
    assert admin_counts == {t["name"] for t in db.anon.call("schema")}
    assert policy()  # the default policy builder stays in sync with the Candid Policy record


def test_longest_names_fit_the_stable_key_size(db):
    name = "n" * 40 + "::" + "T" * 40
    relation = "r" * 40
    long_field = "f" * 40
    typedef = type_def(
        name,
        [field_def(long_field, "Text", indexed=True, high=256)],
        alias=long_field,
        relations=[relation_def(relation, "ManyToMany", name, "b" * 40)],
    )
    assert db.admin.call("define_type", typedef, False) == {"Ok": None}
    first = db.alice.ok("create", name, [field(long_field, text("v" * 256))])
    second = db.alice.ok("create", name, [field(long_field, text("w" * 256))])
    assert db.alice.call("link", name, first["id"], relation, second["id"]) == {"Ok": None}
    assert db.anon.ok("links", name, second["id"], "b" * 40, [], 10)["items"] == [first["id"]]
    assert db.anon.ok("find", name, "w" * 256)["id"] == second["id"]
    assert db.anon.ok("count", name, [field(long_field, text("v" * 256))]) == 1
    assert db.admin.err("define_type", type_def("n" * 41 + "::T", []), False)[0] == "Invalid"
