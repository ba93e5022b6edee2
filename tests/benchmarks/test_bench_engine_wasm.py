"""`python -m benchmarks.engine_wasm` on tiny sizes under Kybra's RustPython, so the harness never rots.

Skipped where the runtime is not on this machine (benchmarks/wasm_meter.py says how it is found).
Figures are printed by the benchmark, never asserted on here, except that every operation has one.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.wasm_meter import runtime_dir

ROOT = Path(__file__).resolve().parents[2]
OPS = {"create", "get", "get_by_alias", "update_loaded", "get_and_update", "link", "unlink", "page_of_100",
       "count_filtered", "dump_page_of_100", "json_text_decode_page_of_100", "delete", "restore_page_of_100",
       "service_create",
       "service_get", "service_update", "service_count_filtered", "delete_with_links_refused",
       "clear_links_page", "delete_after_clear_links", "cascade_chain_refused", "cascade_chain_delete",
       "restore_across_id_gap", "page_across_id_gap", "count_filtered_at_size", "delete_in_steps_chain",
       "service_delete_in_steps_chain", "delete_in_steps_links", "service_dump_links_page",
       "service_restore_links_page", "service_dump_sparse_links_page",
       "service_restore_page_sparse_links"}

pytestmark = pytest.mark.skipif(runtime_dir() is None,
                                reason="Kybra's RustPython runtime not on this machine")


def test_every_operation_has_a_figure(tmp_path):
    out = tmp_path / "rows.json"
    cmd = [sys.executable, "-m", "benchmarks.engine_wasm", "--n", "60", "--samples", "2", "--growth",
           "--links", "60", "--depth", "50", "--budget", "20",
           "--count-size", "50", "--dump-links", "60", "--dump-cap", "25", "--json", str(out)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    rows = json.loads(out.read_text())
    assert OPS <= {row["op"] for row in rows}
    assert all(row["instructions"] > 0 for row in rows)
    dumped = next(row for row in rows if row["op"] == "service_dump_links_page")
    assert dumped["pages"] >= 3        # 60 links, 25 a page: continuation records, restored page by page
