"""`python -m benchmarks.create_spread` on a tiny state under Kybra's RustPython, so the harness never rots:
every create of both rounds (first per value since the restart, then again) is measured and the summary
counts them."""

import pytest

from benchmarks.create_spread import TARGET, measure, summary
from localnet import rustpython_runtime

pytestmark = pytest.mark.skipif(
    not rustpython_runtime.available(), reason="Kybra's RustPython runtime not on this machine"
)


def test_each_create_of_a_small_state_is_measured_in_both_rounds():
    cold, warm = measure(60, 3)
    for costs in (cold, warm):
        assert len(costs) == 3 and all(1_000_000 < c < 40_000_000_000 for c in costs)
        row = summary(costs)
        assert row["creates"] == 3 and row["min"] <= row["median"] <= row["max"]
        assert row["over_target"] == sum(1 for c in costs if c > TARGET)
