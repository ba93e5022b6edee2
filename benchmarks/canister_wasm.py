"""Wasm instructions of every simple_db endpoint on Kybra's RustPython: `python -m benchmarks.canister_wasm`.

For each data size (default 1,000 and 100,000 entities) the state is built quickly under CPython, in
this process (the canister imported on localnet's CPython host, `batch` creates of 100, the writes then
committed to a localnet state directory: stable maps are byte-identical across the runtimes). A
localnet Replica with the rustpython runtime then restarts on that state (its `post_upgrade` is
measured) and every endpoint is called once through it; the instruction counts come from localnet's
log, so they include everything the canister's Python does in the message (not the host's Candid and
stable B-tree work). Printed beside them: the IC's limit for the message, the Python bytecodes the
canister's own code executes for the same call under CPython, and the CPython time, from which the
ratio of wasm instructions to CPython nanoseconds is derived (localnet's CPython clock uses 20).
Without the runtime on this machine it says so and exits 0.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import io
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from kybra import Principal
from kybra_simple_db.db_engine import DEFAULT_DELETE_BUDGET

from localnet import candid_codec, rustpython_runtime
from localnet.kybra_host import INSTRUCTIONS_PER_NS, Context, KybraHost
from localnet.outcome import Reject
from localnet.replica import Replica
from localnet.source_interface import read_interface
from localnet.stable_memory import StableMemory
from localnet.state_store import StateStore, read_stable_rows

ROOT = Path(__file__).resolve().parent.parent
ENTRY = ROOT / "canister" / "src" / "main.py"
SOURCE = str(ENTRY.parent)
IFACE = read_interface(ENTRY)[0]
ADMIN = Principal(bytes=hashlib.sha224(b"bench-admin").digest() + b"\x02")
OTHER = Principal(bytes=hashlib.sha224(b"bench-other").digest() + b"\x02")
CERTIFICATE = b"certificate"  # what the HTTP side passes to queries (the canister only passes it on)
ITEM, TAG, SIGNED = "bench::Item", "bench::Tag", "bench::Signed"
HUB, LEAF = "bench::Hub", "bench::Leaf"
SIGNED_COUNT = 100  # entities of the certified type
TAGGED = 200  # items linked to tag 1
DELETE_SHARE = DEFAULT_DELETE_BUDGET  # linked entities one message of a stepwise delete releases at most
HUB_LEAVES = 3 * DELETE_SHARE + 500  # a delete and two continuations each release a full share, some is left
BYTECODE_INSTRUCTIONS = 2_000  # about what one of the canister's bytecodes costs under Kybra's RustPython
LINE = re.compile(r"\[instructions\] (\w+) (\w+): (\d+)")


def field_def(name: str, kind: str, required: bool = False, indexed: bool = False) -> dict:
    return {
        "name": name,
        "kind": {kind: None},
        "required": required,
        "default": None,
        "min": None,
        "max": None,
        "indexed": indexed,
    }


def policy(certified: bool = False) -> dict:
    return {
        "read": {"Public": None},
        "create": {"Anyone": None},
        "modify": {"Owner": None},
        "delete": {"Owner": None},
        "certified": certified or None,
    }


def type_def(
    name: str, fields: list, alias: str | None = None, relations: list | None = None, certified: bool = False
) -> dict:
    return {
        "name": name,
        "fields": fields,
        "alias": alias,
        "relations": relations or [],
        "policy": policy(certified),
    }


ITEM_DEF = type_def(
    ITEM,
    [
        field_def("name", "Text", required=True, indexed=True),
        field_def("qty", "Int"),
        field_def("sku", "Text"),
    ],
    alias="sku",
)
TAG_DEF = type_def(
    TAG,
    [field_def("label", "Text")],
    relations=[
        {
            "name": "items",
            "kind": {"ManyToMany": None},
            "target": ITEM,
            "reverse": "tags",
            "on_delete": {"SetNull": None},
        }
    ],
)


SIGNED_DEF = type_def(
    SIGNED, [field_def("sku", "Text"), field_def("qty", "Int")], alias="sku", certified=True
)


def relation(name: str, kind: str, target: str, reverse: str, on_delete: str) -> dict:
    return {"name": name, "kind": {kind: None}, "target": target, "reverse": reverse,
            "on_delete": {on_delete: None}}


HUB_DEF = type_def(HUB, [field_def("label", "Text")])
LEAF_DEF = type_def(LEAF, [field_def("label", "Text")],
                    relations=[relation("hub", "ManyToOne", HUB, "leaves", "SetNull")])


def created(type_name: str, label: str, ref: tuple | None) -> dict:
    """A batch `Create` of an entity with a `label` and, with `ref` (relation, id), a to-one link."""
    fields = [{"name": "label", "value": {"Text": label}}]
    if ref is not None:
        fields.append({"name": ref[0], "value": {"Int": ref[1]}})
    return {"Create": {"type_name": type_name, "fields": fields}}


def item_fields(i: int) -> list:
    return [
        {"name": "name", "value": {"Text": f"item-{i % 50}"}},
        {"name": "qty", "value": {"Int": i}},
        {"name": "sku", "value": {"Text": f"sku-{i}"}},
    ]


def query_request(filters: list, order) -> dict:
    """A `query` / `query_count` request on ITEM: filters (field, op, values), order (field, descending)."""
    return {
        "type_name": ITEM,
        "filters": [{"field": f, "op": {op: None}, "values": values} for f, op, values in filters],
        "order": None if order is None else {"field": order[0], "descending": order[1]},
        "cursor": None,
        "limit": 100,
    }


def signed_creates(run: int, count: int) -> list:
    """`count` Create operations of the certified type, new alias values for run `run`."""
    return [{"Create": {"type_name": SIGNED, "fields": [{"name": "sku", "value": {"Text": f"b-{run}-{i}"}}]}}
            for i in range(count)]


def creates(start: int, count: int) -> list:
    return [{"Create": {"type_name": ITEM, "fields": item_fields(i)}} for i in range(start, start + count)]


class CpythonCanister:
    """simple_db imported in this process on localnet's CPython host, over a replica's stable memory."""

    def __init__(self, db: Path, canister_id: bytes):
        self.memory = StableMemory(IFACE, read_stable_rows(db, canister_id))
        self.host = KybraHost(IFACE, self.memory, canister_id, io.StringIO())
        builtins._kybra_ic = self.host  # type: ignore[attr-defined]
        if SOURCE not in sys.path:
            sys.path.insert(0, SOURCE)
        for name, module in list(sys.modules.items()):  # a fresh import: no heap from an earlier state
            if getattr(module, "__file__", None) and module.__file__.startswith(SOURCE):
                del sys.modules[name]
        self.time = time.time_ns()
        self.host.ctx = Context("post_upgrade", "post_upgrade", ADMIN.bytes, self.tick())
        self.main = importlib.import_module("main")
        self.main.after_upgrade()
        self.host.ctx = None

    def tick(self) -> int:
        self.time = max(self.time + 1, time.time_ns())
        return self.time

    def call(self, kind: str, method: str, args: tuple) -> Any:
        self.host.ctx = Context(kind, method, ADMIN.bytes, self.tick(), data_certificate=CERTIFICATE)
        try:
            return getattr(self.main, method)(*args)
        finally:
            self.host.ctx = None

    def measure(self, kind: str, method: str, args: tuple, trace: bool = False) -> tuple[int, int]:
        """CPython CPU ns of the first call and of the best of three (a query), or with `trace` the bytecodes
        the canister's own code executes."""
        if trace:
            return self.bytecodes(kind, method, args), 0
        times = []
        for _ in range(3 if kind == "query" else 1):  # a query changes nothing: three runs
            start = time.process_time_ns()     # the clock localnet's CPython meter uses
            self.call(kind, method, args)
            times.append(time.process_time_ns() - start)
        return times[0], min(times)

    def bytecodes(self, kind: str, method: str, args: tuple) -> int:
        """The bytecodes the canister's own code executes in one call. Meanwhile the message's instruction
        meter counts BYTECODE_INSTRUCTIONS per bytecode, not CPU time (which tracing inflates and a loaded
        machine varies), so a page that stops on its instruction budget stops at the same item every run."""
        count = 0

        def local(frame: Any, event: str, arg: Any) -> Any:
            nonlocal count
            if event == "opcode":
                count += 1
            return local

        def tracer(frame: Any, event: str, arg: Any) -> Any:
            if not frame.f_code.co_filename.startswith(SOURCE):
                return None
            frame.f_trace_opcodes = True
            return local

        host = self.host
        host.performance_counter = lambda counter_type: count * BYTECODE_INSTRUCTIONS
        sys.settrace(tracer)
        try:
            self.call(kind, method, args)
        finally:
            sys.settrace(None)
            del host.performance_counter
        return count


