"""The engine's create at growing table sizes under Kybra's RustPython: `python -m benchmarks.create_growth`.

Issue 14 wants a create to stay under its target at 100,000 entities; what grows with the table is
the ordered index of the indexed field (a deeper tree, the value's stored count). Each size is built
under CPython (benchmarks/create_growth_model.py: the canister benchmark's `bench::Item`), its maps
saved, and benchmarks/create_growth_guest.py creates entities on them inside the interpreter
(benchmarks/wasm_meter.py): wasm instructions per create with a warm heap and a cold one, and the
storage reads and writes per create. Without the runtime on this machine it says so and exits 0.
"""

import json
import shutil
import tempfile
import time
from pathlib import Path

import click

from benchmarks.engine_wasm import guest_paths
from benchmarks.wasm_meter import RUNTIME_ENV, run_metered, runtime_dir

GUEST = Path(__file__).resolve().parent / "create_growth_guest.py"


def build(n: int, where: Path) -> None:
    """Create `n` items under CPython and save the maps to `where`."""
    from benchmarks import create_growth_model as model

    db, store, log = model.open_db()
    for i in range(1, n + 1):
        model.Item(**model.item_values(i))
    model.save(store, str(where / "db.txt"))
    model.save(log, str(where / "audit.txt"))
    shutil.copy(model.__file__, where)     # the guest imports it from there (on its path)


@click.command()
@click.option("--sizes", default="1000,100000", show_default=True, help="entity counts, comma-separated")
@click.option("--samples", default=20, show_default=True, help="creates averaged per figure")
def main(sizes: str, samples: int) -> None:
    if runtime_dir() is None:
        print(f"create_growth: Kybra's RustPython runtime not found (set ${RUNTIME_ENV}); skipped.")
        return
    print("engine create of bench::Item (indexed name of 50 values, alias sku) under Kybra's RustPython")
    for n in [int(s) for s in sizes.split(",")]:
        with tempfile.TemporaryDirectory(prefix="create-growth-") as tmp:
            started = time.monotonic()
            build(n, Path(tmp))
            built = time.monotonic() - started
            code, _, out = run_metered(GUEST, [Path(tmp)] + guest_paths(), (tmp, n, samples))
        if code != 0:
            raise click.ClickException(f"guest exited {code}: {out[-500:]}")
        for line in out.splitlines():
            row = json.loads(line)
            print(f"  {n:>9,} entities, {row['heap']} heap: {row['instructions'] / 1e6:6.2f}M per create, "
                  f"{row['reads']:.2f} reads, {row['writes']:.2f} writes (built in {built:.0f} s)")


if __name__ == "__main__":
    main()
