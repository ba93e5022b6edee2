"""Property-based tests of `Cls.query()`: over random data and random create/update/delete sequences
(with re-opens of the database on the same storage, as after an upgrade), every query's results, their
order and its count equal what a plain Python model computes, page by page, whatever the page size and
scan budget."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kybra_simple_db import (
    Boolean,
    Database,
    Entity,
    Float,
    Integer,
    MemoryMap,
    String,
    Timestamp,
    ValidationError,
    type_registry,
)

NAMES = ["", "a", "ab", "abc", "b", "ba", "bé", "z", "é", "\U0001f600"]
SCALARS = {
    "name": st.sampled_from(NAMES),
    "age": st.integers(-3, 6),
    "score": st.sampled_from([-1.5, 0.0, 0.5, 2.0, 3.25]),
    "active": st.booleans(),
    "joined": st.integers(0, 5),
    "city": st.sampled_from(["x", "y", "xy"]),      # not indexed
}
FIELDS = {name: st.one_of(st.none(), values, values, values) for name, values in SCALARS.items()}
INDEXED = ("name", "age", "score", "active", "joined")
ROW = st.fixed_dictionaries(FIELDS)
VALUES = st.fixed_dictionaries({}, optional=FIELDS)
OPS_BY_KIND = {
    "text": ["==", "!=", "<", "<=", ">", ">=", "between", "in", "startswith"],
    "num": ["==", "!=", "<", "<=", ">", ">=", "between", "in"],
    "bool": ["==", "!=", "in"],
}
KINDS = {"name": "text", "city": "text", "age": "num", "score": "num", "joined": "num", "active": "bool"}


@st.composite
def filters(draw):
    field = draw(st.sampled_from(sorted(FIELDS)))
    op = draw(st.sampled_from(OPS_BY_KIND[KINDS[field]]))
    scalar = SCALARS[field]
    if op == "between":
        return field, op, [draw(scalar), draw(scalar)]
    if op == "in":
        return field, op, draw(st.lists(scalar, min_size=1, max_size=3))
    if op == "startswith":
        return field, op, draw(st.sampled_from(["", "a", "b", "é", "ab"]))
    if op in ("==", "!="):
        return field, op, draw(st.one_of(st.none(), scalar))
    return field, op, draw(scalar)


QUERIES = st.tuples(
    st.lists(filters(), max_size=2),
    st.sampled_from([None, "id", "-id"] + [p + f for f in INDEXED for p in ("", "-")]),
    st.integers(1, 5),                           # page size
    st.one_of(st.none(), st.integers(1, 4)),     # scan budget
)
IDS = st.integers(1, 12)
CREATE = st.tuples(st.just("create"), ROW)
STEPS = st.lists(st.one_of(
    CREATE, CREATE, CREATE,
    st.tuples(st.just("update"), IDS, VALUES),
    st.tuples(st.just("delete"), IDS),
    st.tuples(st.just("reopen")),
    st.tuples(st.just("query"), QUERIES),
), min_size=5, max_size=40)


def _define():
    type_registry.clear()

    class Person(Entity):
        name = String(indexed=True)
        age = Integer(indexed=True)
        score = Float(indexed=True)
        active = Boolean(indexed=True)
        joined = Timestamp(indexed=True)
        city = String()

    return Person


def _rank(value):
    return (0 if type(value) is bool else 1 if type(value) in (int, float) else 2, value)


def _passes(value, op, operand) -> bool:
    if op == "==":
        return value is None if operand is None else (value is not None and _rank(value) == _rank(operand))
    if op == "!=":
        return not _passes(value, "==", operand)
    if value is None:
        return False
    if op == "in":
        return any(_passes(value, "==", o) for o in operand)
    if op == "startswith":
        return value.startswith(operand)
    if op == "between":
        return _rank(operand[0]) <= _rank(value) <= _rank(operand[1])
    return {"<": _rank(value) < _rank(operand), "<=": _rank(value) <= _rank(operand),
            ">": _rank(value) > _rank(operand), ">=": _rank(value) >= _rank(operand)}[op]


def _expected(model: dict, conditions: list, order) -> list:
    """Ids the query must return, in order: by the ordered field (entities with a value there only),
    else by the first range-capable filter on an indexed field, else by id."""
    rows = [(eid, vals) for eid, vals in model.items()
            if all(_passes(vals.get(f), op, v) for f, op, v in conditions)]
    field, descending = None, False
    if order is not None:
        descending = order.startswith("-")
        field = order.lstrip("-")
    else:
        for f, op, v in conditions:
            if f in INDEXED and op != "!=" and v is not None:
                field = f
                break
    if field is None or field == "id":
        ids = sorted(eid for eid, _ in rows)
        return ids[::-1] if descending else ids
    keyed = sorted((_rank(vals[field]), eid) for eid, vals in rows if vals.get(field) is not None)
    ids = [eid for _, eid in keyed]
    return ids[::-1] if descending else ids


def _run(Person, conditions, order, size, budget) -> tuple:
    query = Person.query()
    for condition in conditions:
        query = query.where(*condition)
    if order is not None:
        query = query.order_by(order)
    got, cursor, calls = [], None, 0
    while True:
        page = query.page(size, cursor, budget)
        assert len(page.items) <= size and (budget is None or page.scanned <= budget)
        got += [p.id for p in page.items]
        cursor = page.next
        calls += 1
        assert calls < 500
        if cursor is None:
            break
    counted, cursor = query.count_page(None, budget)
    while cursor is not None:
        more, cursor = query.count_page(cursor, budget)
        counted += more
    return got, counted


def _normalise(values: dict) -> dict:
    return {k: (float(v) if k == "score" and v is not None else v) for k, v in values.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, min_size=4, max_size=14), steps=STEPS)
def test_queries_agree_with_a_model(rows, steps):
    storage = MemoryMap(max_key_size=100, max_value_size=200)     # small nodes: deep trees
    Database.init(db_storage=storage)
    Person = _define()
    model = {}
    for step in [("create", row) for row in rows] + steps:
        kind = step[0]
        if kind == "create":
            person = Person(**step[1])
            model[person.id] = {f: None for f in FIELDS} | _normalise(step[1])
        elif kind == "update" and step[1] in model:
            Person.load(step[1]).update_fields(step[2])
            model[step[1]].update(_normalise(step[2]))
        elif kind == "delete" and step[1] in model:
            Person.load(step[1]).delete()
            del model[step[1]]
        elif kind == "reopen":
            Database.init(db_storage=storage)
        elif kind == "query":
            conditions, order, size, budget = step[1]
            got, counted = _run(Person, conditions, order, size, budget)
            want = _expected(model, conditions, order)
            assert got == want, (conditions, order)
            assert counted == len([1 for vals in model.values()
                                   if all(_passes(vals.get(f), op, v) for f, op, v in conditions)])
    db = Database.get_instance()
    tc = db.type_code("Person")
    from kybra_simple_db.ordered_keys import tree
    for field in INDEXED:
        gen = db.key_generations(Person, tc)["^" + field]
        assert tree(db, tc, field, gen).check() == sum(1 for v in model.values() if v[field] is not None)


def test_order_by_a_field_that_is_not_indexed_is_refused():
    Person = _define()
    with pytest.raises(ValidationError, match="needs an index"):
        Person.query().order_by("city")


@pytest.mark.parametrize("condition", [
    ("age", ">=", "18"), ("age", ">=", True), ("score", "<", float("nan")), ("name", "startswith", 3),
    ("age", "startswith", 1), ("age", "~", 1), ("nope", "==", 1), ("age", "<", None),
    ("age", "between", [1]), ("age", "in", []), ("age", "in", "12"), ("active", "==", 1),
])
def test_bad_filters_are_refused_with_a_clear_error(condition):
    Person = _define()
    with pytest.raises(ValidationError):
        Person.query().where(*condition)


def test_cursors_are_checked():
    Person = _define()
    for age in range(5):
        Person(age=age)
    query = Person.query().where(age__gte=1).order_by("age")
    page = query.page(2)
    assert [p.age for p in page] == [1, 2] and page.next
    with pytest.raises(ValidationError, match="another query"):
        Person.query().where(age__gte=2).order_by("age").page(2, page.next)
    for bad in ("%%%", "e30", "W10", "x" * 3000, 5):
        with pytest.raises(ValidationError):
            query.page(2, bad)


def test_a_page_cut_short_continues_after_the_last_item_kept():
    Person = _define()
    for age in (5, 3, 5, 1, 4):
        Person(age=age)
    query = Person.query().order_by("-age")
    page = query.page(4)
    assert [p.id for p in page] == [3, 1, 5, 2]
    rest = query.page(10, page.cursor_after(1))
    assert [p.id for p in rest] == [5, 2, 4] and rest.next is None


def test_filters_stay_exact_on_texts_longer_than_the_indexed_prefix():
    Person = _define()
    stem = "é" * 150                                    # longer than the index keeps (about 220 bytes)
    names = [stem + tail for tail in ("b", "a", "c", "ab", "")] + ["é" * 149 + "z", "short"]
    for name in names:
        Person(name=name)
    by_id = {i + 1: n for i, n in enumerate(names)}

    def ids(*condition):
        return sorted(p.id for p in Person.query().where(*condition).all())

    for op, operand, keep in [
        ("==", stem + "a", lambda n: n == stem + "a"),
        ("<", stem + "ab", lambda n: n < stem + "ab"),
        (">=", stem + "b", lambda n: n >= stem + "b"),
        ("startswith", stem + "a", lambda n: n.startswith(stem + "a")),
        ("between", [stem, stem + "b"], lambda n: stem <= n <= stem + "b"),
        ("in", [stem + "c", "short"], lambda n: n in (stem + "c", "short")),
    ]:
        want = sorted(i for i, n in by_id.items() if keep(n))
        assert ids("name", op, operand) == want, op
        assert Person.query().where("name", op, operand).count() == len(want), op
    db = Database.get_instance()
    tc = db.type_code("Person")
    from kybra_simple_db.ordered_keys import tree

    indexed = tree(db, tc, "name", db.key_generations(Person, tc)["^name"])
    ordered = [p.id for p in Person.query().order_by("name").all()]
    assert ordered == sorted(by_id, key=lambda i: (indexed.key(by_id[i]), i))    # by prefix, then id
    assert indexed.key(stem + "b") == indexed.key(stem + "a") != stem + "a"
