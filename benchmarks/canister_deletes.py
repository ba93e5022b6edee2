"""Deletes of any size on Kybra's RustPython, message by message: `python -m benchmarks.canister_deletes`.

Two states are built quickly under CPython in this process (as benchmarks.canister_wasm does): a
`depth`-deep Cascade chain (`bench::Node`, each node's `parent` Cascade) and a hub linked by `links`
leaves (`bench::Leaf.hub`, SetNull: each leaf's reference is cleared). A localnet Replica with the
rustpython runtime then restarts on each state, with its clock under the benchmark's control; the
root (the hub) is deleted with `delete`, and the canister's own timer carries the rest on, one message
per step (the clock advanced a second at a time until no timer is left). Printed: the number of
messages, the worst message and the total, in wasm instructions from localnet's log, next to the 40B
update limit. Slow (minutes); not part of `make test`. Without the runtime it says so and exits 0.
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import click

from benchmarks.canister_wasm import (
    ADMIN,
    ENTRY,
    HUB,
    IFACE,
    CpythonCanister,
    add_hub,
    created,
    field_def,
    relation,
    replica_call,
    run_batches,
    type_def,
)
from localnet import candid_codec, rustpython_runtime
from localnet.replica import Replica
from localnet.state_store import StateStore

NODE = "bench::Node"
LINE = re.compile(r"\[instructions\] (\w+) (\S+): (\d+)")   # a timer logs method <timer>
UPDATE_LIMIT = 40_000_000_000
BUILD_BATCH = 25    # creates per batch while building (localnet's CPython meter is the wall clock: keep
                    # each message short on a busy machine)
NODE_DEF = type_def(NODE, [field_def("label", "Text")],
                    relations=[relation("parent", "ManyToOne", NODE, "children", "Cascade")])


def build_state(state: Path, kind: str, size: int) -> tuple[bytes, int]:
    """A fresh simple_db holding the chain ("chain") or the hub and its leaves ("links"), committed to
    `state`; (canister id, id of the entity to delete)."""
    with Replica(state) as replica:
        cid = replica.deploy("simple_db", ENTRY, controllers=[ADMIN.bytes])
    canister = CpythonCanister(state / "localnet.sqlite3", cid)
    assert canister.call("update", "define_type", (NODE_DEF, False)) == {"Ok": None}
    if kind == "chain":
        ops = [created(NODE, "n" + str(i), ("parent", i) if i else None) for i in range(size + 1)]
        run_batches(canister, ops, BUILD_BATCH)
    else:
        add_hub(canister, size, BUILD_BATCH)
    store = StateStore(state / "localnet.sqlite3")
    store.commit(cid, canister.memory.take_writes(), time_ns=canister.time)
    store.close()
    return cid, 1


def delete_across_messages(kind: str, size: int) -> dict:
    """Delete the root of the state on the rustpython runtime; the figures of every message."""
    type_name = NODE if kind == "chain" else HUB
    with tempfile.TemporaryDirectory(prefix="canister-deletes-") as tmp:
        state = Path(tmp)
        cid, root = build_state(state, kind, size)
        with Replica(state, runtime="rustpython") as replica:
            replica.set_time(replica.time_ns())
            log = replica.log_path(cid)
            seen = len(log.read_text())
            reply = replica_call(replica, cid, "delete", (type_name, root))
            assert reply == {"Ok": None}, reply
            while replica.advance_time(1_000_000_000):    # the timers now due, each its own message
                pass
            text = log.read_text()[seen:]
            counts = [int(m.group(3)) for m in LINE.finditer(text) if m.group(1) != "query"]
            count = IFACE.methods["count"]
            left = replica.query(cid, "count", candid_codec.encode(count.params, [type_name, []], IFACE),
                                 ADMIN.bytes)
            remaining = candid_codec.decode(left.arg, count.returns, IFACE)[0]
    return {"case": kind, "size": size, "messages": len(counts), "worst": max(counts), "total": sum(counts),
            "first": counts[0], "remaining": remaining}


@click.command()
@click.option("--depth", default=10_000, show_default=True, help="depth of the Cascade chain (0: skip)")
@click.option("--links", default=100_000, show_default=True, help="leaves linked to the hub (0: skip)")
def main(depth: int, links: int) -> None:
    """Print messages, worst and total wasm instructions of deleting each state's root."""
    if not rustpython_runtime.available():
        click.echo(f"canister_deletes: skipped. {rustpython_runtime.HOW_TO_GET}")
        return
    click.echo("simple_db `delete` carried on by its timer, on Kybra's RustPython (localnet runtime)")
    for kind, size in (("chain", depth), ("links", links)):
        if size <= 0:
            continue
        started = time.time()
        row = delete_across_messages(kind, size)
        what = f"{size:,}-deep Cascade chain" if kind == "chain" else f"hub with {size:,} SetNull links"
        click.echo(f"  {what}: {row['messages']} messages, worst {row['worst'] / 1e9:.2f}B "
                   f"({row['worst'] / UPDATE_LIMIT:.0%} of 40B), first {row['first'] / 1e9:.2f}B, "
                   f"total {row['total'] / 1e9:.1f}B; left afterwards: {row['remaining']} "
                   f"({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
