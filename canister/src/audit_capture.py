"""The audit entries of the current update as the engine stores them, kept as they are recorded.

Certification hashes every audit entry an update appends. Reading them back costs a stable read and a
JSON parse each (pure Python on Kybra's RustPython), so the gateway listens to the engine's one door for
audit entries (its audit log's listener) and keeps a copy of each entry stored with its values (the log
says when an entry was too large and kept only the names). A copy is dropped if the engine's operation
rolls back; the certifier hashes a copy only when the stored entry is sure to equal it (see
audit_chain.copy_block_hash) and reads any other entry back.
"""


class AuditCapture:
    """Listens to `db.audit`; `kept(start, end)` gives the copies of entries start <= seq < end if all were
    kept."""

    def __init__(self, db):
        self.db = db
        self.entries = {}
        db.audit.set_listener(self.keep)

    def clear(self) -> None:
        self.entries = {}

    def keep(self, seq: int, operation: str, type_name: str, entity_id, changes, when: int, caller) -> None:
        """The audit log's listener: a copy of entry `seq`, dropped if the operation rolls back."""
        if type(changes) is dict:
            self.entries[seq] = (when, caller, operation, type_name, entity_id, dict(changes))
            self.db.on_rollback_call(self.entries.pop, (seq, None))

    def kept(self, start: int, end: int):
        """The copies (time, caller, operation, type name, id, changes) of the entries start <= seq < end
        in order, or None when one of them was not kept."""
        entries = self.entries
        if end == start + 1:   # most updates
            copy = entries.get(start)
            return None if copy is None else [copy]
        out = []
        for seq in range(start, end):
            copy = entries.get(seq)
            if copy is None:
                return None
            out.append(copy)
        return out
