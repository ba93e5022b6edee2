"""`python -m benchmarks.index_spread` on a tiny state under Kybra's RustPython, so the harness never rots:
every message of every phase is measured and answered Ok."""

import pytest

from benchmarks.index_spread import in_index_order, measure, plan
from localnet import rustpython_runtime


def test_the_plan_moves_and_deletes_entities_that_follow_each_other_in_the_index():
    assert in_index_order(120, "item-1", 4) == [1, 51, 101, 10]
    phases = [phase for phase, _method, _args in plan(120, 2, 3, 4)]
    assert phases == ["create"] * 2 + ["move in"] * 3 + ["move out"] * 3 + ["delete"] * 4


@pytest.mark.skipif(not rustpython_runtime.available(), reason="Kybra's RustPython runtime is not here")
def test_each_message_of_a_small_state_is_measured():
    costs = measure(60, 2, 2, 3)
    sizes = {phase: len(c) for phase, c in costs.items()}
    assert sizes == {"create": 2, "move in": 2, "move out": 2, "delete": 3}
    assert all(1_000_000 < c < 40_000_000_000 for phase in costs.values() for c in phase)
