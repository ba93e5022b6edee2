"""`python -m benchmarks.engine` end to end on tiny sizes, so the harness never rots.

Runs all three packages (ours and both upstream ones, in their own environments in the shared
cache of benchmarks/upstream/envs.py, built once per machine and reused by every later run) and
checks that every phase produced figures. Figures are printed, never asserted on: speed is the
benchmark's business, not a test's.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--n", "60", "--ops", "20", "--block", "20", "--page-size", "5", "--link-ops", "10", "--links", "200"]
PACKAGES = ["ours", "kybra-simple-db", "ic-python-db"]
PHASES = {"create", "get_by_id", "get_by_alias", "update", "delete", "page", "link", "unlink", "m2m_capped"}


def bench(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "benchmarks.engine", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = bench(*TINY, "--packages", ",".join(PACKAGES), "--repeat", "2", "--json", str(out))
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(out.read_text())


def test_every_package_runs_every_phase(run):
    table, results = run
    assert set(results) == set(PACKAGES)
    for name, result in results.items():
        assert "error" not in result, f"{name}: {result.get('error')}"
        assert set(result["phases"]) == PHASES, f"{name}: {result['errors']}"
        assert set(result["errors"]) <= {"m2m_capped"}, f"{name}: {result['errors']}"
        create = result["phases"]["create"]
        assert create["ops"] == 60 and create["rate"] > 0 and create["first_rate"] > 0
        assert result["phases"]["page"]["ops"] == 4  # ops // page size
        assert result["runs"] == 2
    assert results["kybra-simple-db"]["version"] == "0.5.0"
    assert results["ic-python-db"]["version"] == "0.12.0"
    assert "Targets (issue 2)" in table and "ours / faster upstream" in table


def test_upstream_fails_at_the_value_cap(run):
    _, results = run
    for name in ("kybra-simple-db", "ic-python-db"):
        m2m = results[name]["phases"]["m2m_capped"]
        assert not m2m["ok"] and "exceeds max_value_size 1000" in m2m["error"]


def test_ours_keeps_every_link_under_the_value_cap(run):
    _, results = run
    ours = results["ours"]["phases"]["m2m_capped"]
    assert ours["ok"] and ours["links_done"] == 200, ours["error"]


def test_storage_counts_are_deterministic(run):
    _, first = run
    again = bench(*TINY, "--packages", "ours", "--repeat", "1", "--json", "-")
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)["ours"]
    for phase, figures in first["ours"]["phases"].items():
        for counter in ("reads", "writes", "bytes_written", "scans"):
            assert second["phases"][phase][counter] == figures[counter], (phase, counter)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "10", "--ops", "20"], "must be at least 2 * ops"),
        (["--n", "0"], "0 is not in the range x>=1"),
        (["--packages", "sqlite"], "unknown package"),
    ],
)
def test_bad_options_fail_with_a_clear_message(args, message):
    done = bench(*args)
    assert done.returncode == 2
    assert message in done.stderr
