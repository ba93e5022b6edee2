"""The client benchmark: `python -m benchmarks.client [--n 10000] [--batch 100] [--page-size 100]`.

Starts a localnet with `simple_db`, bulk-inserts N entities through `SimpleDB.batch` (certified updates),
exports them with `export_to` (paged dump queries), imports the file into a fresh canister with
`import_from` (one restore update per page), checks the two dumps are identical, and prints times and
entities per second. Then times the `simpledb` command line as a shell script pays it: `simpledb --help`
and a whole `simpledb get` over loopback (a new process each run: imports, root key, query, node keys,
signature checks), as the median and best wall time and the median CPU time of the process.
Figures only: nothing here is asserted on timing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simple_db_client import Create, Ed25519Identity, FieldDef, Policy, SimpleDB, TypeDef

from localnet import LocalNet

ENTRY = Path(__file__).resolve().parents[1] / "canister" / "src" / "main.py"
ITEM = TypeDef(
    name="bench::Item",
    fields=[
        FieldDef("name", "Text", required=True),
        FieldDef("rank", "Int", indexed=True),
        FieldDef("score", "Float"),
        FieldDef("done", "Bool"),
    ],
    policy=Policy(read="Public", create="Anyone"),
)


def _row(label: str, count: int, seconds: float, unit: str = "entities") -> str:
    rate = count / seconds if seconds > 0 else float("inf")
    return f"{label:<34} {count:>7} {unit:<9} {seconds:>8.2f} s {rate:>10.1f} {unit}/s"


def _process_times(argv: list[str], runs: int) -> tuple[float, float, float]:
    """Median wall, best wall and median CPU (user + system) seconds of `argv` as a new process."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), min(walls), statistics.median(cpus)


def cli_rows(url: str, canister_id: str, identity_pem: Path, entity_id: int, runs: int) -> list[str]:
    """`simpledb --help` and `simpledb get` timed as new processes."""
    simpledb = str(Path(sys.executable).with_name("simpledb"))
    get = [simpledb, "--url", url, "--canister-id", canister_id, "--identity", str(identity_pem), "--local"]
    get += ["get", ITEM.name, str(entity_id), "--json"]
    lines = [f"load average while timing the command line: {os.getloadavg()[0]:.2f} (2 cores)"]
    for label, argv in (("simpledb --help", [simpledb, "--help"]), ("simpledb get (loopback)", get)):
        median, best, cpu = _process_times(argv, runs)
        lines.append(f"{label:<34} median {median:.3f} s, best {best:.3f} s wall; median CPU {cpu:.3f} s")
    return lines


def run(n: int, batch: int, page_size: int, cli_runs: int = 10) -> list[str]:
    """Run the workload; the report lines."""
    admin = Ed25519Identity()
    lines = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-client-") as tmp,
        LocalNet(state_dir=Path(tmp) / "state") as net,
    ):
        net.deploy("simple_db", ENTRY, controllers=[admin.principal.bytes])
        net.deploy("simple_db_copy", ENTRY, controllers=[admin.principal.bytes])
        source = SimpleDB(net.url, net.canister_id("simple_db"), admin, fetch_root_key=True)
        copy = SimpleDB(net.url, net.canister_id("simple_db_copy"), admin, fetch_root_key=True)
        source.define_type(ITEM)

        started = time.perf_counter()
        for first in range(0, n, batch):
            ops = [
                Create(ITEM.name, {"name": f"item {i}", "rank": i % 100, "score": i / 7, "done": i % 2 == 0})
                for i in range(first, min(n, first + batch))
            ]
            source.batch(ops)
        lines.append(_row(f"bulk insert (batches of {batch})", n, time.perf_counter() - started))

        singles = min(200, n)
        started = time.perf_counter()
        for i in range(singles):
            source.create(ITEM.name, {"name": f"single {i}", "rank": i})
        lines.append(_row("single create (one update each)", singles, time.perf_counter() - started))

        started = time.perf_counter()
        listed = sum(1 for _ in source.list(ITEM.name, page_size=page_size))
        lines.append(_row(f"list (pages of {page_size})", listed, time.perf_counter() - started))

        path = Path(tmp) / "export.jsonl"
        started = time.perf_counter()
        exported = source.export_to(path, page_size=page_size)
        pages = len(path.read_text().splitlines()) - 1
        seconds = time.perf_counter() - started
        lines.append(_row(f"export ({pages} pages, {path.stat().st_size // 1024} KiB)", exported, seconds))

        started = time.perf_counter()
        restored = copy.import_from(path)
        lines.append(_row(f"import ({pages} restore updates)", restored, time.perf_counter() - started))

        identical = list(source.dump(page_size)) == list(copy.dump(page_size))
        lines.append(f"dump of the copy identical to the source: {identical}")
        if cli_runs:
            pem = Path(tmp) / "admin.pem"
            pem.write_bytes(admin.to_pem())
            first_id = next(iter(source.list(ITEM.name, page_size=1))).id
            lines += cli_rows(net.url, str(source.canister_id), pem, first_id, cli_runs)
        source.close()
        copy.close()
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="entities to insert")
    parser.add_argument("--batch", type=int, default=100, help="operations per batch (canister cap: 100)")
    parser.add_argument("--page-size", type=int, default=100, help="dump/list page size (cap: 100)")
    parser.add_argument("--cli-runs", type=int, default=10, help="runs of each timed simpledb command")
    args = parser.parse_args(argv)
    print(f"client benchmark: {args.n} entities through SimpleDB on localnet")
    for line in run(args.n, args.batch, args.page_size, args.cli_runs):
        print(line, flush=True)


if __name__ == "__main__":
    main()
