"""The audit entries of the current update as the engine stores them, kept as they are recorded.

Certification hashes every audit entry an update appends. Reading them back costs a stable read and a
JSON parse each (pure Python on Kybra's RustPython), so the gateway listens to the engine's one door for
audit entries (its audit log's listener) and keeps a copy. A copy is used only when the
stored entry is sure to equal it (plain values, a text too short to be truncated to the audit map's value
size); it is dropped if the engine's operation rolls back, and any entry without a copy is read back.
"""

_PLAIN = frozenset((str, int, float, bool, type(None)))
_INFINITY = float("inf")
_FRAME = 16   # bytes the entry's JSON text may have beyond its repr's bound (quotes around names)
_DIGITS_20 = 10**20
_NAMES = {}   # (caller, operation, type name) -> (length of their tuple's repr, whether it is ASCII)
_CACHED_NAMES = 256


class AuditCapture:
    """Listens to `db.audit`; `since(start, end)` gives the entries start <= seq < end if all were kept."""

    def __init__(self, db, max_value_size):
        self.db = db
        self.limit = max_value_size
        self.entries = {}
        db.audit.set_listener(self.keep)

    def clear(self) -> None:
        self.entries = {}

    def keep(self, seq: int, operation: str, type_name: str, entity_id, changes, when: int, caller) -> None:
        """The audit log's listener: a copy of entry `seq`, dropped if the operation rolls back."""
        if type(changes) is dict:
            self.entries[seq] = (when, caller, operation, type_name, entity_id, dict(changes))
            self.db.on_rollback_call(self.entries.pop, (seq, None))

    def since(self, start: int, end: int):
        """The entries start <= seq < end in order (dicts as the audit log reads them), or None when one
        of them was not kept or might not be stored exactly as kept."""
        out = []
        entries = self.entries
        limit = self.limit
        for seq in range(start, end):
            kept = entries.get(seq)
            if kept is None:
                return None
            when, caller, operation, type_name, entity_id, changes = kept
            if type(when) is not int or type(entity_id) is not int or type(caller) is not str:
                return None   # not an entity's own entry: read back
            if type(operation) is not str or type(type_name) is not str:
                return None
            for name in changes:   # (a loop costs less than sets of the types for the few fields changed)
                if type(name) is not str:
                    return None
                kind = type(changes[name])
                if kind is not str and kind is not int and (kind not in _PLAIN or not _finite(changes[name])):
                    return None
            if limit is not None and not (0 <= when < _DIGITS_20 and 0 <= entity_id < _DIGITS_20
                                          and entry_bound(caller, operation, type_name, changes) <= limit):
                return None
            out.append({"seq": seq, "time": when, "caller": caller, "operation": operation,
                        "type_name": type_name, "id": entity_id, "changes": changes})
        return out


def entry_bound(caller: str, operation: str, type_name: str, changes: dict) -> int:
    """At least the UTF-8 bytes of the JSON text of an entry with these names and changes and a time and
    id of at most 20 digits each. The JSON text has at most as many characters as the entry's repr,
    escapes aside (a control character: 6 for repr's 4), its UTF-8 at most 4 bytes a character; the
    names' part of the repr is cached (the same few recur)."""
    names = _NAMES.get((caller, operation, type_name))
    if names is None:
        shown = repr((caller, operation, type_name))
        names = (len(shown), shown.isascii())
        if len(_NAMES) >= _CACHED_NAMES:
            _NAMES.clear()
        _NAMES[(caller, operation, type_name)] = names
    shown = repr(changes)
    # repr((when, caller, operation, type_name, entity_id, changes)) has len(shown) + names[0] + 6
    # characters and two numbers of at most 20 digits
    size = len(shown) + names[0] + 46
    return size * (2 if names[1] and shown.isascii() else 4) + _FRAME


def _finite(value) -> bool:
    return type(value) is not float or (value == value and -_INFINITY < value < _INFINITY)
