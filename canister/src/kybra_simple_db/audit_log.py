"""The audit log: one entry per change, keyed by a sequence number that never restarts.

Entries live in their own map (or under a prefix of the data map). The next sequence number is not
rewritten on every change: entries are contiguous from the pruning mark `_min`, so `init` finds the
end with a few `contains_key` probes (O(log n)), and a change costs a single audit write.
"""

import json

from . import key_layout as keys

_NAMES_JSON = {}
_CACHED_NAMES = 256
_CACHED_LENGTH = 400


def _names_json(caller: str, operation: str, type_name: str) -> str:
    """`"caller","operation","type"` as JSON text, cached: the same few combinations recur in almost
    every entry."""
    text = keys.value_token(caller) + "," + keys.value_token(operation) + "," + keys.value_token(type_name)
    if len(_NAMES_JSON) < _CACHED_NAMES and len(text) <= _CACHED_LENGTH:
        _NAMES_JSON[(caller, operation, type_name)] = text
    return text


class AuditLog:
    """Structured audit entries: (seq, time ns, caller, operation, type, id, changed fields)."""

    def __init__(self, staged, prefix: str, enabled: bool):
        self.staged = staged
        self.prefix = prefix
        self.enabled = enabled
        self.min_seq = int(staged.get(prefix + keys.AUDIT_MIN) or 0)
        self.next_seq = self._find_end(self.min_seq)

    def _has(self, seq: int) -> bool:
        return self.staged.contains(keys.audit_key(self.prefix, seq))

    def _find_end(self, low: int) -> int:
        if not self._has(low):
            return low
        step = 1
        high = low + 1
        while self._has(high):
            low = high
            step *= 2
            high = low + step
        while high - low > 1:
            mid = (low + high) // 2
            if self._has(mid):
                low = mid
            else:
                high = mid
        return high

    def entry_text(self, time_ns: int, caller: str, operation: str, type_name: str, entity_id: int,
                   changes: dict) -> str:
        """The compact JSON list `[time, caller, operation, type, id, changes]`, joined from cached
        pieces (the same text the JSON encoder gives, without its cost on every change)."""
        if (type(time_ns) is int and type(entity_id) is int and type(changes) is dict and type(caller) is str
                and type(operation) is str and type(type_name) is str):
            names = _NAMES_JSON.get((caller, operation, type_name))
            if names is None:
                names = _names_json(caller, operation, type_name)
            return ("[" + str(time_ns) + "," + names + "," + str(entity_id) + ","
                    + (keys.compact(changes) if changes else "{}") + "]")
        return keys.compact([time_ns, caller, operation, type_name, entity_id, changes])

    @staticmethod
    def parse(seq: int, text: str) -> dict:
        time_ns, caller, operation, type_name, entity_id, changes = json.loads(text)
        return {"seq": seq, "time": time_ns, "caller": caller, "operation": operation,
                "type": type_name, "id": entity_id, "changes": changes}

    def key(self, seq: int) -> str:
        return keys.audit_key(self.prefix, seq)

    def length(self) -> int:
        """Number of entries currently kept (after pruning)."""
        return self.next_seq - self.min_seq
