"""`query`, `query_count`, `upsert`, `audit_query` and `rebuild_indexes` through the Replica with real
Candid: ranges, order, cursors, owner isolation, bounded scans, and clear errors that change nothing."""

import pytest
from canister_fixtures import callers, deploy, fingerprint
from canister_harness import field, field_def, fields_of, plain, policy, text, type_def

from localnet.replica import Replica

PERSON = type_def(
    "hr::Person",
    [
        field_def("email", "Text", required=True, indexed=True),
        field_def("name", "Text", indexed=True),
        field_def("age", "Int", indexed=True),
        field_def("score", "Float", indexed=True),
        field_def("city", "Text"),
    ],
    alias="email",
)
DIARY = type_def("hr::Diary", [field_def("day", "Int", indexed=True)], access=policy(read="Owner"))
PEOPLE = [
    ("ann", 31, "Oslo"),
    ("bob", 17, "Paris"),
    ("cat", 45, "Oslo"),
    ("dan", 31, "Paris"),
    ("eve", 18, "Oslo"),
]


@pytest.fixture(scope="module")
def hr():
    with Replica() as replica:
        net = callers(replica, deploy(replica))
        for typedef in (PERSON, DIARY):
            assert net.admin.call("define_type", typedef, False) == {"Ok": None}
        for i, (name, age, city) in enumerate(PEOPLE):
            net.alice.ok(
                "create",
                "hr::Person",
                [
                    field("email", text(name + "@x")),
                    field("name", text(name)),
                    field("age", {"Int": age}),
                    field("score", {"Float": i * 1.5}),
                    field("city", text(city)),
                ],
            )
        for day in (3, 1, 2):
            net.alice.ok("create", "hr::Diary", [field("day", {"Int": day})])
        net.bob.ok("create", "hr::Diary", [field("day", {"Int": 2})])
        yield net


def request(type_name="hr::Person", filters=(), order=None, cursor=None, limit=100) -> dict:
    return {
        "type_name": type_name,
        "filters": list(filters),
        "order": [] if order is None else [order],
        "cursor": [] if cursor is None else [cursor],
        "limit": limit,
    }


def where(name: str, op: str, *values) -> dict:
    return {"field": name, "op": {op: None}, "values": list(values)}


def names(page: dict) -> list:
    return [fields_of(e)["name"]["Text"] for e in page["items"]]


def test_range_with_order_and_cursor(hr):
    req = request(
        filters=[where("age", "Ge", {"Int": 18})], order={"field": "age", "descending": True}, limit=2
    )
    page = hr.bob.ok("query", req)
    assert names(page) == ["cat", "dan"] and page["next"] and page["complete"]
    req["cursor"] = page["next"]
    rest = hr.bob.ok("query", req)
    assert names(rest) == ["ann", "eve"] and rest["next"] == []


def test_several_filters_in_startswith_between_and_unindexed(hr):
    page = hr.anon.ok(
        "query",
        request(
            filters=[where("age", "Between", {"Int": 18}, {"Int": 31}), where("city", "Eq", text("Oslo"))]
        ),
    )
    assert names(page) == ["eve", "ann"]  # by age (the index that serves the range)
    page = hr.anon.ok(
        "query",
        request(
            filters=[where("name", "In", text("eve"), text("bob"))], order={"field": "id", "descending": True}
        ),
    )
    assert names(page) == ["eve", "bob"]
    page = hr.anon.ok("query", request(filters=[where("name", "StartsWith", text("d"))]))
    assert names(page) == ["dan"]
    page = hr.anon.ok(
        "query",
        request(filters=[where("score", "Lt", {"Int": 3})], order={"field": "score", "descending": False}),
    )
    assert names(page) == ["ann", "bob"]  # an Int operand compares with a Float field


def test_count_with_the_same_filters(hr):
    got = hr.anon.ok("query_count", request(filters=[where("age", "Ge", {"Int": 18})]))
    assert got == {"count": 4, "next": []}
    got = hr.anon.ok(
        "query_count", request(filters=[where("age", "Ge", {"Int": 18}), where("city", "Ne", text("Oslo"))])
    )
    assert got == {"count": 1, "next": []}
    assert hr.anon.ok("count", "hr::Person", [field("age", {"Int": 31})]) == 2  # the older endpoint


def test_owner_read_types_show_only_the_callers_entities(hr):
    page = hr.alice.ok("query", request("hr::Diary", order={"field": "day", "descending": False}))
    assert [fields_of(e)["day"]["Int"] for e in page["items"]] == [1, 2, 3]
    page = hr.bob.ok("query", request("hr::Diary", filters=[where("day", "Ge", {"Int": 1})]))
    assert [fields_of(e)["day"]["Int"] for e in page["items"]] == [2]
    assert hr.bob.err("query_count", request("hr::Diary"))[0] == "Forbidden"


