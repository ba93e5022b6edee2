"""Inputs at and beyond the engine's limits are ValidationErrors or stored, never a crash: integers
beyond float range for Float fields, and audit entries of entities with many long field names."""

import pytest
from kybra_simple_db import Database, Entity, Float, MemoryMap, String, ValidationError, type_registry


def test_an_int_beyond_float_range_is_a_validation_error():
    class Reading(Entity):
        value = Float()

    with pytest.raises(ValidationError, match="float range"):
        Reading(value=2**1100)
    assert Reading(value=2**60).value == float(2**60)


def test_an_entry_too_large_for_the_audit_map_keeps_the_names_that_fit():
    type_registry.clear()
    data = MemoryMap(memory_id=3, max_key_size=100, max_value_size=1000)
    audit = MemoryMap(memory_id=4, max_key_size=80, max_value_size=1024)
    db = Database.init(db_storage=data, db_audit=audit, audit_enabled=True)
    names = [f"f{i:02d}" + "x" * 37 for i in range(32)]
    Wide = type("Wide", (Entity,), {n: String(max_length=2000) for n in names})
    wide = Wide(**{n: "v" * 2000 for n in names})
    (entry,) = db.audit_entries(0, 10)[0]
    changes = entry["changes"]
    assert changes["_truncated"] is True and 0 < len(changes) - 1 < 32
    assert list(changes)[1:] == names[: len(changes) - 1]
    assert wide.values()[names[-1]] == "v" * 2000
