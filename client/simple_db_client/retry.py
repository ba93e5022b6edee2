"""Which failures are transient, and how long to wait before trying again (bounded, with jitter)."""

from __future__ import annotations

import random
from dataclasses import dataclass

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; before try n+1 wait a random time in [0, min(max_delay,
    base_delay * 2**n)] ("full jitter"), or what a 429/503 `Retry-After` asks, capped at `max_delay`."""

    attempts: int = 5
    base_delay: float = 0.1
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), self.max_delay)
            except ValueError:
                pass
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))


NO_RETRY = RetryPolicy(attempts=1)