@dataclass
class Case:
    name: str
    method: str
    args: Callable[[int, int], tuple]
    # run once on each backend before the case's calls, given `call(method, args)` (an update as the admin)
    prepare: Callable[[Callable[[str, tuple], Any]], None] | None = None


def dump_page_for_restore(canister: CpythonCanister, n: int, v: int) -> str:
    """A dump page of 100 items, renumbered past the existing ids (a restore of new records)."""
    page = canister.call("query", "dump", (None, 100))["Ok"]
    data = json.loads(page["data"])
    records = [r for r in data["records"] if r.get("type") == ITEM and "id" in r][:100]
    for k, r in enumerate(records):
        r["id"] = n + 10_000 + 100 * v + k
        r["fields"]["sku"] = f"restored-{n}-{v}-{k}"
        r.pop("links", None)
    data["records"] = records
    data.pop("schema", None)
    return json.dumps(data)


def principal(v: int) -> Principal:
    return Principal(bytes=hashlib.sha224(b"bench-admin-%d" % v).digest() + b"\x02")


def cases(restore_data: list[str]) -> list[Case]:
    """Every endpoint; `args(n, v)` gives the arguments of run `v` (0 to 3) at size `n`, a fresh change each
    run for the updates (RustPython runs 0 and 1, CPython timing 2 and bytecodes 3)."""
    name_filter = [{"name": "name", "value": {"Text": "item-7"}}]
    one_field = [{"name": "qty", "value": {"Int": 1}}]
    return [
        Case("create", "create", lambda n, v: (ITEM, item_fields(n + 10 + v))),
        Case("get", "get", lambda n, v: (ITEM, n // 2)),
        Case("find (alias)", "find", lambda n, v: (ITEM, f"sku-{n // 2}")),
        Case("get_certified", "get_certified", lambda n, v: (SIGNED, SIGNED_COUNT // 2)),
        Case("find_certified", "find_certified", lambda n, v: (SIGNED, f"signed-{SIGNED_COUNT // 2}")),
        Case("list_certified (page of 100)", "list_certified", lambda n, v: (SIGNED, None, 100)),
        Case("update (one field)", "update", lambda n, v: (ITEM, n // 2 + v, one_field, None)),
        Case("create (certified)", "create",
             lambda n, v: (SIGNED, [{"name": "sku", "value": {"Text": f"signed-new-{v}"}}])),
        Case("update (certified, one field)", "update",
             lambda n, v: (SIGNED, SIGNED_COUNT // 4 + v, one_field, None)),
        Case("link", "link", lambda n, v: (TAG, 1, "items", n // 3 + v)),
        Case("unlink", "unlink", lambda n, v: (TAG, 1, "items", n // 3 + v)),
        Case(f"links (page of 100 of {TAGGED})", "links", lambda n, v: (TAG, 1, "items", None, 100)),
        Case("list (page of 100)", "list", lambda n, v: (ITEM, [], None, 100)),
        Case("list (filter, page of 100)", "list", lambda n, v: (ITEM, name_filter, None, 100)),
        Case("count", "count", lambda n, v: (ITEM, [])),
        Case("count (filter)", "count", lambda n, v: (ITEM, name_filter)),
        Case("query (startswith, order by name desc, page of 100)", "query",
             lambda n, v: (query_request([("name", "StartsWith", [{"Text": "item-1"}])], ("name", True)),)),
        Case("query (unindexed filter: 1,000 candidates)", "query",
             lambda n, v: (query_request([("qty", "Lt", [{"Int": 0}])], None),)),
        Case("query_count (range, index only)", "query_count",
             lambda n, v: (query_request([("name", "Between", [{"Text": "item-10"}, {"Text": "item-19"}])],
                                         None),)),
        Case("upsert (update by alias)", "upsert",
             lambda n, v: (ITEM, {"Text": f"sku-{n // 3 + v}"}, one_field)),
        Case("audit_query (newest first, one type, 100)", "audit_query",
             lambda n, v: ({"start": None, "newest_first": True, "type_name": ITEM, "id": None,
                            "caller": None, "limit": 100},)),
        Case("rebuild_indexes (100 entities)", "rebuild_indexes", lambda n, v: (ITEM, n // 2, 100)),
        Case("batch (100 creates)", "batch", lambda n, v: (creates(n + 1000 + 100 * v, 100),)),
        Case("batch (100 certified creates)", "batch", lambda n, v: (signed_creates(v, 100),)),
        Case("transfer", "transfer", lambda n, v: (ITEM, n // 4 + v, OTHER)),
        Case("delete", "delete", lambda n, v: (ITEM, n // 5 + v)),
        Case("audit (page of 100)", "audit", lambda n, v: (0, None, 100)),
        Case("icrc3_get_blocks (100)", "icrc3_get_blocks", lambda n, v: ([{"start": 0, "length": 100}],)),
        Case("icrc3_get_tip_certificate", "icrc3_get_tip_certificate", lambda n, v: ()),
        Case("icrc3_supported_block_types", "icrc3_supported_block_types", lambda n, v: ()),
        Case("icrc3_get_archives", "icrc3_get_archives", lambda n, v: ({"from_": None},)),
        Case("dump (page of 100)", "dump", lambda n, v: (None, 100)),
        Case("restore (100 records)", "restore", lambda n, v: (restore_data[v],)),
        Case(
            "define_type",
            "define_type",
            lambda n, v: (type_def(f"bench::Extra{n}x{v}", [field_def("x", "Int")]), False),
        ),
        Case("schema", "schema", lambda n, v: ()),
        Case("whoami", "whoami", lambda n, v: ()),
        Case("stats", "stats", lambda n, v: ()),
        Case("add_admin", "add_admin", lambda n, v: (principal(v),)),
        Case("admins", "admins", lambda n, v: ()),
        Case("remove_admin", "remove_admin", lambda n, v: (principal(v),)),
        Case(f"delete_continue (a step of {DELETE_SHARE:,} SetNull unlinks)", "delete_continue",
             lambda n, v: (HUB, 1), prepare=start_hub_delete),
    ]


def start_hub_delete(call: Callable[[str, tuple], Any]) -> None:
    """Delete the hub (its first step releases one share of its HUB_LEAVES links): a job is left that
    every `delete_continue` of the case carries on by a full step."""
    assert call("delete", (HUB, 1)) == {"Ok": None}


def build_state(state: Path, n: int, progress: bool, hub: bool = False) -> tuple[bytes, CpythonCanister]:
    """simple_db with `n` items and a tag linked to TAGGED of them (with `hub`, also a hub linked by
    HUB_LEAVES leaves), built under CPython in this process."""
    with Replica(state) as replica:
        cid = replica.deploy("simple_db", ENTRY, controllers=[ADMIN.bytes])
    canister = CpythonCanister(state / "localnet.sqlite3", cid)
    canister.call("update", "define_type", (ITEM_DEF, False))
    canister.call("update", "define_type", (TAG_DEF, False))
    canister.call("update", "define_type", (SIGNED_DEF, False))
    canister.call("update", "create", (TAG, [{"name": "label", "value": {"Text": "t"}}]))
    signed = [
        {"Create": {"type_name": SIGNED, "fields": [{"name": "sku", "value": {"Text": f"signed-{i}"}}]}}
        for i in range(1, SIGNED_COUNT + 1)
    ]
    assert "Ok" in canister.call("update", "batch", (signed,))
    if hub:     # before the items: the newest audit entries stay the items' and the tag's, as without it
        add_hub(canister)
    for start in range(1, n + 1, 100):
        result = canister.call("update", "batch", (creates(start, min(100, n + 1 - start)),))
        assert "Ok" in result, result
        if progress and start % 10_000 == 1:
            click.echo(f"  built {start - 1:,} of {n:,} entities", err=True)
    step = max(1, n // TAGGED)
    for i in range(1, n + 1, step):
        canister.call("update", "link", (TAG, 1, "items", i))
    store = StateStore(state / "localnet.sqlite3")
    store.commit(cid, canister.memory.take_writes(), time_ns=canister.time)
    store.close()
    return cid, canister


def add_hub(canister: CpythonCanister, leaves: int = HUB_LEAVES, batch: int = 100) -> None:
    """bench::Hub 1 with `leaves` bench::Leaf entities referring to it (SetNull: a delete clears them)."""
    for typedef in (HUB_DEF, LEAF_DEF):
        assert canister.call("update", "define_type", (typedef, False)) == {"Ok": None}
    assert "Ok" in canister.call("update", "batch", ([created(HUB, "hub", None)],))
    run_batches(canister, [created(LEAF, f"l{i}", ("hub", 1)) for i in range(leaves)], batch)


def run_batches(canister: CpythonCanister, ops: list, size: int = 100) -> None:
    """`ops` as consecutive `batch` calls of `size` operations, each answered Ok."""
    for start in range(0, len(ops), size):
        result = canister.call("update", "batch", (ops[start:start + size],))
        assert "Ok" in result, result


def instructions(log: Path, seen: int) -> tuple[dict[str, int], int]:
    text = log.read_text()
    counts = {m.group(2): int(m.group(3)) for m in LINE.finditer(text[seen:])}
    return counts, len(text)


def selected(all_cases: list[Case], only: str | None) -> list[Case]:
    """The cases whose method is in the comma-separated `only` (all of them without it)."""
    if not only:
        return all_cases
    methods = {m.strip() for m in only.split(",")}
    unknown = methods - {c.method for c in all_cases}
    if unknown:
        raise click.BadParameter(f"no case for {', '.join(sorted(unknown))}", param_hint="--only")
    return [c for c in all_cases if c.method in methods]


def measure_size(n: int, progress: bool, only: str | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="canister-wasm-") as tmp:
        state = Path(tmp)
        all_cases = selected(cases(["{}"] * 4), only)
        hub = any(c.prepare is start_hub_delete for c in all_cases)
        cid, canister = build_state(state, n, progress, hub)
        restore_data = [dump_page_for_restore(canister, n, v) for v in range(4)]
        all_cases = selected(cases(restore_data), only)
        with Replica(state, runtime="rustpython") as replica:
            replica.set_time(replica.time_ns())  # timers fire only when told: a queued delete waits
            log = replica.log_path(cid)
            counts, seen = instructions(log, 0)
            rows.append(
                {
                    "name": "post_upgrade (restart)",
                    "method": "post_upgrade",
                    "kind": "post_upgrade",
                    "instructions": counts.get("post_upgrade"),
                }
            )
            for case in all_cases:
                method = IFACE.methods[case.method]
                call = replica.query if method.kind == "query" else replica.update
                if case.prepare is not None:
                    case.prepare(lambda name, args: replica_call(replica, cid, name, args))
                    case.prepare(lambda name, args: canister.call("update", name, args))
                    counts, seen = instructions(log, seen)
                runs = []
                for v in (0, 1):  # the first call after the restart, then a warm one
                    arg = candid_codec.encode(method.params, list(case.args(n, v)), IFACE)
                    extra = {"data_certificate": CERTIFICATE} if method.kind == "query" else {}
                    outcome = call(cid, case.method, arg, ADMIN.bytes, **extra)
                    counts, seen = instructions(log, seen)
                    runs.append((counts.get(case.method), failed(method, outcome)))
                ns, warm_ns = canister.measure(method.kind, case.method, case.args(n, 2))
                bytecodes, _ = canister.measure(method.kind, case.method, case.args(n, 3), trace=True)
                rows.append(
                    {
                        "name": case.name,
                        "method": case.method,
                        "kind": method.kind,
                        "instructions": runs[1][0],
                        "first": runs[0][0],
                        "cpython_ns": ns,
                        "cpython_warm_ns": warm_ns,
                        "bytecodes": bytecodes,
                        "error": runs[1][1],
                    }
                )
        covered = {c.method for c in all_cases} | {"install", "before_upgrade", "after_upgrade"}
        for name in [] if only else IFACE.methods:
            if name not in covered:
                rows.append(
                    {"name": name, "method": name, "kind": IFACE.methods[name].kind, "instructions": None}
                )
    return rows


def replica_call(replica: Replica, cid: bytes, method: str, args: tuple) -> Any:
    """The decoded reply of `method` called as the admin on the replica's canister (a query with
    CERTIFICATE, as the HTTP gateway calls one), or its Reject."""
    types = IFACE.methods[method]
    arg = candid_codec.encode(types.params, list(args), IFACE)
    if types.kind == "query":
        outcome = replica.query(cid, method, arg, ADMIN.bytes, data_certificate=CERTIFICATE)
    else:
        outcome = replica.update(cid, method, arg, ADMIN.bytes)
    if isinstance(outcome, Reject):
        return outcome
    return candid_codec.decode(outcome.arg, types.returns, IFACE)[0]


def failed(method: Any, outcome: Any) -> bool:
    """Whether the call was rejected or answered `Err` (the case is then not the intended work)."""
    if isinstance(outcome, Reject):
        return True
    reply = candid_codec.decode(outcome.arg, method.returns, IFACE)
    return bool(reply) and isinstance(reply[0], dict) and "Err" in reply[0]


def limit_of(kind: str) -> int:
    return rustpython_runtime.LIMITS.get(kind, rustpython_runtime.UPDATE_LIMIT)


def render(results: dict[int, list[dict[str, Any]]]) -> str:
    sizes = sorted(results)
    names = [r["name"] for r in results[sizes[0]]]
    by = {n: {r["name"]: r for r in results[n]} for n in sizes}
    head = "| endpoint | kind | " + " | ".join(f"wasm instr. at {n:,}" for n in sizes)
    head += " | IC limit | bytecodes at " + f"{sizes[-1]:,}" + " | % of limit at " + f"{sizes[-1]:,} |"
    lines = [head, "|" + " --- |" * (len(sizes) + 5)]
    ratios = []
    for name in names:
        rows = [by[n].get(name, {}) for n in sizes]
        last = rows[-1]
        kind = last.get("kind", "")
        cells = []
        for r in rows:
            v = r.get("instructions")
            cells.append(
                "no case" if v is None else f"{v / 1e6:,.1f}M" + (" (Err)" if r.get("error") else "")
            )
            if v and r.get("cpython_ns"):
                ratios.append(v / r["cpython_ns"])
        limit = limit_of(kind)
        used = last.get("instructions")
        share = f"{used / limit * 100:.2f}%" if used else ""
        code = f"{last['bytecodes']:,}" if last.get("bytecodes") is not None else ""
        lines.append(
            f"| {name} | {kind} | " + " | ".join(cells) + f" | {limit / 1e9:g}B | {code} | {share} |"
        )
    if ratios:
        lines.append("")
        lines.append(
            f"wasm instructions per CPython ns (localnet's CPython clock uses {INSTRUCTIONS_PER_NS}):"
        )
        timed = [r for n in sizes for r in results[n] if r.get("cpython_ns") and r.get("instructions")]
        for label, key in (("first call", "cpython_ns"), ("warm (best of three queries)", "cpython_warm_ns")):
            each = [r["instructions"] / r[key] for r in timed if r.get(key)]
            whole = sum(r["instructions"] for r in timed if r.get(key)) / sum(
                r[key] for r in timed if r.get(key)
            )
            lines.append(
                f"- {label}: median {statistics.median(each):.1f} "
                f"(range {min(each):.1f} to {max(each):.1f}), {whole:.1f} over the sum of all calls"
            )
    return "\n".join(lines)


@click.command()
@click.option("--sizes", default="1000,100000", show_default=True, help="Entity counts, comma-separated.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the figures as JSON.")
@click.option("--only", help="Only these methods, comma-separated (e.g. create,get,update): a quick look.")
def main(sizes: str, json_out: str | None, only: str | None) -> None:
    """Print the wasm instructions of every endpoint at each size, next to the IC's limits."""
    if not rustpython_runtime.available():
        click.echo(f"canister_wasm: skipped. {rustpython_runtime.HOW_TO_GET}")
        return
    results = {}
    for n in (int(s) for s in sizes.split(",")):
        started = time.time()
        results[n] = measure_size(n, progress=n >= 10_000, only=only)
        click.echo(f"  {n:,} entities measured in {time.time() - started:.0f} s", err=True)
    if json_out:
        Path(json_out).write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1))
    click.echo("simple_db endpoints on Kybra's RustPython (wasm instructions per message, localnet runtime)")
    click.echo(render(results))


if __name__ == "__main__":
    main()
