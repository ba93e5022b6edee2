"""The engine benchmark: `python -m benchmarks.engine [--n 10000] [--json out.json]`.

Runs the same workload (benchmarks/workload/) on this project's engine and on the upstream
`kybra-simple-db==0.5.0` and `ic-python-db==0.12.0`, each in its own subprocess and environment,
one after the other in the same run, then prints the figures, the ratios and the targets of issue 2.
"""

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional

import click

from benchmarks.engine_report import render
from benchmarks.upstream.envs import EnvError, ensure_env
from benchmarks.workload.adapters import PACKAGES
from benchmarks.workload.phases import Sizes

ROOT = Path(__file__).resolve().parent.parent


def run_package(
    package: str,
    python: str,
    sizes: Sizes,
    mode: str = "counts",
    profile: str | None = None,
    profile_out: Path | None = None,
) -> dict[str, Any]:
    """Run the workload on one package in a subprocess; a crash becomes an `error` entry."""
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [python, "-m", "benchmarks.workload.run", "--package", package, "--out", str(out)]
        cmd += ["--mode", mode]
        for f in fields(Sizes):
            cmd += [f"--{f.name.replace('_', '-')}", str(getattr(sizes, f.name))]
        if profile:
            cmd += ["--profile", profile, "--profile-out", str(profile_out)]
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="0")
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            return {"package": package, "error": " / ".join(tail) or f"exit {done.returncode}"}
        return json.loads(out.read_text())


def interpreter_for(package: str, bench_dir: Optional[Path]) -> str:
    """Ours runs on the project's interpreter; each upstream package on its own environment's."""
    if package == "ours":
        return sys.executable
    return str(ensure_env(package, bench_dir))


TIMING_KEYS = ("seconds", "rate", "us_per_op", "first_rate", "last_rate")


def merge_runs(counted: dict[str, Any], timed: list[dict[str, Any]]) -> dict[str, Any]:
    """One package's result: storage counts from its counting run, times from its timing runs.

    Per phase the fastest timing run is kept (the one least disturbed by the machine's other
    work); counts are deterministic, so one counting run gives them exactly.
    """
    merged = dict(counted)
    if "phases" not in merged:
        return merged
    merged["phases"] = {name: dict(figures) for name, figures in counted["phases"].items()}
    merged["errors"] = dict(counted.get("errors") or {})
    merged["mode"] = "counts+timing"
    merged["runs"] = len(timed)
    for name, figures in merged["phases"].items():
        candidates = [run["phases"][name] for run in timed if name in run.get("phases", {})]
        for key in TIMING_KEYS:
            figures.pop(key, None)
        if candidates:
            fastest = max(candidates, key=lambda c: c["rate"])
            figures.update({k: fastest[k] for k in TIMING_KEYS if k in fastest})
    for run in timed:
        for name, message in (run.get("errors") or {}).items():
            merged["errors"].setdefault(name, f"timing run: {message}")
        if "error" in run:
            merged["errors"].setdefault("timing", run["error"])
    return merged


def run_all(
    packages: list[str],
    sizes: Sizes,
    bench_dir: Optional[Path],
    repeat: int = 1,
    profile: str | None = None,
    profile_out: Path | None = None,
    echo=click.echo,
) -> dict[str, dict[str, Any]]:
    """Results of every package, keyed by package name, all measured in this run.

    Each package has one counting run, then `repeat` timing runs; the packages take turns, so a
    burst of load on the machine hits them alike.
    """
    pythons: dict[str, str] = {}
    results: dict[str, dict[str, Any]] = {}
    for package in packages:
        try:
            pythons[package] = interpreter_for(package, bench_dir)
        except EnvError as exc:
            results[package] = {"package": package, "error": str(exc)}
    counted: dict[str, dict[str, Any]] = {}
    timed: dict[str, list[dict[str, Any]]] = {p: [] for p in pythons}
    for package, python in pythons.items():
        echo(f"counting storage calls: {package} ...", err=True)
        counted[package] = run_package(package, python, sizes, "counts")
    for turn in range(repeat):
        for package, python in pythons.items():
            echo(f"timing run {turn + 1}/{repeat}: {package} ...", err=True)
            wants_profile = profile if package == "ours" and turn == 0 else None
            timed[package].append(run_package(package, python, sizes, "timing", wants_profile, profile_out))
    for package in pythons:
        results[package] = merge_runs(counted[package], timed[package])
    return {p: results[p] for p in packages}


def sizes_options(func):
    """One `--name` option per workload size, defaulting to the issue's sizes."""
    for f in reversed(fields(Sizes)):
        func = click.option(
            f"--{f.name.replace('_', '-')}",
            f.name,
            type=click.IntRange(min=1),
            default=f.default,
            show_default=True,
        )(func)
    return func


@click.command(help=__doc__)
@sizes_options
@click.option(
    "--packages",
    default=",".join(PACKAGES),
    show_default=True,
    help="comma-separated subset of: " + ", ".join(PACKAGES),
)
@click.option(
    "--bench-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="where the upstream virtual environments live (default: the shared cache, see upstream/envs.py)",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="timing runs per package, taking turns; each phase reports its fastest run",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(path_type=Path, allow_dash=True),
    default=None,
    help="also write the raw results as JSON to this file ('-' for stdout, then no table)",
)
@click.option(
    "--profile",
    type=click.Choice(["create", "get_by_id", "get_by_alias", "update", "delete", "page", "link", "unlink"]),
    default=None,
    help="profile this phase of our engine with cProfile",
)
@click.option(
    "--profile-out", type=click.Path(path_type=Path), default=Path("engine-profile.txt"), show_default=True
)
def main(
    packages: str,
    bench_dir: Optional[Path],
    repeat: int,
    json_out: Path | None,
    profile: str | None,
    profile_out: Path,
    **size_args: int,
) -> None:
    chosen = [p.strip() for p in packages.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PACKAGES]
    if unknown or not chosen:
        raise click.BadParameter(
            f"unknown package(s) {unknown}; choose from {', '.join(PACKAGES)}", param_hint="--packages"
        )
    sizes = Sizes(**size_args)
    try:
        sizes.validate()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    results = run_all(chosen, sizes, bench_dir, repeat, profile, profile_out.resolve())
    if json_out is not None:
        text = json.dumps(results, indent=1)
        if str(json_out) == "-":
            click.echo(text)
            return
        json_out.write_text(text)
    click.echo(render(results))
    if profile and "ours" in chosen:
        click.echo(f"profile of our '{profile}' phase: {profile_out}", err=True)


if __name__ == "__main__":
    main()
