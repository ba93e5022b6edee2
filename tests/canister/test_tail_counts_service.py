"""Count mode "t" (value_counts.py, tail_runs.py) through the service (db_api.DbApi on memory maps, small
data-map values so the indexes have many small leaves): after random creates, updates moving entities
between values, deletes, batches refused by their last operation, upgrades (post_upgrade's read-ahead
included), index rebuilds and a restore whose records come in shuffled order (ids before a value's last
one), `count` and `query_count` (Eq and In) equal a brute-force count of every value of Int, Float, Bool,
Text with separators and long Text fields, and a refused batch changes nothing stored."""

import itertools
import json
import random
import time

import pytest
from kybra.compiler.custom_modules.principal import Principal
from kybra_simple_db import MemoryMap, db_engine
from service_maps import ADMIN, canister_maps, db_api, field, forget_module_caches, stored

TYPE = "tc::Row"
LONG = "long " + "q" * 200
TEXTS = ["a", "b", "a b", "a\x1eb", "", "é", "z", LONG + "1", LONG + "2"]
INTS = [0, 1, 2, -7, 10**12]
FLOATS = [0.0, 1.5, -2.25, 3.0]
FIELDS = (("t", "Text", TEXTS), ("n", "Int", INTS), ("f", "Float", FLOATS), ("b", "Bool", [True, False]))
OPEN = {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
        "delete": {"Owner": None}}


@pytest.fixture(autouse=True)
def tails(monkeypatch):
    """Every ordered index created in the test counts in mode "t"."""
    monkeypatch.setattr(db_engine, "NEW_COUNT_MODE", "t")


def _maps(value_size: int) -> dict:
    """canister_maps() with a data map of `value_size` bytes per value (small index nodes)."""
    maps = canister_maps()
    maps["db"] = (MemoryMap(0, 128, value_size), 128, value_size)
    return maps


def _api(maps: dict, upgrade: bool = False):
    meter = itertools.count(0, 1_000)
    if upgrade:
        forget_module_caches()
    api = db_api.DbApi(maps, clock=time.time_ns, principal=Principal.from_str, meter=lambda: next(meter))
    if upgrade:
        api.after_upgrade()
    else:
        api.install(ADMIN)
        typedef = {"name": TYPE, "alias": None, "relations": [], "policy": OPEN,
                   "fields": [field(name, kind, indexed=True) for name, kind, _ in FIELDS]}
        assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    return api


def _zipf(rng, values: list):
    return rng.choices(values, [1 / (i + 1) ** 1.2 for i in range(len(values))])[0]


def _values(rng) -> dict:
    return {name: _zipf(rng, values) for name, _, values in FIELDS}


def _wire(kind: str, value) -> dict:
    return {kind: value}


def _fields(values: dict) -> list:
    kinds = {name: kind for name, kind, _ in FIELDS}
    return [{"name": name, "value": _wire(kinds[name], value)} for name, value in values.items()]


def _brute(model: dict, name: str, value) -> int:
    return sum(1 for row in model.values() if row[name] == value and type(row[name]) is type(value))


def _check(api, model: dict) -> None:
    for name, kind, values in FIELDS:
        for value in values:
            want = _brute(model, name, value)
            assert api.count(ADMIN, TYPE, [{"name": name, "value": _wire(kind, value)}]) == {"Ok": want}, (
                name, value)
            request = {"type_name": TYPE, "filters": [{"field": name, "op": {"Eq": None},
                                                      "values": [_wire(kind, value)]}],
                       "order": None, "cursor": None, "limit": 10}
            assert api.query_count(ADMIN, request)["Ok"] == {"count": want, "next": None}, (name, value)
        some = values[:3]
        request = {"type_name": TYPE, "filters": [{"field": name, "op": {"In": None},
                                                  "values": [_wire(kind, v) for v in some]}],
                   "order": None, "cursor": None, "limit": 10}
        assert api.query_count(ADMIN, request)["Ok"]["count"] == sum(_brute(model, name, v) for v in some)


