"""`SystemTime`: the original's clock in milliseconds, which tests fix and advance.

While a time is set, every engine timestamp and audit time uses it (the engine works in
nanoseconds: a fixed time of `ms` milliseconds is `ms * 1_000_000`); otherwise the database's clock
runs (Kybra's `ic.time` in a canister, the wall clock elsewhere).
"""

import time
from typing import Optional

_DAYS_BEFORE = 719468   # days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar


def _civil(days: int) -> tuple:
    """(year, month, day) of a day count since 1970-01-01 (H. Hinnant's algorithm; no datetime)."""
    days += _DAYS_BEFORE
    era = (days if days >= 0 else days - 146096) // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


class SystemTime:
    """A process-wide clock that can be fixed (`set_time`), advanced and released (`clear_time`)."""

    _instance = None
    fixed_ns: Optional[int] = None

    @classmethod
    def get_instance(cls) -> "SystemTime":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def get_time(self) -> int:
        """The current time in milliseconds since the epoch (the fixed one while set)."""
        if SystemTime.fixed_ns is not None:
            return SystemTime.fixed_ns // 1_000_000
        return int(time.time() * 1000)

    def set_time(self, timestamp: int) -> None:
        """Fix the time at `timestamp` milliseconds since the epoch."""
        if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
            raise ValueError("timestamp must be a non-negative integer of milliseconds")
        SystemTime.fixed_ns = timestamp * 1_000_000

    def clear_time(self) -> None:
        """Release the fixed time: the database's clock runs again."""
        SystemTime.fixed_ns = None

    def advance_time(self, milliseconds: int) -> None:
        """Fix the time `milliseconds` after the current one."""
        self.set_time(self.get_time() + milliseconds)

    @staticmethod
    def format_timestamp(timestamp: Optional[int]) -> str:
        """Milliseconds since the epoch as "YYYY-MM-DD HH:MM:SS.mmm" (UTC); "None" for none."""
        if not timestamp:
            return "None"
        seconds, millis = divmod(int(timestamp), 1000)
        days, rest = divmod(seconds, 86400)
        year, month, day = _civil(days)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{year:04d}-{month:02d}-{day:02d} {hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"

    def print(self) -> str:
        return self.format_timestamp(self.get_time())
