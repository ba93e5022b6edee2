"""Paces the reads of a scanning call by instructions, so it stops before the IC's query limit.

A candidate's cost varies with its size (a 256 KB entity costs ~50M instructions to load, a small one
~1.5M), so a fixed candidate budget cannot bound a call: the pacer measures the cost of the reads so far
and sizes the next engine call to what the instruction allowance has left.
"""


class ScanPacer:
    """`meter()` is the message's instructions so far (None: no meter, fixed `chunk`s); `limit` the
    allowance for reads; `chunk` the most candidates one engine call may examine."""

    def __init__(self, meter, limit: int, chunk: int, first: int = 10):
        self.meter = meter
        self.limit = limit
        self.chunk = chunk
        self.first = min(first, chunk)  # the first call's candidates, before any cost is known
        self.mark = None
        self.used = 0

    def next_budget(self) -> int:
        """Candidates the next engine call may examine (at least 1; 0 once the allowance is spent)."""
        if self.meter is None:
            return self.chunk
        self.mark = self.meter()
        if self.mark > self.limit:
            return 0
        cost = self.used  # per candidate, the most any call has cost so far
        if cost <= 0:
            return self.first
        return max(1, min(self.chunk, (self.limit - self.mark) // cost))

    def spent(self, examined: int) -> bool:
        """Record that the last engine call examined `examined` candidates; True once the allowance is
        used up (the caller then stops with a cursor)."""
        if self.meter is None:
            return False
        now = self.meter()
        if examined > 0 and self.mark is not None:
            self.used = max(self.used, (now - self.mark) // examined)
        return now > self.limit
