"""The costliest dump pages on Kybra's RustPython: `python -m benchmarks.dump_pages`.

A dump page stops by what it costs (docs/canister.md, History and export): each record is encoded as it
is read, a record that would take the page past 1,000,000 characters ends it before that record, and
once the instructions used plus what the page's text still costs pass 3B the record just encoded is the
last. This dumps, page by page through a localnet Replica on the rustpython runtime, data shaped to make
pages costly: records cheap to read but costly to encode (hubs that 1,568 to-one relations point at,
their refs encoded one by one), records too large to share a page (32 fields of 2,000 non-ASCII
characters, escaped in the JSON), and records of text full of quotes (escaped in the stored document).
For each page it prints the wasm instructions (localnet's log), the share of the 5B query limit, the
records and characters it holds and its `next` cursor. Without the runtime it says so and exits 0.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from benchmarks.canister_wasm import (
    ADMIN,
    ENTRY,
    field_def,
    instructions,
    replica_call,
    type_def,
)
from localnet import rustpython_runtime
from localnet.outcome import Reject
from localnet.replica import Replica

NAMES = [f"f{i:02d}" for i in range(32)]
HUB_TYPES = 98  # types pointing 16 OneToOne relations each at the hub: 1,568 refs in a hub's record


def hub_schema() -> list:
    """Plain type definitions (a restore page's schema): the hub and HUB_TYPES types of 16 relations."""
    text = {"kind": "Text", "required": False, "default": None, "min": None, "max": 2000.0, "indexed": False}
    public = {"read": "Public", "create": "Anyone", "modify": "Owner", "delete": "Owner"}
    schema = [{"name": "hub::Hub", "fields": [dict(text, name="x")], "alias": None, "relations": [],
               "policy": public}]
    for k in range(HUB_TYPES):
        relations = [{"name": f"r{i}", "kind": "OneToOne", "target": "hub::Hub", "reverse": f"b{k}_{i}",
                      "on_delete": "SetNull"} for i in range(16)]
        schema.append({"name": f"s{k}::T", "fields": [dict(text, name="y")], "alias": None,
                       "relations": relations, "policy": public})
    return schema


def creates(type_name: str, fields: list, count: int) -> list:
    return [{"Create": {"type_name": type_name, "fields": fields}}] * count


def build_hubs(call) -> None:
    page = json.dumps({"format": "kybra-simple-db-dump/1", "schema": hub_schema(), "records": []})
    assert call("restore", (page,)) == {"Ok": 0}
    value = {"Text": "\U0001f600" * 2000}
    for _ in range(3):
        assert "Ok" in call("batch", (creates("hub::Hub", [{"name": "x", "value": value}], 10),))


def build_wide(char: str, count: int):
    """A builder of `count` entities of bench::Wide, each of 32 Text fields of 2,000 `char`."""

    def build(call) -> None:
        fields = [field_def(n, "Text") for n in NAMES]
        assert call("define_type", (type_def("bench::Wide", fields), False)) == {"Ok": None}
        values = [{"name": n, "value": {"Text": char * 2000}} for n in NAMES]
        for _ in range(count):
            assert "Ok" in call("batch", (creates("bench::Wide", values, 1),))

    return build


SHAPES = {
    "hubs": ("30 hubs with 1,568 refs each (cheap to read, costly to encode)", build_hubs),
    "emoji": ("5 entities of 32 fields of 2,000 emoji (770,000 characters each: one a page)",
              build_wide("\U0001f600", 5)),
    "quotes": ("3 entities of 32 fields of 2,000 quotes", build_wide('"', 3)),
}


def dump_all(replica: Replica, cid: bytes) -> list[dict]:
    """Every page of a dump from the start: instructions, records, characters and cursor of each."""
    log = replica.log_path(cid)
    _, seen = instructions(log, 0)
    pages, cursor = [], None
    while True:
        reply = replica_call(replica, cid, "dump", (cursor, 100))
        counts, seen = instructions(log, seen)
        if isinstance(reply, Reject):
            pages.append({"instructions": counts.get("dump"), "error": reply.message})
            return pages
        if "Err" in reply:
            pages.append({"instructions": counts.get("dump"), "error": str(reply["Err"])})
            return pages
        page = reply["Ok"]
        data = json.loads(page["data"])
        pages.append({"instructions": counts["dump"], "records": len(data["records"]),
                      "chars": len(page["data"]), "next": page["next"]})
        if not page["next"]:
            return pages
        cursor = page["next"]


@click.command()
@click.option("--only", help="Only these shapes, comma-separated (" + ", ".join(SHAPES) + ").")
def main(only: str | None) -> None:
    """Print each dump page's wasm instructions for data shaped to make dump pages costly."""
    if not rustpython_runtime.available():
        click.echo(f"dump_pages: skipped. {rustpython_runtime.HOW_TO_GET}")
        return
    names = [s.strip() for s in only.split(",")] if only else list(SHAPES)
    click.echo("dump pages of 100 on Kybra's RustPython (wasm instructions per page, localnet runtime)")
    click.echo("| data | page | wasm instr. | % of 5B | records | characters | next |")
    click.echo("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        label, build = SHAPES[name]
        for number, page in enumerate(measure(build), 1):
            used = page["instructions"] or 0
            head = f"| {label} | {number} | {used / 1e6:,.1f}M |"
            if "error" in page:
                click.echo(head + f" | failed: {page['error'][:80]} | | |")
            else:
                click.echo(head + f" {used / 5e7:.1f}% | {page['records']} | {page['chars']:,} | "
                           + f"{page['next'] or ''} |")


def measure(build) -> list[dict]:
    """The pages of a dump of a fresh canister that `build(call)` filled."""
    with tempfile.TemporaryDirectory(prefix="dump-pages-") as tmp, \
            Replica(Path(tmp), runtime="rustpython") as replica:
        cid = replica.deploy("simple_db", ENTRY, controllers=[ADMIN.bytes])
        build(lambda method, args: replica_call(replica, cid, method, args))
        return dump_all(replica, cid)


if __name__ == "__main__":
    main()
