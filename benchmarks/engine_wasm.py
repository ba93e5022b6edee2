"""Wasm instructions per engine operation under Kybra's RustPython: `python -m benchmarks.engine_wasm`.

Runs benchmarks/engine_wasm_guest.py inside the interpreter (benchmarks/wasm_meter.py) and prints
one line per operation with its wasm instructions, next to the IC's per-message limits and the
targets of issue 14. `--growth` adds the cases that used to grow with the data (a delete with
100,000 links, a 10,000-deep cascade chain, ...); they take minutes. `--dump-links N` runs the
canister's `dump` and `restore` of a group with N ManyToMany links, page by page (pages, the average
and the worst page against the query / update limit; with --growth, after the growth cases). Without
the runtime on this machine it says so and exits 0.
"""

import json
import sys
from pathlib import Path
from typing import Any

import click

from benchmarks.wasm_meter import RUNTIME_ENV, run_metered, runtime_dir

ROOT = Path(__file__).resolve().parent.parent
GUEST = Path(__file__).resolve().parent / "engine_wasm_guest.py"
UPDATE_LIMIT = 40_000_000_000
QUERY_LIMIT = 5_000_000_000
TARGETS = {"create": 5_000_000, "get": 2_500_000, "update_loaded": 5_000_000, "get_and_update": 5_000_000,
           "service_create": 5_000_000, "service_get": 2_500_000, "service_update": 5_000_000}


def guest_paths() -> list[Path]:
    """sys.path of the guest: the canister's sources and Kybra's pure-Python Principal."""
    import kybra

    return [ROOT / "canister" / "src", Path(kybra.__file__).parent / "compiler" / "custom_modules"]


def run_case(*args: Any) -> list[dict[str, Any]]:
    """Run one guest case; the figures it printed, one dict per operation."""
    code, _, out = run_metered(GUEST, guest_paths(), tuple(args))
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if code != 0:
        raise click.ClickException(f"guest case {args} exited {code}; output: {out[-500:]}")
    return rows


def describe(row: dict[str, Any]) -> str:
    figure = row["instructions"]
    extra = ", ".join(f"{k}={v}" for k, v in row.items()
                      if k not in ("op", "instructions", "samples", "worst", "limit"))
    if "worst" in row and "limit" in row:
        worst, limit = row["worst"], row["limit"]
        extra += f", worst {worst / 1e6:,.1f}M = {worst / limit:.2%} of {limit / 1e9:.0f}B"
    target = TARGETS.get(row["op"])
    verdict = ""
    if target is not None:
        verdict = f"  target <= {target / 1e6:.1f}M: {'met' if figure <= target else 'MISSED'}"
    share = f"{figure / UPDATE_LIMIT:.5%} of 40B"
    extra = ", " + extra if extra else ""
    return f"{row['op']:<28}{figure / 1e6:>12,.2f}M  ({share}; n={row['samples']}{extra}){verdict}"


@click.command()
@click.option("--n", default=1000, show_default=True, help="entities stored before measuring")
@click.option("--samples", default=50, show_default=True, help="operations averaged per figure")
@click.option("--growth", is_flag=True, help="also the growth cases (100,000 links, 10,000-deep cascade)")
@click.option("--steps", is_flag=True, help="only the deletes continued across messages (chain, links)")
@click.option("--links", default=100_000, show_default=True)
@click.option("--depth", default=10_000, show_default=True)
@click.option("--budget", default=0, help="delete budget for the growth cases (0: the engine's default)")
@click.option("--count-size", default=20_000, show_default=True, help="entities for the filtered count")
@click.option("--dump-links", default=0,
              help="dump and restore a group with this many links, page by page (alone: only this case)")
@click.option("--dump-cap", default=0, help="link ids per dump page for --dump-links (0: the engine's 5,000)")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="write the rows as JSON too")
def main(n: int, samples: int, growth: bool, steps: bool, links: int, depth: int, budget: int,
         count_size: int, dump_links: int, dump_cap: int, json_out: str | None) -> None:
    if runtime_dir() is None:
        print(f"engine_wasm: Kybra's RustPython runtime not found (set ${RUNTIME_ENV}); skipped.")
        return
    only = (steps or dump_links) and not growth
    rows = [] if only else run_case("basic", n, samples) + run_case("service", n, samples)
    if growth:
        rows += run_case("gap", 10_000_000) + run_case("count", count_size)
        rows += run_case("links", links, budget) + run_case("cascade", depth, budget)
    if growth or steps:
        rows += run_case("cascade_steps", depth, budget) + run_case("service_cascade_steps", depth)
        rows += run_case("links_steps", links, budget)
    if dump_links:
        rows += run_case("dump_links", dump_links, dump_cap)
    stored = "" if only else f"{n} entities stored; "
    print(f"Wasm instructions per operation under Kybra's RustPython ({stored}"
          f"IC limits: update {UPDATE_LIMIT / 1e9:.0f}B, query {QUERY_LIMIT / 1e9:.0f}B)")
    for row in rows:
        print("  " + describe(row))
    if json_out:
        Path(json_out).write_text(json.dumps(rows, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
