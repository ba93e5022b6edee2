"""How ordered-index upkeep's rare paths spread on Kybra's RustPython: `python -m benchmarks.index_spread`.

`benchmarks.create_spread` measures one create per `name` value. This measures the index's other paths
over many messages on canister_wasm's state after a restart: creates cycling through the `name` values
(leaf splits, and the count check after one), updates moving entities into one value until it is
"heavy" (a stored count, see "Counts per value" in docs/engine.md) and back out until it is light again
(the count tree's insert and removal; the emptied values' leaves), and deletes of entities that follow
each other in the `name` index (leaves under a quarter full merge with a neighbour). It prints each
phase's spread of wasm instructions and the messages over the 5M create target. Without the runtime it
says so and exits 0.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from benchmarks.canister_wasm import ADMIN, IFACE, ITEM, TAG, build_state, instructions, item_fields
from benchmarks.create_spread import TARGET, VALUES, summary
from localnet import candid_codec, rustpython_runtime
from localnet.replica import Replica

HEAVY_VALUE = "item-0"      # the value the move phase makes heavy


def name_of(i: int) -> str:
    """The `name` canister_wasm's item `i` has."""
    return f"item-{i % VALUES}"


def in_index_order(n: int, first: str, count: int) -> list[int]:
    """`count` item ids in the `name` index's order (value, then id) from the first entry of `first`."""
    order = sorted(range(1, n + 1), key=lambda i: (name_of(i), i))
    start = next(at for at, i in enumerate(order) if name_of(i) == first)
    return order[start:start + count]


def plan(n: int, creates: int, moves: int, deletes: int) -> list[tuple[str, str, list]]:
    """(phase, method, arguments) of every measured message, in order."""
    calls = [("create", "create", [ITEM, item_fields(n + 10 + v)]) for v in range(creates)]
    moved = in_index_order(n, "item-3", moves)
    field = [{"name": "name", "value": {"Text": HEAVY_VALUE}}]
    calls += [("move in", "update", [ITEM, i, field, None]) for i in moved]
    calls += [("move out", "update", [ITEM, i, [{"name": "name", "value": {"Text": name_of(i)}}], None])
              for i in moved]
    calls += [("delete", "delete", [ITEM, i]) for i in in_index_order(n, "item-1", deletes)]
    return calls


def measure(n: int, creates: int, moves: int, deletes: int) -> dict[str, list[int]]:
    """The wasm instructions of each message of `plan`, by phase, at `n` items after a restart."""
    costs: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="index-spread-") as tmp:
        cid, _ = build_state(Path(tmp), n, False)
        with Replica(Path(tmp), runtime="rustpython") as replica:
            log = replica.log_path(cid)
            warm = [TAG, [{"name": "label", "value": {"Text": "warm-up"}}]]
            replica.update(cid, "create", candid_codec.encode(IFACE.methods["create"].params, warm, IFACE),
                           ADMIN.bytes)
            _, seen = instructions(log, 0)
            for phase, method, args in plan(n, creates, moves, deletes):
                sig = IFACE.methods[method]
                reply = replica.update(cid, method, candid_codec.encode(sig.params, args, IFACE), ADMIN.bytes)
                answer = candid_codec.decode(reply.arg, sig.returns, IFACE)[0]
                assert "Ok" in answer, (phase, args, answer)
                counts, seen = instructions(log, seen)
                costs.setdefault(phase, []).append(counts[method])
    return costs


@click.command()
@click.option("--sizes", default="1000,100000", show_default=True, help="Entity counts, comma-separated.")
@click.option("--creates", default=150, show_default=True, help="Creates, cycling through the `name` values.")
@click.option("--moves", default=60, show_default=True, help="Entities moved into one value, then back.")
@click.option("--deletes", default=200, show_default=True, help="Entities deleted, in the index's order.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the figures as JSON.")
def main(sizes: str, creates: int, moves: int, deletes: int, json_out: str | None) -> None:
    if not rustpython_runtime.available():
        click.echo("Kybra's RustPython runtime is not on this machine: index_spread skipped.")
        return
    rows = {}
    click.echo("| entities | phase | messages | min | median | p90 | max | over 5M |")
    click.echo("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in (int(s) for s in sizes.split(",")):
        for phase, costs in measure(n, creates, moves, deletes).items():
            row = rows.setdefault(n, {})[phase] = summary(costs)
            cells = [f"{row[k] / 1e6:.2f}M" for k in ("min", "median", "p90", "max")]
            cells = [phase, str(row["creates"])] + cells + [str(row["over_target"])]
            click.echo(f"| {n:,} | " + " | ".join(cells) + " |")
    if json_out:
        Path(json_out).write_text(json.dumps(rows, indent=1))


__all__ = ["TARGET", "main", "measure", "plan"]

if __name__ == "__main__":
    main()
