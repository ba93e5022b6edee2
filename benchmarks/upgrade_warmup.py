"""post_upgrade's read-ahead on a database of many types and indexes: `python -m benchmarks.upgrade_warmup`.

post_upgrade reads ahead the index nodes the first changes after it would read cold (DbApi.warm), bounded
by api_limits.WARM_NODES nodes and WARM_INSTRUCTIONS instructions. This builds, under CPython, a state of
`--types` types of `--fields` indexed Text fields each and `--entities` entities per type (each index a
tree with inner nodes), restarts it on localnet's rustpython runtime (post_upgrade measured) and creates
one entity of the first type and one of the last, twice each: the first type's indexes are read ahead,
the last one's, past the bound when the database is large, are not, and both answer alike. Without the
runtime it says so and exits 0.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from benchmarks.canister_wasm import (
    ADMIN,
    IFACE,
    CpythonCanister,
    failed,
    field_def,
    instructions,
    run_batches,
    type_def,
)
from localnet import candid_codec, rustpython_runtime
from localnet.replica import Replica
from localnet.state_store import StateStore


def _name(t: int) -> str:
    return f"warm::T{t}"


def _fields(t: int, i: int, fields: int) -> list:
    return [
        {"name": f"f{f}", "value": {"Text": f"value {i % 7} of field {f} of type {t}"}} for f in range(fields)
    ]


def build(state: Path, types: int, fields: int, entities: int) -> bytes:
    """The state (committed to localnet's store under `state`); returns the canister id."""
    with Replica(state) as replica:
        cid = replica.deploy(
            "simple_db",
            Path(__file__).resolve().parent.parent / "canister/src/main.py",
            controllers=[ADMIN.bytes],
        )
    canister = CpythonCanister(state / "localnet.sqlite3", cid)
    for t in range(types):
        typedef = type_def(_name(t), [field_def(f"f{f}", "Text", indexed=True) for f in range(fields)])
        defined = canister.call("update", "define_type", (typedef, False))
        assert defined == {"Ok": None}, (t, defined)
        ops = [{"Create": {"type_name": _name(t), "fields": _fields(t, i, fields)}} for i in range(entities)]
        run_batches(canister, ops)
    store = StateStore(state / "localnet.sqlite3")
    store.commit(cid, canister.memory.take_writes(), time_ns=canister.time)
    store.close()
    return cid


def measure(types: int, fields: int, entities: int) -> dict:
    """{"post_upgrade": instructions, (type, round): instructions of a create} after a restart."""
    params = IFACE.methods["create"].params
    with tempfile.TemporaryDirectory(prefix="upgrade-warmup-") as tmp:
        cid = build(Path(tmp), types, fields, entities)
        with Replica(Path(tmp), runtime="rustpython") as replica:
            log = replica.log_path(cid)
            counts, seen = instructions(log, 0)
            figures = {"post_upgrade": counts.get("post_upgrade")}
            for t in (0, types - 1):
                for round_ in (1, 2):
                    values = _fields(t, entities + round_, fields)
                    arg = candid_codec.encode(params, [_name(t), values], IFACE)
                    outcome = replica.update(cid, "create", arg, ADMIN.bytes)
                    assert not failed(IFACE.methods["create"], outcome), outcome
                    counts, seen = instructions(log, seen)
                    figures[(t, round_)] = counts["create"]
    return figures


@click.command()
@click.option("--types", default=99, show_default=True, help="Types (near the service's limit of 100).")
@click.option("--fields", default=8, show_default=True, help="Indexed Text fields per type.")
@click.option("--entities", default=200, show_default=True, help="Entities per type.")
def main(types: int, fields: int, entities: int) -> None:
    if not rustpython_runtime.available():
        click.echo("Kybra's RustPython runtime is not available here: nothing measured.")
        return
    figures = measure(types, fields, entities)
    click.echo(f"{types} types x {fields} indexed fields x {entities} entities, on Kybra's RustPython")
    click.echo(f"post_upgrade: {figures['post_upgrade']:,} wasm instructions (limit 300B)")
    click.echo("| type | first create after the restart | second create |")
    click.echo("| --- | --- | --- |")
    for t in (0, types - 1):
        click.echo(f"| {_name(t)} | {figures[(t, 1)]:,} | {figures[(t, 2)]:,} |")


if __name__ == "__main__":
    main()
