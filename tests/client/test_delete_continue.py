"""`SimpleDB.delete_continue` (and its async form) sends the endpoint's Candid and decodes its progress,
or raises the canister's error; against a stand-in agent, no network."""

from __future__ import annotations

import asyncio

import pytest
from simple_db_client import AsyncSimpleDB, NotFound, SimpleDB
from simple_db_client import candid_types as ct
from simple_db_client.ic_candid import candid


class StandIn:
    """An agent that answers every update with one encoded reply and records what it was sent."""

    def __init__(self, result: dict):
        self.reply = candid.encode([{"type": ct.DeleteProgressResult, "value": result}])
        self.sent = []

    def query(self, canister_id, method, arg):
        raise AssertionError("delete_continue is an update")

    def update(self, canister_id, method, arg):
        self.sent.append((method, [v["value"] for v in candid.decode(arg, ct.METHODS[method][0])]))
        return self.reply


def test_delete_continue_returns_the_progress():
    agent = StandIn({"Ok": {"done": False, "deleted": 2_000, "pending": 3}})
    db = SimpleDB(canister_id="aaaaa-aa", agent=agent)
    assert db.delete_continue("app::Project", 7) == {"done": False, "deleted": 2_000, "pending": 3}
    assert agent.sent == [("delete_continue", ["app::Project", 7])]


def test_delete_continue_raises_not_found_when_none_is_under_way():
    db = SimpleDB(canister_id="aaaaa-aa", agent=StandIn({"Err": {"NotFound": "no delete"}}))
    with pytest.raises(NotFound):
        db.delete_continue("app::Project", 7)


def test_the_async_client_has_it_too():
    assert asyncio.iscoroutinefunction(AsyncSimpleDB.delete_continue)
