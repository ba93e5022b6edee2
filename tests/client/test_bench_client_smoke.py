"""`python -m benchmarks.client` on a tiny workload, so the benchmark never rots (figures not asserted)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_client_benchmark_runs_and_round_trips():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.client", "--n", "30", "--batch", "10", "--page-size", "7"]
        + ["--cli-runs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "bulk insert" in result.stdout and "import" in result.stdout
    assert "identical to the source: True" in result.stdout
    assert "simpledb --help" in result.stdout and "simpledb get (loopback)" in result.stdout