@pytest.mark.parametrize(
    "req,kind",
    [
        (request(filters=[where("age", "Ge", text("18"))]), "Invalid"),
        (request(filters=[where("nope", "Eq", {"Int": 1})]), "Invalid"),
        (request(filters=[where("age", "Between", {"Int": 1})]), "Invalid"),
        (request(filters=[where("age", "Lt", {"Null": None})]), "Invalid"),
        (request(filters=[where("age", "In")]), "Invalid"),
        (request(filters=[where("age", "StartsWith", {"Int": 1})]), "Invalid"),
        (request(filters=[where("age", "Eq", {"Int": 1})] * 9), "Limit"),
        (request(order={"field": "city", "descending": False}), "Invalid"),
        (request(order={"field": "nope", "descending": False}), "Invalid"),
        (request(cursor="not a cursor"), "Invalid"),
        (request(cursor="x" * 5000), "Invalid"),
        (request("hr::Nope"), "NotFound"),
    ],
)
def test_bad_queries_are_clear_errors(hr, req, kind):
    assert hr.anon.err("query", req)[0] == kind


def test_a_cursor_of_another_query_is_refused(hr):
    page = hr.anon.ok("query", request(order={"field": "age", "descending": False}, limit=1))
    other = request(order={"field": "age", "descending": True}, cursor=page["next"][0], limit=1)
    assert hr.anon.err("query", other) == ("Invalid", "the cursor belongs to another query")


def test_upsert_creates_then_updates_by_alias(hr):
    before = hr.anon.ok("query_count", request())["count"]
    made = hr.alice.ok(
        "upsert", "hr::Person", text("fay@x"), [field("name", text("fay")), field("age", {"Int": 50})]
    )
    assert made["created"] and fields_of(made["entity"])["email"] == text("fay@x")
    again = hr.alice.ok("upsert", "hr::Person", text("fay@x"), [field("age", {"Int": 51})])
    assert not again["created"] and again["entity"]["id"] == made["entity"]["id"]
    assert fields_of(again["entity"])["age"] == {"Int": 51} and fields_of(again["entity"])["name"] == text(
        "fay"
    )
    assert hr.anon.ok("query_count", request())["count"] == before + 1
    mark = fingerprint(hr.admin)
    assert hr.bob.err("upsert", "hr::Person", text("fay@x"), [field("age", {"Int": 1})])[0] == "Conflict"
    assert (
        hr.alice.err("upsert", "hr::Person", text("fay@x"), [field("email", text("other@x"))])[0] == "Invalid"
    )
    assert hr.alice.err("upsert", "hr::Person", {"Null": None}, [])[0] == "Invalid"
    assert hr.alice.err("upsert", "hr::Diary", text("x"), [])[0] == "Invalid"
    assert fingerprint(hr.admin) == mark


def test_audit_newest_first_and_filtered(hr):
    everything = hr.admin.ok(
        "audit_query",
        {"start": [], "newest_first": True, "type_name": [], "id": [], "caller": [], "limit": 100},
    )
    seqs = [e["seq"] for e in everything["items"]]
    assert seqs == sorted(seqs, reverse=True) and everything["next"] == []
    diaries = hr.admin.ok(
        "audit_query",
        {
            "start": [],
            "newest_first": False,
            "type_name": ["hr::Diary"],
            "id": [],
            "caller": [hr.bob.principal],
            "limit": 10,
        },
    )
    assert [(e["type_name"], e["caller"]) for e in diaries["items"]] == [("hr::Diary", hr.bob.text)]
    one = hr.admin.ok(
        "audit_query",
        {"start": [], "newest_first": True, "type_name": ["hr::Person"], "id": [1], "caller": [], "limit": 1},
    )
    assert [(e["id"], e["operation"]) for e in one["items"]] == [(1, "create")] and one["next"] == []
    paged = hr.admin.ok(
        "audit_query",
        {"start": [], "newest_first": True, "type_name": [], "id": [], "caller": [], "limit": 2},
    )
    assert [e["seq"] for e in paged["items"]] == seqs[:2] and paged["next"] == [seqs[2]]
    mine = hr.bob.ok(
        "audit_query",
        {"start": [], "newest_first": True, "type_name": ["hr::Diary"], "id": [], "caller": [], "limit": 100},
    )
    assert {e["caller"] for e in mine["items"]} == {hr.bob.text}  # owner-read entries of others hidden


