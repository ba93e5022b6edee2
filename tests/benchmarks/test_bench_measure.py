"""The measuring loop: exact per-operation counts, block marks, and wrong results failing the phase."""

import pytest

from benchmarks.workload.counting_map import Counters, CountingMap
from benchmarks.workload.measure import run_ops


def test_counting_run_records_each_operations_storage_calls():
    counters = Counters()
    m = CountingMap(counters)

    def op(i):
        for k in range(i):
            m.insert(f"k{k}", "v")
        return m.get("k0")

    stats = run_ops([1, 3, 2], op, counters)
    assert stats.ops == 3
    assert stats.writes == [1, 3, 2] and stats.reads == [1, 1, 1]
    assert stats.bytes_written == [3, 9, 6]
    summary = stats.summary()
    assert summary["writes"] == {"mean": 2.0, "median": 2, "max": 3}


def test_timing_run_marks_blocks_and_counts_nothing():
    counters = Counters()
    m = CountingMap(counters)
    stats = run_ops(list(range(10)), lambda i: m.insert(str(i), "v"), counters, marks=(3, 7), count=False)
    assert stats.writes == [] and counters.writes == 10
    assert set(stats.clock_at) == {0, 3, 7, 10}
    assert stats.clock_at[0] <= stats.clock_at[3] <= stats.clock_at[7] <= stats.clock_at[10]
    assert stats.block_rate(0, 3) >= 0 and stats.summary()["ops"] == 10


def test_a_wrong_result_fails_the_phase():
    def check(item, result):
        if result != item * 2:
            raise AssertionError(f"{item} gave {result}")

    with pytest.raises(AssertionError, match="2 gave 5"):
        run_ops([1, 2], lambda i: 5 if i == 2 else i * 2, Counters(), check=check)
