"""Fixtures: a fresh database on a fresh in-memory map for every test."""

import pytest
from kybra_simple_db import Database, MemoryMap, type_registry
from kybra_simple_db.context import set_caller_id


@pytest.fixture(autouse=True)
def fresh_db():
    set_caller_id("system")
    type_registry.clear()
    storage = MemoryMap(memory_id=1, max_key_size=100, max_value_size=1000)
    db = Database.init(db_storage=storage, audit_enabled=True)
    yield db
    set_caller_id("system")


@pytest.fixture
def storage(fresh_db):
    return fresh_db._storage
