"""AsyncSimpleDB against localnet: the same methods as SimpleDB as coroutines, a few hundred concurrent
calls each checked, canister errors and bad arguments raised as with SimpleDB, async iterators."""

from __future__ import annotations

import asyncio

import pytest
from simple_db_client import AsyncSimpleDB, FieldDef, NotFound, Policy, TypeDef

CONCURRENT = 200


def test_concurrent_creates_and_gets_each_return_their_own_result(net, admin_db, namespace):
    name = namespace("Item")
    admin_db.define_type(
        TypeDef(name, [FieldDef("label", "Text", required=True)], policy=Policy(create="Anyone"))
    )

    async def main():
        async with AsyncSimpleDB(net.url, net.canister_id, net.admin, fetch_root_key=True) as db:
            created = await asyncio.gather(*(db.create(name, label=f"item {i}") for i in range(CONCURRENT)))
            assert [e.fields["label"] for e in created] == [f"item {i}" for i in range(CONCURRENT)]
            assert len({e.id for e in created}) == CONCURRENT
            fetched = await asyncio.gather(*(db.get(name, e.id) for e in created))
            assert fetched == list(created)
            assert await db.count(name) == CONCURRENT
            listed = [e async for e in db.list(name, page_size=64)]
            assert sorted(e.id for e in listed) == sorted(e.id for e in created)
            with pytest.raises(NotFound):
                await db.get(name, 10**9)
            with pytest.raises(TypeError, match=r"get\(\): id must be an int"):
                await db.get(name, "1")
            assert await db.whoami() == net.admin.principal

    asyncio.run(main())
    assert admin_db.count(name) == CONCURRENT


def test_iterator_methods_are_async_generators(net):
    async def main():
        async with AsyncSimpleDB(net.url, net.canister_id, fetch_root_key=True) as db:
            entries = [entry async for entry in db.audit(page_size=5)]
            assert all(entry.seq >= 0 for entry in entries)

    asyncio.run(main())
