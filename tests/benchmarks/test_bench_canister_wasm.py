"""The endpoint benchmark's table: every endpoint at every size, next to its IC limit."""

from benchmarks.canister_wasm import IFACE, cases, render


def test_the_table_shows_each_endpoint_at_each_size_with_its_limit():
    row = {
        "name": "get",
        "method": "get",
        "kind": "query",
        "instructions": 4_400_000,
        "cpython_ns": 220_000,
        "bytecodes": 1089,
        "cpython_warm_ns": 110_000,
    }
    big = dict(row, instructions=4_500_000)
    missing = {"name": "upsert", "method": "upsert", "kind": "update", "instructions": None}
    table = render({1000: [row, missing], 100_000: [big, missing]})
    assert "| get | query | 4.4M | 4.5M | 5B | 1,089 | 0.09% |" in table
    assert "| upsert | update | no case | no case | 40B |" in table
    assert "first call: median 20.2" in table and "warm (best of three queries): median 40.5" in table


def test_there_is_a_case_for_the_endpoints_of_main_py():
    covered = {case.method for case in cases(["{}"] * 4)}
    assert covered <= set(IFACE.methods)
    assert {
        "create",
        "get",
        "update",
        "delete",
        "link",
        "list",
        "count",
        "batch",
        "dump",
        "restore",
        "delete_continue",
    } <= covered
