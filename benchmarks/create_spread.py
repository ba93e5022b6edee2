"""How a create's cost spreads over index values on Kybra's RustPython: `python -m benchmarks.create_spread`.

`benchmarks.canister_wasm` measures one create. What a create costs depends on where its entry lands in
the `name` index: a value whose entries all sit in one leaf needs no count check, one whose entries span
two leaves reads the neighbouring leaf to see whether the value has become heavy, a full leaf splits. This
builds canister_wasm's state at each size, restarts it on localnet's rustpython runtime, warms the code
with one create of another type, then creates one `bench::Item` for each of the `name` values (each the
value's first create since the restart, as canister_wasm's is: "cold") and then one more for each of
them ("warm": the heap holds what the first round read and left) and prints the spread of the wasm
instructions of each round and how many creates pass the 5M target. Without the runtime it says so and
exits 0.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

import click

from benchmarks.canister_wasm import ADMIN, IFACE, ITEM, TAG, build_state, instructions, item_fields
from localnet import candid_codec, rustpython_runtime
from localnet.replica import Replica

TARGET = 5_000_000  # issue 14's create target, in wasm instructions
VALUES = 50  # the distinct `name` values of canister_wasm's items


def measure(n: int, values: int = VALUES) -> tuple[list[int], list[int]]:
    """The wasm instructions of one create per `name` value (`values` of them) after a restart, at `n`
    items, then of a second one per value: (first round, second round)."""
    params = IFACE.methods["create"].params
    with tempfile.TemporaryDirectory(prefix="create-spread-") as tmp:
        cid, _ = build_state(Path(tmp), n, False)
        with Replica(Path(tmp), runtime="rustpython") as replica:
            log = replica.log_path(cid)
            warm = [TAG, [{"name": "label", "value": {"Text": "warm-up"}}]]
            replica.update(cid, "create", candid_codec.encode(params, warm, IFACE), ADMIN.bytes)
            _, seen = instructions(log, 0)
            rounds = ([], [])
            for i in range(2 * values):     # (the second round's values are the first's: 50 apart)
                fields = item_fields(n + 10 + i % values + i // values * VALUES)
                arg = candid_codec.encode(params, [ITEM, fields], IFACE)
                replica.update(cid, "create", arg, ADMIN.bytes)
                counts, seen = instructions(log, seen)
                rounds[i // values].append(counts["create"])
    return rounds


def summary(costs: list[int]) -> dict:
    ordered = sorted(costs)
    return {
        "creates": len(ordered),
        "min": ordered[0],
        "median": int(statistics.median(ordered)),
        "p90": ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))],
        "max": ordered[-1],
        "over_target": sum(1 for c in ordered if c > TARGET),
    }


@click.command()
@click.option("--sizes", default="1000,100000", show_default=True, help="Entity counts, comma-separated.")
@click.option("--values", default=VALUES, show_default=True, help="Creates per size, one per `name` value.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the figures as JSON.")
def main(sizes: str, values: int, json_out: str | None) -> None:
    if not rustpython_runtime.available():
        click.echo("Kybra's RustPython runtime is not on this machine: create_spread skipped.")
        return
    rows = {}
    click.echo("| entities | heap | creates | min | median | p90 | max | over 5M |")
    click.echo("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in (int(s) for s in sizes.split(",")):
        cold, warm = measure(n, values)
        rows[n] = {"cold": summary(cold), "warm": summary(warm)}
        for heap, row in rows[n].items():
            cells = [f"{n:,}", heap, str(row["creates"])]
            cells += [f"{row[k] / 1e6:.2f}M" for k in ("min", "median", "p90", "max")]
            click.echo("| " + " | ".join(cells + [str(row["over_target"])]) + " |")
    if json_out:
        Path(json_out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
