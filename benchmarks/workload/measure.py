"""Per-operation timing and storage-call deltas, summarised for one phase of the workload."""

import cProfile
import time
from collections.abc import Callable, Iterable
from typing import Any, Optional

from .counting_map import Counters


class PhaseStats:
    """Times and storage-call counts of each operation of one phase."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.reads: list[int] = []
        self.writes: list[int] = []
        self.bytes_written: list[int] = []
        self.scans: list[int] = []

    def block_rate(self, start: int, stop: int) -> float:
        """Operations per second over operations [start, stop)."""
        total = sum(self.seconds[start:stop])
        return (stop - start) / total if total > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        ops = len(self.seconds)
        total = sum(self.seconds)
        out: dict[str, Any] = {
            "ops": ops,
            "seconds": total,
            "rate": ops / total if total > 0 else 0.0,
            "us_per_op": total / ops * 1e6 if ops else 0.0,
        }
        for name in ("reads", "writes", "bytes_written", "scans"):
            values = getattr(self, name)
            out[name] = {
                "mean": sum(values) / len(values) if values else 0.0,
                "median": sorted(values)[len(values) // 2] if values else 0,
                "max": max(values) if values else 0,
            }
        return out


def run_ops(
    items: Iterable[Any],
    op: Callable[[Any], Any],
    counters: Counters,
    profiler: Optional[cProfile.Profile] = None,
    check: Optional[Callable[[Any, Any], None]] = None,
) -> PhaseStats:
    """Run `op(item)` for each item, timing it and counting its storage calls.

    The counter snapshot is taken outside the timed span; `check(item, result)` validates the
    result (outside the timed span too) so a wrong answer fails the phase instead of being timed.
    """
    stats = PhaseStats()
    clock = time.perf_counter
    for item in items:
        before = counters.snapshot()
        if profiler is not None:
            profiler.enable()
        start = clock()
        result = op(item)
        elapsed = clock() - start
        if profiler is not None:
            profiler.disable()
        after = counters.snapshot()
        stats.seconds.append(elapsed)
        stats.reads.append(after[0] - before[0])
        stats.writes.append(after[1] - before[1])
        stats.bytes_written.append(after[2] - before[2])
        stats.scans.append(after[3] - before[3])
        if check is not None:
            check(item, result)
    return stats
