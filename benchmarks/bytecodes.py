"""Python bytecodes executed per operation: `python -m benchmarks.bytecodes [--sizes 1000,10000]`.

Deterministic cost figures for Kybra's RustPython, where every step is interpreted bytecode (the
wall clock on CPython hides that: C helpers such as json's encoder are free there). Each package
runs in its own subprocess and environment (ours on this interpreter, or the engine under
`--ours-src`; kybra-simple-db 0.5.0 and ic-python-db 0.12.0 in the cached environments of
benchmarks/upstream/envs.py), at every size, and the table shows the counts, whether any grows with
size, and the targets of issue 8.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import click

from benchmarks.upstream.envs import EnvError, ensure_env

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ("create", "get_cold", "get_by_alias", "update_one_field", "link", "unlink", "delete",
              "page_of_100")
TARGETS = {"update_one_field": 800, "delete": 1200, "page_of_100": 70_000}
GROWTH_TOLERANCE = 0.05     # counts within 5% at 10x the entities do not "grow"


def run_one(package: str, size: int, ours_src: Optional[Path], profile: str = "",
            rustpython_json: bool = False) -> dict:
    """One package at one size in a subprocess (a crash becomes an `error` entry); `profile` names
    operations whose opcodes are also counted per function; `rustpython_json` runs our engine without
    json's C encoder (its path on Kybra's RustPython)."""
    python = sys.executable if package == "ours" else str(ensure_env(package))
    path = [str(ROOT)]
    if package == "ours" and ours_src is not None:
        path.insert(0, str(ours_src))
    with tempfile.TemporaryDirectory(prefix="bytecodes-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [python, "-m", "benchmarks.workload.bytecode_run", "--package", package, "--size", str(size),
               "--out", str(out)]
        if profile:
            cmd += ["--profile", profile]
        if rustpython_json and package == "ours":
            cmd.append("--rustpython-json")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), PYTHONHASHSEED="0")
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return {"package": package, "size": size, "error": " / ".join(tail)}
        return json.loads(out.read_text())


def render(results: list, sizes: list, targets: Optional[dict] = None) -> str:
    """The table: one row per operation, one column per package and size, then growth and targets."""
    packages = []
    for r in results:
        if r["package"] not in packages:
            packages.append(r["package"])
    by_key = {(r["package"], r["size"]): r for r in results}
    head = ["operation"] + [f"{p} @{s:,}" for p in packages for s in sizes] + ["ours grows?", "target"]
    rows = [head]
    for op in OPERATIONS:
        row = [op]
        for p in packages:
            for s in sizes:
                r = by_key.get((p, s), {})
                row.append(f"{r['bytecodes'][op]:,}" if "bytecodes" in r else "error")
        ours = [by_key.get(("ours", s), {}).get("bytecodes", {}).get(op) for s in sizes]
        grows = "?" if None in ours else (
            "yes" if ours[-1] > ours[0] * (1 + GROWTH_TOLERANCE) else "no")
        target = (TARGETS if targets is None else targets).get(op)
        if target is None:
            verdict = ""
        elif None in ours:
            verdict = f"<= {target:,} ?"
        else:
            verdict = f"<= {target:,} " + ("met" if max(ours) <= target else "MISSED")
        rows.append(row + [grows, verdict])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    errors = [f"{r['package']} @{r['size']}: {r['error']}" for r in results if "error" in r]
    return "\n".join(lines + errors)


def render_profile(result: dict, top: int) -> str:
    """Each profiled operation's total, then its `top` functions by opcodes (file:function)."""
    if "error" in result:
        return f"error: {result['error']}"
    lines = []
    for op, functions in result["profile"].items():
        lines.append(f"{op}: {result['bytecodes'][op]:,} opcodes at {result['size']:,} entities")
        for name, count in functions[:top]:
            lines.append(f"  {count:>7,}  {name}")
    return "\n".join(lines)


@click.command()
@click.option("--sizes", default="1000,10000", help="entity counts, comma-separated")
@click.option("--packages", default="ours,kybra-simple-db,ic-python-db")
@click.option("--ours-src", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="measure the engine in this source directory (e.g. an older checkout's canister/src)")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None)
@click.option("--profile", default="", metavar="OPERATIONS",
              help="instead of the table: our engine's opcodes per function for these operations "
                   "(comma-separated, e.g. update_one_field,delete) at the first size")
@click.option("--top", default=30, show_default=True, help="functions listed per profiled operation")
@click.option("--rustpython-json", is_flag=True,
              help="our engine without json's C encoder, as on Kybra's RustPython (json_text counts)")
def main(sizes: str, packages: str, ours_src: Optional[Path], json_out: Optional[Path], profile: str,
         top: int, rustpython_json: bool) -> None:
    size_list = [int(s) for s in sizes.split(",") if s.strip()]
    if profile:
        unknown = [op for op in profile.split(",") if op not in OPERATIONS]
        if unknown:
            raise click.BadParameter(f"unknown operations {unknown}; choose from {', '.join(OPERATIONS)}")
        result = run_one("ours", size_list[0], ours_src, profile, rustpython_json)
        click.echo(render_profile(result, top))
        return
    results = []
    for package in [p.strip() for p in packages.split(",") if p.strip()]:
        for size in size_list:
            try:
                results.append(run_one(package, size, ours_src, rustpython_json=rustpython_json))
            except EnvError as e:
                results.append({"package": package, "size": size, "error": str(e)})
    # issue 8's targets are for the default run (json's C encoder, as in the issue)
    click.echo(render(results, size_list, {} if rustpython_json else None))
    if json_out:
        json_out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