def test_rebuild_indexes_is_for_admins_and_finishes(hr):
    assert hr.alice.err("rebuild_indexes", "hr::Person", [], 10)[0] == "Forbidden"
    assert hr.admin.ok("rebuild_indexes", "hr::Person", [], 100) == []


def test_create_sets_to_one_relations_and_batch_upserts():
    from canister_harness import relation_def

    with Replica() as replica:
        net = callers(replica, deploy(replica))
        team = type_def("hr::Team", [field_def("code", "Text", indexed=True)], alias="code")
        member = type_def(
            "hr::Member",
            [field_def("name", "Text")],
            relations=[relation_def("team", "ManyToOne", "hr::Team", "members")],
        )
        for typedef in (team, member):
            assert net.admin.call("define_type", typedef, False) == {"Ok": None}
        t = net.alice.ok("create", "hr::Team", [field("code", text("A"))])
        m = net.alice.ok("create", "hr::Member", [field("name", text("x")), field("team", {"Int": t["id"]})])
        assert [(r["relation"], r["target_id"]) for r in m["refs"]] == [("team", [t["id"]])]
        assert net.alice.ok("links", "hr::Team", t["id"], "members", [], 10)["items"] == [m["id"]]
        mark = fingerprint(net.admin)
        assert net.alice.err("create", "hr::Member", [field("team", {"Int": 99})])[0] == "NotFound"
        assert net.alice.err("create", "hr::Member", [field("team", text("A"))])[0] == "Invalid"
        assert (
            net.alice.err(
                "create", "hr::Team", [field("code", text("B")), field("members", {"Int": m["id"]})]
            )[0]
            == "Invalid"
        )
        assert net.alice.err("create", "hr::Member", [field("nope", text("x"))])[0] == "Invalid"
        assert fingerprint(net.admin) == mark
        ops = [
            {"Upsert": {"type_name": "hr::Team", "alias": text(code), "fields": []}} for code in ("A", "C")
        ]
        results = net.alice.ok("batch", ops)
        assert [r["Entity"]["id"] for r in results] == [t["id"], t["id"] + 1]
        assert net.bob.err("batch", ops)[0] == "Conflict"


def test_a_page_stops_before_the_reply_size_limit_and_its_cursor_goes_on():
    with Replica() as replica:
        net = callers(replica, deploy(replica))
        fields = [field_def(f"f{i}", "Text", high=2000) for i in range(30)] + [
            field_def("n", "Int", indexed=True)
        ]
        assert net.admin.call("define_type", type_def("big::Doc", fields), False) == {"Ok": None}
        for start in range(0, 40, 10):
            ops = [
                {
                    "Create": {
                        "type_name": "big::Doc",
                        "fields": [field(f"f{i}", text("x" * 2000)) for i in range(30)]
                        + [field("n", {"Int": start + k})],
                    }
                }
                for k in range(10)
            ]
            net.alice.ok("batch", ops)
        req = request("big::Doc", order={"field": "n", "descending": False})
        seen, pages = [], 0
        while True:
            page = net.anon.ok("query", req)
            pages += 1
            assert (
                sum(
                    len(f["value"]["Text"])
                    for e in page["items"]
                    for f in e["fields"]
                    if "Text" in f["value"]
                )
                < 3 * 2**20
            )
            seen += [fields_of(e)["n"]["Int"] for e in page["items"]]
            if not page["next"]:
                break
            req["cursor"] = page["next"]
        assert seen == list(range(40)) and pages >= 2


def test_queries_answer_the_same_after_an_upgrade():
    with Replica() as replica:
        net = callers(replica, deploy(replica))
        assert net.admin.call("define_type", PERSON, False) == {"Ok": None}
        for name, age, city in PEOPLE:
            net.alice.ok(
                "create",
                "hr::Person",
                [
                    field("email", text(name + "@x")),
                    field("name", text(name)),
                    field("age", {"Int": age}),
                    field("city", text(city)),
                ],
            )
        req = request(
            filters=[where("age", "Ge", {"Int": 18})], order={"field": "age", "descending": True}, limit=2
        )
        first = net.anon.ok("query", req)
        deploy(replica)  # an upgrade: same code, same stable memory
        assert plain(net.anon.ok("query", req)) == plain(first)
        req["cursor"] = first["next"]
        assert names(net.anon.ok("query", req)) == ["ann", "eve"]
        net.alice.ok("create", "hr::Person", [field("email", text("zed@x")), field("age", {"Int": 99})])
        assert net.anon.ok("query_count", request(filters=[where("age", "Gt", {"Int": 40})]))["count"] == 2
