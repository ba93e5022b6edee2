"""scripts/same_bytes.py compares two versions of the canister by their traces: a workload over the same
source gives the same trace every time (no clock, randomness or order of its own leaks in), and the first
difference names the message and what differs."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import same_bytes  # noqa: E402


@pytest.mark.parametrize("mode", ["service", "engine", "index"])
def test_a_workload_over_the_same_source_gives_the_same_trace(mode):
    settings = {"SB_MODE": mode, "SB_SEED": "3", "SB_STEPS": "25", "SB_NATIVE": "0", "SB_TICK": "1"}
    first = same_bytes.trace(REPO / "canister" / "src", settings)
    assert len(first["trace"]) >= 25 and first["final"]
    assert same_bytes.first_difference(first, same_bytes.trace(REPO / "canister" / "src", settings)) is None


def test_the_first_difference_names_the_message_and_what_differs():
    base = {"trace": [[0, {"Ok": 1}, "aa", "d1"], [1, {"Ok": 2}, "bb", "d2"]], "final": {"db": []}}
    ours = {"trace": [[0, {"Ok": 1}, "aa", "d1"], [1, {"Ok": 2}, "bb", "d3"]], "final": {"db": []}}
    assert same_bytes.first_difference(base, ours)[:2] == (1, "stored maps")
    ours = {"trace": base["trace"], "final": {"db": [["k", "v"]]}}
    assert same_bytes.first_difference(base, ours)[:2] == ("end", "stored maps")
    assert same_bytes.first_difference(base, base) is None
