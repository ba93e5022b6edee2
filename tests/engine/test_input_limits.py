"""Inputs at and beyond the engine's limits are ValidationErrors or stored, never a crash: integers
beyond float range for Float fields, and audit entries of entities with many long field names."""

import pytest
from kybra_simple_db import Database, Entity, Float, MemoryMap, String, ValidationError, type_registry


def _db_with_a_small_audit_map() -> Database:
    """A fresh database whose audit map takes values of 1 KB at most."""
    type_registry.clear()
    data = MemoryMap(memory_id=3, max_key_size=100, max_value_size=1000)
    audit = MemoryMap(memory_id=4, max_key_size=80, max_value_size=1024)
    return Database.init(db_storage=data, db_audit=audit, audit_enabled=True)


def test_an_int_beyond_float_range_is_a_validation_error():
    class Reading(Entity):
        value = Float()

    with pytest.raises(ValidationError, match="float range"):
        Reading(value=2**1100)
    assert Reading(value=2**60).value == float(2**60)


def test_an_entry_too_large_for_the_audit_map_keeps_the_names_that_fit():
    db = _db_with_a_small_audit_map()
    names = [f"f{i:02d}" + "x" * 37 for i in range(32)]
    Wide = type("Wide", (Entity,), {n: String(max_length=2000) for n in names})
    wide = Wide(**{n: "v" * 2000 for n in names})
    (entry,) = db.audit_entries(0, 10)[0]
    changes = entry["changes"]
    assert changes["_truncated"] is True and 0 < len(changes) - 1 < 32
    assert list(changes)[1:] == names[: len(changes) - 1]
    assert wide.values()[names[-1]] == "v" * 2000


def test_a_huge_audit_entry_is_cut_to_size_in_a_few_encodings():
    """An entity with many changed names (a type pointed at by many to-one relations records them all on
    create) gave an entry of 1,500 names: it was re-encoded after dropping each name, quadratic work that
    passed the IC's 40B instructions under Kybra's RustPython. The names that fit are found by halving."""
    import sys

    db = _db_with_a_small_audit_map()
    names = [f"f{i:04d}" + "x" * 35 for i in range(1500)]
    Many = type("Many", (Entity,), {n: String(max_length=10) for n in names})
    encodings = 0

    def profile(frame, event, arg):
        nonlocal encodings
        if event == "call" and frame.f_code.co_name == "entry_text":
            encodings += 1

    sys.setprofile(profile)
    try:
        Many(**{n: "v" for n in names})
    finally:
        sys.setprofile(None)
    (entry,) = db.audit_entries(0, 10)[0]
    changes = entry["changes"]
    assert changes["_truncated"] is True and list(changes)[1:] == names[: len(changes) - 1]
    assert len(changes) > 15
    assert encodings <= 15, encodings
