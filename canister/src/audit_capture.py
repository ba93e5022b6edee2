"""The audit entries of the current update as the engine stores them, kept as they are recorded.

Certification hashes every audit entry an update appends. Reading them back costs a stable read and a
JSON parse each (pure Python on Kybra's RustPython), so the gateway routes the engine's one door for
audit entries, its audit log's `append`, through here and keeps a copy. A copy is used only when the
stored entry is sure to equal it (plain values, a text too short to be truncated to the audit map's value
size); it is dropped if the engine's operation rolls back, and any entry without a copy is read back.
"""

_LOW, _HIGH = -(2**63), 2**64  # numbers of at most _NUMBER bytes in JSON
_NUMBER = 24  # bytes at most of a number between _LOW and _HIGH (int or float) in JSON text
_FRAME = 64   # bytes of the entry's JSON text besides its values: brackets, quotes, commas


class AuditCapture:
    """Wraps `db.audit.append`; `since(start, end)` gives the entries start <= seq < end if all were kept."""

    def __init__(self, db, max_value_size):
        self.db = db
        self.log = db.audit
        self.limit = max_value_size
        self.entries = {}
        self._append = self.log.append
        self.log.append = self.append

    def clear(self) -> None:
        self.entries = {}

    def append(self, operation: str, type_name: str, entity_id, changes: dict, when: int, caller,
               text=None) -> None:
        """The audit log's `append`, keeping a copy of the entry it stages."""
        log = self.log
        seq = log.next_seq
        self._append(operation, type_name, entity_id, changes, when, caller, text)
        if type(changes) is dict and log.next_seq == seq + 1:
            self.entries[seq] = (when, caller, operation, type_name, entity_id, dict(changes))
            self.db.on_rollback_call(self.entries.pop, (seq, None))

    def since(self, start: int, end: int):
        """The entries start <= seq < end in order (dicts as the audit log reads them), or None when one
        of them was not kept or might not be stored exactly as kept."""
        out = []
        for seq in range(start, end):
            kept = self.entries.get(seq)
            if kept is None:
                return None
            when, caller, operation, type_name, entity_id, changes = kept
            if type(when) is not int or (type(entity_id) is not int and type(entity_id) is not str):
                return None
            try:   # caller, operation, type and the field names must be texts
                joined = "".join([caller, operation, type_name, str(entity_id), str(when)] + list(changes))
            except TypeError:
                return None
            texts = [joined]
            numbers = 0
            for value in changes.values():
                kind = type(value)
                if kind is str:
                    texts.append(value)
                elif kind is int or kind is float:
                    if not _LOW <= value < _HIGH:   # also false for NaN and the infinities
                        return None
                    numbers += 1
                elif value is not None and kind is not bool:
                    return None
            joined = "".join(texts)
            per_char = 2 if joined.isascii() and joined.isprintable() else 6  # an escape at worst
            size = _FRAME + 6 * len(changes) + len(joined) * per_char + numbers * _NUMBER
            if self.limit is not None and size > self.limit:
                return None
            out.append({"seq": seq, "time": when, "caller": caller, "operation": operation,
                        "type_name": type_name, "id": entity_id, "changes": changes})
        return out