def _dump(api) -> list:
    records, cursor = [], None
    while True:
        page = api.dump(ADMIN, cursor, 25)["Ok"]
        records += json.loads(page["data"])["records"]
        cursor = page["next"]
        if cursor is None:
            return records


def _restored(records: list, value_size: int, rng):
    """A fresh service with the records restored in shuffled pages (ids out of order)."""
    forget_module_caches()
    maps = _maps(value_size)
    api = _api(maps)
    entities = [r for r in records if "id" in r]
    rest = [r for r in records if "id" not in r and r["type"] == TYPE]    # (other tests' types too)
    rng.shuffle(entities)
    for start in range(0, len(entities), 15):
        page = {"format": "kybra-simple-db-dump/1", "records": entities[start:start + 15]}
        assert "Ok" in api.restore(ADMIN, json.dumps(page))
    if rest:
        assert "Ok" in api.restore(ADMIN, json.dumps({"format": "kybra-simple-db-dump/1", "records": rest}))
    return api, maps


def _run(seed: int, value_size: int, steps: int) -> None:
    rng = random.Random(seed)
    maps = _maps(value_size)
    api = _api(maps)
    model = {}
    for step in range(steps):
        roll = rng.random()
        if roll < 0.4 or len(model) < 4:
            rows = [_values(rng) for _ in range(rng.randint(1, 8))]
            done = api.batch(ADMIN, [{"Create": {"type_name": TYPE, "fields": _fields(r)}} for r in rows])
            for row, result in zip(rows, done["Ok"]):
                model[result["Entity"]["id"]] = row
        elif roll < 0.55:
            eid = rng.choice(sorted(model))
            row = _values(rng)
            if rng.random() < 0.5:
                row = {k: v for k, v in row.items() if k == rng.choice("tnfb")}
            assert "Ok" in api.update(ADMIN, TYPE, eid, _fields(row), None)
            model[eid].update(row)
        elif roll < 0.7:
            gone = rng.sample(sorted(model), min(len(model) - 1, rng.randint(1, 10)))
            assert "Ok" in api.batch(ADMIN, [{"Delete": {"type_name": TYPE, "id": eid}} for eid in gone])
            for eid in gone:
                del model[eid]
        elif roll < 0.8:    # changes then a refused operation: the whole batch changes nothing
            before = stored(maps)
            ops = [{"Create": {"type_name": TYPE, "fields": _fields(_values(rng))}} for _ in range(6)]
            ops += [{"Update": {"type_name": TYPE, "id": eid, "fields": _fields(_values(rng)),
                                "expected_version": None}} for eid in rng.sample(sorted(model), 2)]
            ops += [{"Delete": {"type_name": TYPE, "id": rng.choice(sorted(model))}}]
            ops += [{"Delete": {"type_name": TYPE, "id": 10**9}}]
            assert "NotFound" in api.batch(ADMIN, ops)["Err"]
            assert stored(maps) == before
        elif roll < 0.87:
            api = _api(maps, upgrade=True)
        elif roll < 0.92:
            cursor = None
            while True:
                cursor = api.rebuild_indexes(ADMIN, TYPE, cursor, 7)["Ok"]
                if cursor is None:
                    break
        elif roll < 0.95:
            api, maps = _restored(_dump(api), value_size, rng)
        if step % 6 == 0:
            _check(api, model)
    _check(api, model)
    data = maps["db"][0]
    tc = next(k[3:] for k, v in data.items() if k.startswith("!k:") and '"^t"' in v)
    assert json.loads(data.get("!k:" + tc))["t"] == ["^t", "^n", "^f", "^b"]
    assert any(k.startswith(tc + "+") for k, _ in data.items()), "some value spans leaves"


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("value_size", [300, 600])
def test_counts_through_the_service_match_a_brute_force_count(seed, value_size):
    _run(seed, value_size, 90)
