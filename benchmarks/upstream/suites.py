"""Run the original packages' own test suites, unchanged, against this project's engine.

    python -m benchmarks.upstream.suites PATH [PATH ...] [--engine ours|original] [--verbose]

PATH is a checkout of kybra-simple-db (e.g. tag v0.5.0 or v0.6.2: the suite is `tests/src/tests`,
run file by file the way its `tests/run_test.sh` does, with its own `Tester`) or a directory of
ic-python-db's pytest files. Nothing of theirs is copied here: the suites are read from PATH, and
each test file runs in its own process with `canister/src` first on the import path, so
`kybra_simple_db` (and `ic_python_db`) are this project's engine. `--engine original` runs the suite
on the checkout's own package instead (to see what the original passes). Prints per-file and total
pass/fail counts; the test files' only other imports come from the `suites` environment
(benchmarks/upstream/envs.py).
"""

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from benchmarks.upstream.envs import ensure_env

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "canister" / "src"
PASSED = re.compile(r"\] (test_\w+) passed")
FAILED = re.compile(r"\] (test_\w+) failed")
TIMEOUT = 300


def test_names(path: Path) -> list:
    """The `test_*` functions and methods a file defines (what its runner would run)."""
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
            names.append(node.name)
    return names


IC_ONLY = re.compile(r"^(import kybra\b|from kybra import)", re.M)
UPGRADE = ("test_upgrade_before.py", "test_upgrade_after.py")
UPGRADE_DRIVER = """
import importlib, sys
import kybra_simple_db as engine
storage = engine.MemoryStorage()
engine.Database._instance = None
engine.Database.init(audit_enabled=True, db_storage=storage)
failed = []
for name in ("test_upgrade_before", "test_upgrade_after"):
    if name.endswith("after"):     # the upgrade: a new process image over the same stable storage
        engine.Database._instance = None
        engine.Database.init(audit_enabled=True, db_storage=storage)
    try:
        importlib.import_module("tests." + name).run()
        print("] " + name + " passed")
    except Exception as e:
        print("] " + name + " failed: %r" % (e,))
"""


def tester_files(checkout: Path) -> list:
    """Every test file of a kybra-simple-db checkout except those that need a real canister (they
    import `kybra`), with how to run it: its own `Tester` (as `tests/run_test.sh` does), pytest (files
    written for pytest), or the upgrade pair in one process around a simulated upgrade."""
    out = []
    for path in sorted((checkout / "tests" / "src" / "tests").glob("test_*.py")):
        text = path.read_text()
        if IC_ONLY.search(text):
            continue
        if path.name == UPGRADE[0]:
            out.append((path, run_upgrade_pair))
        elif path.name == UPGRADE[1]:
            continue
        elif "__main__" in text:
            out.append((path, run_tester_file))
        else:
            out.append((path, run_checkout_pytest_file))
    return out


def run_upgrade_pair(python: str, path: Path, engine_path: Path) -> dict:
    """test_upgrade_before, an upgrade (a new Database over the same storage), test_upgrade_after."""
    src = path.parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(engine_path), "."]), PYTHONHASHSEED="0")
    done = subprocess.run([python, "-c", UPGRADE_DRIVER], cwd=src, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    output = done.stdout + done.stderr
    passed = PASSED.findall(output)
    failed = [n for n in ("test_upgrade_before", "test_upgrade_after") if n not in passed]
    return {"passed": passed, "failed": failed, "output": output}


def run_tester_file(python: str, path: Path, engine_path: Path) -> dict:
    """One kybra-simple-db test file as its runner does (`python tests/test_x.py` from tests/src)."""
    src = path.parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(engine_path), "."]), PYTHONHASHSEED="0")
    try:
        done = subprocess.run([python, str(path.relative_to(src))], cwd=src, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT)
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired:
        output, code = "timeout", -1
    passed = sorted(set(PASSED.findall(output)))
    failed = sorted(set(FAILED.findall(output)))
    names = test_names(path)
    if not passed and not failed:
        # no Tester output: an example script (one test: its exit code) or a file that did not import
        if not names:
            return {"passed": ["(script)"] if code == 0 else [], "failed": [] if code == 0 else ["(script)"],
                    "output": output}
        return {"passed": [], "failed": names, "output": output}
    missing = [n for n in names if n not in passed and n not in failed]
    return {"passed": passed, "failed": failed + missing, "output": output}


def run_pytest_file(python: str, path: Path, engine_path: Path, rootdir: Path = None) -> dict:
    """One pytest file, in its own process; results come from a JSON report (plugin suite_report)."""
    plugin = ROOT / "benchmarks" / "upstream"
    with tempfile.TemporaryDirectory(prefix="suite-") as tmp:
        report = Path(tmp) / "report.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(engine_path), str(plugin)]),
                   PYTHONHASHSEED="0", SUITE_REPORT=str(report))
        cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "suite_report", "-o",
               "addopts=", "--rootdir", str(rootdir or path.parent), str(path)]
        try:
            done = subprocess.run(cmd, cwd=path.parent, env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT)
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            output = "timeout"
        if not report.exists():
            return {"passed": [], "failed": test_names(path), "output": output}
        outcome = json.loads(report.read_text())
    missing = [n for n in test_names(path) if not any(k.split("::")[-1].split("[")[0] == n for k in outcome)]
    return {"passed": sorted(n for n, ok in outcome.items() if ok),
            "failed": sorted([n for n, ok in outcome.items() if not ok] + missing), "output": output}


def run_checkout_pytest_file(python: str, path: Path, engine_path: Path) -> dict:
    """A pytest-style file of a kybra-simple-db checkout (its conftest in tests/ applies)."""
    return run_pytest_file(python, path, engine_path, path.parents[2])


def suite_files(path: Path) -> list:
    """(file, runner) pairs of a checkout or a directory of pytest files."""
    if (path / "tests" / "src" / "tests").is_dir():
        return tester_files(path)
    if path.is_file():
        return [(path, run_pytest_file)]
    return [(f, run_pytest_file) for f in sorted(path.glob("test_*.py"))]


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--engine", type=click.Choice(["ours", "original"]), default="ours")
@click.option("--verbose", is_flag=True, help="print the names of failing tests and their output")
@click.option("--json-out", type=click.Path(path_type=Path), default=None)
def main(paths, engine, verbose, json_out) -> None:
    python = str(ensure_env("suites"))
    summary = {}
    for path in paths:
        path = path.resolve()
        engine_path = ENGINE if engine == "ours" else path
        total_pass = total_fail = 0
        click.echo(f"== {path} ({engine} engine)")
        for file, runner in suite_files(path):
            result = runner(python, file, engine_path)
            npass, nfail = len(result["passed"]), len(result["failed"])
            total_pass += npass
            total_fail += nfail
            click.echo(f"  {file.name:40} {npass:4} passed {nfail:4} failed")
            if verbose and nfail:
                for name in result["failed"]:
                    click.echo(f"      FAILED {name}")
            summary.setdefault(str(path), {})[file.name] = {"passed": result["passed"],
                                                            "failed": result["failed"]}
        click.echo(f"  {'TOTAL':40} {total_pass:4} passed {total_fail:4} failed "
                   f"of {total_pass + total_fail}")
    if json_out:
        json_out.write_text(json.dumps(summary, indent=1, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
