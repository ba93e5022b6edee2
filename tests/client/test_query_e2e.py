"""`db.query` (lazy pages), `query_count`, `upsert`, `create_many` / `upsert_many` with progress, the
audit tail, and the `simpledb query` / `insert` / `audit --tail` commands, against localnet."""

from __future__ import annotations

import json

import pytest
from simple_db_client import FieldDef, Invalid, QueryPage, RelationDef, TypeDef

from .test_cli_e2e import run  # noqa: F401  (the `simpledb` runner fixture)


def people_type(ns) -> TypeDef:
    return TypeDef(
        name=ns("Person"),
        fields=[
            FieldDef("email", "Text", required=True, indexed=True),
            FieldDef("name", "Text", indexed=True),
            FieldDef("age", "Int", indexed=True),
            FieldDef("city", "Text"),
        ],
        alias="email",
    )


@pytest.fixture
def people(admin_db, namespace):
    typedef = people_type(namespace)
    admin_db.define_type(typedef)
    return typedef.name


def test_query_pages_lazily_in_order(admin_db, people):
    rows = [
        {"email": f"p{i}@x", "name": f"p{i:02d}", "age": i % 7, "city": "Oslo" if i % 2 else "Rome"}
        for i in range(30)
    ]
    calls = []
    made = admin_db.create_many(
        people, rows, batch_size=8, progress=lambda done, batch: calls.append((done, batch))
    )
    assert len(made) == 30 and calls == [(8, 8), (16, 8), (24, 8), (30, 6)]
    page = admin_db.query_page(people, {"age__gte": 5}, "-age", limit=3)
    assert isinstance(page, QueryPage) and page.next and page.complete
    assert [(e["age"], e.id) for e in page.items] == [(6, 28), (6, 21), (6, 14)]  # ties by id, descending too
    everything = admin_db.query(people, {"age__gte": 5}, "-age", page_size=3)
    assert next(everything)["age"] == 6  # a generator: fetched page by page
    ages = [e["age"] for e in admin_db.query(people, [("age", ">=", 5), ("city", "==", "Oslo")], "age")]
    assert ages == sorted(ages) and set(ages) == {5, 6} and len(ages) == 4
    assert [e["name"] for e in admin_db.query(people, {"name__startswith": "p2"})][:2] == ["p20", "p21"]
    assert admin_db.query_count(people, {"age__between": [1, 2]}) == 9
    with pytest.raises(Invalid):
        list(admin_db.query(people, order="city"))


def test_upsert_and_upsert_many(admin_db, people):
    entity, created = admin_db.upsert(people, "u@x", name="u", age=1)
    assert created and entity["email"] == "u@x"
    again, created = admin_db.upsert(people, "u@x", {"age": 2})
    assert not created and again.id == entity.id and again["age"] == 2
    seen = []
    out = admin_db.upsert_many(
        people,
        "email",
        [{"email": "u@x", "age": 3}, {"email": "v@x", "name": "v"}],
        progress=lambda done, batch: seen.append(done),
    )
    assert [e["email"] for e in out] == ["u@x", "v@x"] and out[0].id == entity.id and seen == [2]
    assert admin_db.get(people, entity.id)["age"] == 3


def test_create_sets_a_to_one_relation(admin_db, namespace):
    team = TypeDef(name=namespace("Team"), fields=[FieldDef("code", "Text")])
    member = TypeDef(
        name=namespace("Member"),
        fields=[FieldDef("name", "Text")],
        relations=[RelationDef("team", "ManyToOne", team.name, "members")],
    )
    admin_db.define_type(team)
    admin_db.define_type(member)
    t = admin_db.create(team.name, code="A")
    m = admin_db.create(member.name, name="x", team=t.id)
    assert m.refs["team"].target_id == t.id
    assert list(admin_db.links(team.name, t.id, "members")) == [m.id]


def test_audit_tail_filters(admin_db, people):
    made = admin_db.create(people, email="a@x", name="a")
    admin_db.update(people, made.id, age=9)
    tail = admin_db.audit_tail(5, type_name=people, id=made.id)
    assert [e.operation for e in tail] == ["update", "create"]
    assert all(e.type_name == people for e in admin_db.audit_tail(3, type_name=people))


def test_cli_insert_query_and_audit(run, people, tmp_path):  # noqa: F811
    lines = tmp_path / "people.jsonl"
    lines.write_text(
        "\n".join(json.dumps({"email": f"j{i}@x", "name": f"j{i}", "age": 20 + i}) for i in range(5))
    )
    array = tmp_path / "people.json"
    array.write_text(json.dumps([{"email": "k@x", "name": "k", "age": 17}]))
    table = tmp_path / "people.csv"
    table.write_text("email,name,age,city\nc1@x,c1,40,Oslo\nc2@x,c2,,Rome\n")
    assert "inserted 5 rows" in run("insert", people, str(lines))
    assert json.loads(run("insert", people, str(array), "--json")) == {"type": people, "rows": 1}
    assert "inserted 2 rows" in run("insert", people, str(table))
    assert "inserted 1 rows" in run("insert", people, str(array), "--upsert")
    run("insert", people, str(array), code=3)  # the alias is taken: Conflict
    found = json.loads(run("query", people, "--where", "age>=18", "--order", "-age", "--json"))
    assert [e["fields"]["age"] for e in found] == [40, 24, 23, 22, 21, 20]
    names = json.loads(run("query", people, "--where", "name^=j", "--where", "age in 21,23", "--json"))
    assert len(names) == 2
    assert "c1" in run("query", people, "--where", "city=Oslo")
    run("query", people, "--where", "age>=x", code=2)
    run("query", people, "--where", "nope>1", code=2)
    run("query", people, "--order", "city", code=3)
    bad = tmp_path / "bad.csv"
    bad.write_text("email,nope\nz@x,1\n")
    run("insert", people, str(bad), code=2)
    tail = json.loads(run("audit", "--tail", "2", "--type", people, "--json"))
    assert len(tail) == 2 and tail[0]["seq"] > tail[1]["seq"]


def test_async_client_queries_and_bulk_writes(net, admin_db, people):
    import asyncio

    from simple_db_client import AsyncSimpleDB

    async def main():
        async with AsyncSimpleDB(net.url, net.canister_id, net.admin, fetch_root_key=True) as db:
            seen = []
            rows = [{"email": f"a{i}@x", "name": f"a{i}", "age": i} for i in range(7)]
            made = await db.create_many(people, rows, batch_size=3, progress=lambda d, b: seen.append((d, b)))
            assert len(made) == 7 and seen == [(3, 3), (6, 3), (7, 1)]
            ages = [e["age"] async for e in db.query(people, {"age__gte": 4}, "-age", page_size=2)]
            assert ages == [6, 5, 4]
            assert await db.query_count(people, {"age__lt": 4}) == 4
            entity, created = await db.upsert(people, "a1@x", age=40)
            assert not created and entity["age"] == 40
            out = await db.upsert_many(people, "email", [{"email": "a2@x", "age": 41}, {"email": "b@x"}])
            assert [e["email"] for e in out] == ["a2@x", "b@x"]
            assert [e.operation for e in await db.audit_tail(2, type_name=people)] == ["create", "update"]

    asyncio.run(main())
