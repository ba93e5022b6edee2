"""`python -m benchmarks.create_growth` on tiny sizes under Kybra's RustPython, so the harness never rots.

Skipped where the runtime is not on this machine. Figures are printed, never asserted on here.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.wasm_meter import runtime_dir

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(runtime_dir() is None,
                                reason="Kybra's RustPython runtime not on this machine")


def test_each_size_and_heap_has_a_figure():
    cmd = [sys.executable, "-m", "benchmarks.create_growth", "--sizes", "40,120", "--samples", "2"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    rows = re.findall(r"(\d+) entities, (warm|cold) heap: +([\d.]+)M per create", done.stdout)
    assert [(n, heap) for n, heap, _ in rows] == [("40", "warm"), ("40", "cold"), ("120", "warm"),
                                                  ("120", "cold")]
    assert all(float(figure) > 0 for _, _, figure in rows)
