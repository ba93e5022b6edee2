"""Attacks with very long vectors: 10,000 filters, fields or block ranges in one argument. The canister
must refuse (or answer) after a look at the vector's length, not walk it: its own work (Python bytecodes
of canister/src, counted under CPython) stays the same whatever the length, so a 2 MiB argument cannot
take the message past the IC's instruction limits in the canister's code."""

from __future__ import annotations

import builtins
import sys

import pytest
from canister_fixtures import deploy
from canister_harness import ReplicaCaller, field, field_def, text, type_def
from ic.principal import Principal

from benchmarks.canister_wasm import ADMIN, CpythonCanister
from localnet.replica import Replica

N = 10_000
WORK = 5_000  # bytecodes: a few hundred are needed whatever the length
THING = type_def(
    "vec::Thing",
    [field_def("name", "Text", indexed=True, high=40), field_def("note", "Text")],
    alias="name",
)


@pytest.fixture(scope="module")
def canister():
    """The canister imported in this process (CpythonCanister re-imports its modules); the modules, path
    and `ic` stand-in of the tests that run after are put back."""
    modules, path, ic = dict(sys.modules), list(sys.path), getattr(builtins, "_kybra_ic", None)
    try:
        with Replica() as replica:
            cid = deploy(replica, ADMIN)
            admin = ReplicaCaller(replica, cid, Principal(ADMIN.bytes))
            assert admin.call("define_type", THING, False) == {"Ok": None}
            admin.ok("create", "vec::Thing", [field("name", text("one"))])
            yield CpythonCanister(replica.db_path, cid)
    finally:
        for name in [name for name in sys.modules if name not in modules]:
            del sys.modules[name]
        sys.modules.update(modules)
        sys.path[:] = path
        builtins._kybra_ic = ic


def fields(n: int) -> list:
    return [{"name": f"f{i}", "value": {"Text": "a"}} for i in range(n)]


def repeated(n: int) -> list:
    return [{"name": "note", "value": {"Text": "a"}}] * n


EQ = {"field": "name", "op": {"Eq": None}, "values": [{"Text": "a"}]}
CALLS = [
    ("query", "count", ("vec::Thing", fields(N))),
    ("query", "count", ("vec::Thing", repeated(N))),
    ("query", "list", ("vec::Thing", fields(N), None, 10)),
    (
        "query",
        "query",
        ({"type_name": "vec::Thing", "filters": [EQ] * N, "order": None, "cursor": None, "limit": 1},),
    ),
    ("update", "create", ("vec::Thing", fields(N))),
    ("update", "create", ("vec::Thing", repeated(N))),
    ("update", "update", ("vec::Thing", 1, fields(N), None)),
    ("update", "upsert", ("vec::Thing", {"Text": "two"}, fields(N))),
    ("update", "upsert", ("vec::Thing", {"Text": "one"}, repeated(N))),
    ("update", "batch", ([{"Create": {"type_name": "vec::Thing", "fields": fields(N)}}],)),
    ("query", "icrc3_get_blocks", ([{"start": 0, "length": 0}] * N,)),
    ("query", "icrc3_get_blocks", ([{"start": 2**80, "length": 2**80}] * N,)),
]


@pytest.mark.parametrize(("kind", "method", "args"), CALLS, ids=[f"{c[1]}-{i}" for i, c in enumerate(CALLS)])
def test_a_long_vector_is_refused_before_it_is_walked(canister, kind, method, args):
    work = canister.bytecodes(kind, method, args)
    result = canister.call(kind, method, args)
    assert work < WORK, (method, work, str(result)[:200])
    if method == "icrc3_get_blocks":
        assert result["blocks"] == []
    else:
        assert "Err" in result, result


def test_many_block_ranges_cost_what_a_full_page_costs(canister):
    """10,000 ranges of one block answer at most a page of 100 blocks, for the work of 100 ranges."""
    page = canister.bytecodes("query", "icrc3_get_blocks", ([{"start": 0, "length": 1}] * 100,))
    work = canister.bytecodes("query", "icrc3_get_blocks", ([{"start": 0, "length": 1}] * N,))
    assert work <= page * 1.01
    assert (
        len(canister.call("query", "icrc3_get_blocks", ([{"start": 0, "length": 1}] * N,))["blocks"]) == 100
    )
