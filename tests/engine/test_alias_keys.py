"""Alias keys: `key_layout.alias_key` and the create's inline key of a plain Text alias (`_add_keys`) give
the text the general rule gives (`fit` of the type code, "@", field and generation with the value's
canonical token) for every value: short and long, escaped, astral, not Text, any generation."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kybra_simple_db import ConflictError, Database, Entity, Float, Integer, Property, String
from kybra_simple_db import key_layout as keys


def _general(tc: int, field: str, value, limit: int, gen: int = 0) -> str:
    """The alias key as the general rule words it (the original one-line path)."""
    return keys.fit(str(tc) + "@" + field + ("!" + str(gen) if gen else ""), keys.value_token(value), limit)


class _Text(str):
    """A str subclass: takes value_token's general path."""


_VALUES = st.one_of(
    st.text(max_size=80),
    st.text(alphabet="\"\\\n\t\x00\x1f\u2028é\U0001f600a", max_size=40),
    st.integers(), st.floats(allow_nan=False), st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.text(max_size=5).map(_Text),
)


@settings(max_examples=400, deadline=None)
@given(tc=st.integers(0, 10_000), field=st.text(min_size=1, max_size=12), value=_VALUES,
       limit=st.integers(8, 400), gen=st.integers(0, 5))
def test_alias_key_is_the_general_rules_key(tc, field, value, limit, gen):
    assert keys.alias_key(tc, field, value, limit, gen) == _general(tc, field, value, limit, gen)
    assert keys.alias_key(tc, field, value, limit, gen) == _general(tc, field, value, limit, gen)  # cached


def test_alias_key_is_the_general_rules_key_past_its_heads_cache():
    for tc in range(1100):    # (the cache keeps 1024 heads: later ones are made every time)
        assert keys.alias_key(tc, "sku", "v", 100, tc % 3) == _general(tc, "sku", "v", 100, tc % 3)


def _item(alias_kind=String):
    return type("Item", (Entity,), {"__alias__": "sku", "sku": alias_kind(), "n": String()})


@pytest.mark.parametrize("value", [
    "sku-1", "", "a" * 24, "a" * 23, "a" * 200, 'quote " and \\ back', "line\nbreak\x01", "é" * 30,
    "\U0001f600" * 5, "\U0001f600" * 30, "\u2028",
])
def test_a_created_alias_is_stored_under_the_general_key(fresh_db, value):
    Item = _item()
    item = Item(sku=value)
    db = Database.get_instance()
    tc = db.type_code("Item")
    assert db.get(_general(tc, "sku", value, db.key_limit)) == str(item._id)
    assert Item.by_alias(value)._id == item._id
    with pytest.raises(ConflictError):   # the same value: the same key, held by the first
        Item(sku=value)
    assert Item.count() == 1


def test_a_created_alias_of_a_later_generation_is_stored_under_its_key(fresh_db):
    _item()(sku="first")
    type("Item", (Entity,), {"sku": String(), "n": String()})   # the alias dropped...
    Item = _item()                                              # ...and kept again: a new generation
    db = Database.get_instance()
    tc = db.type_code("Item")
    gen = db.key_generations(Item, tc)["@sku"]
    assert gen > 0
    for value in ("second", "b" * 100):
        item = Item(sku=value)
        assert db.get(_general(tc, "sku", value, db.key_limit, gen)) == str(item._id)
        assert Item.by_alias(value)._id == item._id


@pytest.mark.parametrize("kind, value", [
    (Integer, 7), (Integer, -12345678901234567890), (Float, 2.5), (Property, [1, "two"]), (Property, True),
    (Property, _Text("sub")), (Property, "plain"),
])
def test_a_created_alias_that_is_not_plain_text_is_stored_under_the_general_key(fresh_db, kind, value):
    Item = _item(kind)
    item = Item(sku=value)
    db = Database.get_instance()
    tc = db.type_code("Item")
    assert db.get(_general(tc, "sku", value, db.key_limit)) == str(item._id)

