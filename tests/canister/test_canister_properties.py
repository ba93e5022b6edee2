"""Property-based: random sequences of operations by random callers against the canister's service layer
(db_api over in-memory maps). Every call answers Ok or a clear Err, a refused call changes no stored
byte, and who may do what follows the type's policy."""

import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kybra.compiler.custom_modules.principal import Principal
from kybra_simple_db import MemoryMap

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import db_api  # noqa: E402 - the canister's own module, found on its source path

ADMIN = "evvln-dkyvs-32ztg-old72-roktw-evvu5-ycxvb-nvzcb-ygwyk-bl7u4-fqe"
ALICE = "mnnk5-gfqmo-4omau-3uj75-wcco3-qwour-lsvsv-tmcw3-2kwze-f6orv-yqe"
BOB = "qvrue-to5hs-3bz3z-6ite3-4lngl-mmkkm-gjzig-krcom-bxyz7-odekr-6ae"
ANON = "2vxsx-fae"
CALLERS = (ADMIN, ALICE, BOB, ANON)


def fresh_api():
    maps = {
        "db": (MemoryMap(0, 128, 1024), 128, 1024),
        "audit": (MemoryMap(1, 80, 1024), 80, 1024),
        "meta": (MemoryMap(2, 128, 16384), 128, 16384),
    }
    api = db_api.DbApi(maps, clock=time.time_ns, principal=Principal.from_str)
    api.install(ADMIN)
    fd = {
        "kind": {"Text": None},
        "required": False,
        "default": None,
        "min": None,
        "max": 8.0,
        "indexed": True,
    }
    typedef = {
        "name": "p::Card",
        "fields": [
            dict(fd, name="label"),
            dict(fd, name="size", kind={"Int": None}, max=100.0, indexed=False),
        ],
        "alias": "label",
        "relations": [
            {
                "name": "next",
                "kind": {"OneToOne": None},
                "target": "p::Card",
                "reverse": "prev",
                "on_delete": {"SetNull": None},
            }
        ],
        "policy": {
            "read": {"Public": None},
            "create": {"Anyone": None},
            "modify": {"Owner": None},
            "delete": {"Owner": None},
            "certified": None,
        },
    }
    assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    return api, maps


def stored(maps) -> dict:
    return {name: dict(m._data) for name, (m, _, _) in maps.items()}


values = st.one_of(
    st.builds(lambda s: {"Text": s}, st.text(max_size=10)),
    st.builds(lambda n: {"Int": n}, st.integers(-5, 120)),
    st.just({"Null": None}),
    st.just({"Bool": True}),
)
fields = st.lists(
    st.builds(lambda n, v: {"name": n, "value": v}, st.sampled_from(["label", "size", "bad"]), values),
    max_size=3,
)
ids = st.integers(0, 5)
creates = st.tuples(st.just("create"), fields)
operations = st.one_of(
    creates,
    creates,
    st.tuples(st.just("update"), ids, fields),
    st.tuples(st.just("delete"), ids),
    st.tuples(st.just("link"), ids, ids),
    st.tuples(st.just("unlink"), ids, ids),
    st.tuples(st.just("transfer"), ids, st.sampled_from(CALLERS)),
)


def run(api, caller: str, op: tuple) -> dict:
    kind = op[0]
    if kind == "create":
        return api.create(caller, "p::Card", op[1])
    if kind == "update":
        return api.update(caller, "p::Card", op[1], op[2], None)
    if kind == "delete":
        return api.delete(caller, "p::Card", op[1])
    if kind in ("link", "unlink"):
        return getattr(api, kind)(caller, "p::Card", op[1], "next", op[2])
    return api.transfer(caller, "p::Card", op[1], op[2])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(CALLERS), operations), min_size=1, max_size=16))
def test_random_operations_keep_the_rules(steps):
    api, maps = fresh_api()
    for caller, op in steps:
        before = stored(maps)
        owner = None
        if op[0] != "create" and isinstance(op[1], int):
            current = api.get(ADMIN, "p::Card", op[1])
            owner = current["Ok"]["owner"].to_str() if "Ok" in current else None
        result = run(api, caller, op)
        assert set(result) <= {"Ok", "Err"} and len(result) == 1
        if "Err" in result:
            ((kind, message),) = result["Err"].items()
            assert (
                kind in ("NotFound", "Forbidden", "Unauthenticated", "Invalid", "Conflict", "Limit")
                and message
            )
            assert stored(maps) == before, (caller, op, result)
            if caller == ANON:
                assert kind in ("Unauthenticated",), result
        else:
            assert caller != ANON
            if owner is not None and caller != ADMIN:
                assert caller == owner, (caller, op)
    count = api.count(ADMIN, "p::Card", [])["Ok"]
    listed = api.list_page(ADMIN, "p::Card", [], None, 100)["Ok"]["items"]
    assert count == len(listed)
    for card in listed:
        for ref in card["refs"]:
            if ref["target_id"] is not None:
                partner = api.get(ADMIN, "p::Card", ref["target_id"])["Ok"]
                back = {r["relation"]: r["target_id"] for r in partner["refs"]}
                mirror = "prev" if ref["relation"] == "next" else "next"
                assert back[mirror] == card["id"]
