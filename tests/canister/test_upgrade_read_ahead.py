"""post_upgrade reads ahead what the first messages after it would read cold (DbApi.warm): the replies
after it are those of an upgrade without it, nothing stable changes, and it stops at its bounds."""

import itertools

from kybra.compiler.custom_modules.principal import Principal
from kybra_simple_db import ordered_index
from service_maps import ADMIN, canister_maps, db_api, field, forget_module_caches, stored

rep_hash = db_api.rep_hash  # (the canister's module, found on its source path)
OPEN = {
    "read": {"Public": None},
    "create": {"Anyone": None},
    "modify": {"Owner": None},
    "delete": {"Owner": None},
}


def _type(name: str) -> dict:
    return {
        "name": name,
        "fields": [field("title", "Text", indexed=True), field("n", "Int", indexed=True)],
        "alias": None,
        "relations": [],
        "policy": OPEN,
    }


def _filled(types: int, per_type: int) -> tuple:
    maps = canister_maps()
    api = db_api.DbApi(maps, clock=lambda: 1_700_000_000_000_000_000, principal=Principal.from_str)
    api.install(ADMIN)
    for t in range(types):
        assert api.define_type(ADMIN, _type(f"w::T{t}"), False) == {"Ok": None}
        ops = [
            {
                "Create": {
                    "type_name": f"w::T{t}",
                    "fields": [
                        {"name": "title", "value": {"Text": f"title {i % 5} " + "x" * 40}},
                        {"name": "n", "value": {"Int": i}},
                    ],
                }
            }
            for i in range(per_type)
        ]
        for start in range(0, per_type, 100):
            assert "Ok" in api.batch(ADMIN, ops[start : start + 100])
    api.before_upgrade()
    return api, maps


def _upgraded(api, maps, meter=None, **warm) -> tuple:
    """A DbApi over `maps` after an upgrade (its heap caches gone) with `meter`; its read-ahead's nodes."""
    forget_module_caches()
    rep_hash.KEY_HASHES.clear()
    upgraded = db_api.DbApi(maps, clock=api.clock, principal=api.principal, meter=meter)
    upgraded.after_upgrade() if not warm else upgraded.start()
    return upgraded, (upgraded.warm(**warm) if warm else None)


def _replies(api, type_name: str) -> list:
    title = {"name": "title", "value": {"Text": "title 3 " + "x" * 40}}
    created = api.create(ADMIN, type_name, [title, {"name": "n", "value": {"Int": 10**6}}])
    updated = api.update(ADMIN, type_name, 5, [{"name": "n", "value": {"Int": -5}}], None)
    return [created, updated, api.get(ADMIN, type_name, 7), api.get(ADMIN, type_name, 301)]


def test_replies_after_the_read_ahead_are_those_of_a_cold_heap_and_nothing_stable_changes():
    api, maps = _filled(2, 300)
    before = stored(maps)
    counter = itertools.count(0, 1_000)
    warm, _ = _upgraded(api, maps, meter=lambda: next(counter))
    assert len(ordered_index._CACHE) > 0, "the read-ahead cached the index nodes"
    assert {"title", "n", "w::T0", "w::T1", "create", "update"} <= set(rep_hash.KEY_HASHES)
    assert stored(maps) == before, "post_upgrade changed nothing stable"
    warm_replies = _replies(warm, "w::T1")
    warm_state = stored(maps)

    api, maps = _filled(2, 300)
    cold, _ = _upgraded(api, maps)  # no meter: no read-ahead
    assert len(ordered_index._CACHE) == 0
    assert repr(_replies(cold, "w::T1")) == repr(warm_replies)  # (Principal has no __eq__)
    assert stored(maps) == warm_state


def test_the_read_ahead_stops_at_its_node_and_instruction_bounds():
    api, maps = _filled(3, 200)
    before = stored(maps)
    _, read = _upgraded(api, maps, meter=lambda: 0, instructions=10**12, nodes=4)
    assert read == 4 and len(ordered_index._CACHE) <= 4
    counter = itertools.count(0, 1_000)
    _, read = _upgraded(api, maps, meter=lambda: next(counter), instructions=3_500, nodes=10**6)
    assert 0 < read < 4
    everything, read_all = _upgraded(api, maps, meter=lambda: 0, instructions=10**12, nodes=10**6)
    assert read_all > 4
    assert stored(maps) == before
    assert _replies(everything, "w::T2")[2]["Ok"]["id"] == 7


def test_an_upgrade_goes_on_when_the_read_ahead_fails(monkeypatch):
    api, maps = _filled(1, 150)
    before = stored(maps)

    def broken(*args):
        raise LookupError("index node 1^title.9 is missing")

    monkeypatch.setattr(db_api.restart_warmup, "warm_types", broken)
    upgraded, _ = _upgraded(api, maps, meter=lambda: 0)
    assert stored(maps) == before
    assert upgraded.get(ADMIN, "w::T0", 7)["Ok"]["id"] == 7
    title = {"name": "title", "value": {"Text": "after"}}
    assert upgraded.create(ADMIN, "w::T0", [title, {"name": "n", "value": {"Int": 1}}])["Ok"]["id"] == 151
