"""Per-operation timing and storage-call deltas, summarised for one phase of the workload."""

import cProfile
import time
from collections.abc import Callable, Iterable
from typing import Any, Optional

from .counting_map import Counters


class PhaseStats:
    """CPU time of one phase (and at chosen operation indices) and storage counts per operation.

    Time is process CPU time, not wall time: the benchmark shares its machine, and CPU time does
    not count the moments another process runs instead.
    """

    def __init__(self) -> None:
        self.ops = 0
        self.seconds = 0.0
        self.clock_at: dict[int, float] = {}
        self.reads: list[int] = []
        self.writes: list[int] = []
        self.bytes_written: list[int] = []
        self.scans: list[int] = []

    def block_rate(self, start: int, stop: int) -> float:
        """Operations per second over operations [start, stop) (both must be marked indices)."""
        total = self.clock_at[stop] - self.clock_at[start]
        return (stop - start) / total if total > 0 else 0.0

    def extend(self, other: "PhaseStats") -> None:
        self.ops += other.ops
        self.seconds += other.seconds
        for name in COUNTERS:
            getattr(self, name).extend(getattr(other, name))

    def summary(self) -> dict[str, Any]:
        ops, total = self.ops, self.seconds
        out: dict[str, Any] = {
            "ops": ops,
            "seconds": total,
            "rate": ops / total if total > 0 else 0.0,
            "us_per_op": total / ops * 1e6 if ops else 0.0,
        }
        for name in COUNTERS:
            values = getattr(self, name)
            out[name] = {
                "mean": sum(values) / len(values) if values else 0.0,
                "median": sorted(values)[len(values) // 2] if values else 0,
                "max": max(values) if values else 0,
            }
        return out


COUNTERS = ("reads", "writes", "bytes_written", "scans")


def run_ops(
    items: list[Any],
    op: Callable[[Any], Any],
    counters: Counters,
    profiler: Optional[cProfile.Profile] = None,
    check: Optional[Callable[[Any, Any], None]] = None,
    marks: Iterable[int] = (),
    count: bool = True,
) -> PhaseStats:
    """Run `op(item)` for each item; time the loop, and with `count` each operation's storage calls.

    A timing run (`count=False`) does nothing per operation but call it, so the harness adds no
    cost to what is timed; a counting run takes a counter snapshot around each operation. The
    clock is also read before the operations whose index is in `marks` (for block rates).
    `check(item, result)` validates every result after the loop, so a wrong answer fails the phase.
    """
    stats = PhaseStats()
    clock = time.process_time
    results: list[Any] = []
    snapshots: list[tuple[tuple, tuple]] = []
    bounds = sorted({0, len(items), *(m for m in marks if 0 < m < len(items))})
    if profiler is not None:
        profiler.enable()
    for lo, hi in zip(bounds, bounds[1:]):
        stats.clock_at[lo] = clock()
        if count:
            snap = counters.snapshot
            for item in items[lo:hi]:
                before = snap()
                results.append(op(item))
                snapshots.append((before, snap()))
        else:
            for item in items[lo:hi]:
                results.append(op(item))
    stats.clock_at[len(items)] = end = clock()
    if profiler is not None:
        profiler.disable()
    stats.ops = len(items)
    stats.seconds = end - stats.clock_at[0] if items else 0.0
    for before, after in snapshots:
        stats.reads.append(after[0] - before[0])
        stats.writes.append(after[1] - before[1])
        stats.bytes_written.append(after[2] - before[2])
        stats.scans.append(after[3] - before[3])
    if check is not None:
        for item, result in zip(items, results):
            check(item, result)
    return stats
