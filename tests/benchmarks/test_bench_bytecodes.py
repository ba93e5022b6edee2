"""`python -m benchmarks.bytecodes` on a small size: every operation is counted, and counts repeat."""

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.bytecodes import OPERATIONS, render
from benchmarks.workload.bytecode_run import count_opcodes

ROOT = Path(__file__).resolve().parents[2]


def test_counts_are_exact_and_repeat():
    def work():
        return sum(i * i for i in range(50))

    first = count_opcodes(work)
    assert first > 50 and count_opcodes(work) == first


def test_ours_is_counted_for_every_operation(tmp_path):
    out = tmp_path / "bytecodes.json"
    cmd = [sys.executable, "-m", "benchmarks.bytecodes", "--packages", "ours", "--sizes", "400,800",
           "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert [r["size"] for r in results] == [400, 800]
    for result in results:
        assert set(result["bytecodes"]) == set(OPERATIONS)
        assert all(count > 0 for count in result["bytecodes"].values())
    assert "page_of_100" in done.stdout and "ours grows?" in done.stdout
    assert "error" in render([{"package": "ours", "size": 400, "error": "boom"}], [400])


def test_profile_splits_an_operation_by_function():
    by_function = {}

    def work():
        return sorted(str(i) for i in range(20))

    total = count_opcodes(work, by_function)
    assert total == count_opcodes(work) and sum(by_function.values()) == total
    assert any(name.endswith(":work") for name in by_function)
    cmd = [sys.executable, "-m", "benchmarks.bytecodes", "--sizes", "400", "--profile", "update_one_field",
           "--top", "5"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("update_one_field:") and len(lines) == 6
    assert "db_entity.py:" in done.stdout


def test_the_rustpython_json_path_counts_json_texts_bytecodes():
    def run(*extra):
        cmd = [sys.executable, "-m", "benchmarks.bytecodes", "--packages", "ours", "--sizes", "400",
               "--profile", "create", *extra]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "json_text.py:" not in run()
    assert "json_text.py:" in run("--rustpython-json")
