"""The JS agent (@icp-sdk/core 6.1.0) against the HTTP interface: updates with certificates, queries
with node signatures verified, anonymous and Ed25519. `make setup` installs the agent under .tools;
JS_AGENT_NODE_MODULES may name another node_modules folder that has it."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fake_replica import FakeReplica

REPO = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).parent / "js_agent_counter.mjs"
MODULES = Path(os.environ.get("JS_AGENT_NODE_MODULES") or REPO / ".tools" / "node_modules")


@pytest.mark.skipif(
    shutil.which("node") is None or not (MODULES / "@icp-sdk" / "core").is_dir(),
    reason="needs node and @icp-sdk/core under .tools/node_modules",
)
def test_js_agent_update_and_query(localnet, tmp_path):
    net = localnet({"counter": "counter.py"}, replica_factory=FakeReplica)
    script = tmp_path / SCRIPT.name
    script.write_text(SCRIPT.read_text())
    (tmp_path / "node_modules").symlink_to(MODULES)
    result = subprocess.run(
        ["node", str(script), net.url, net.canister_id("counter")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == ["inc 1n", "get 1n", "whoami 2vxsx-fae"]
    assert lines[4:6] == ["inc 2n", "get 2n"]
    assert all("Reject code: 5" in line for line in (lines[3], lines[7]))
