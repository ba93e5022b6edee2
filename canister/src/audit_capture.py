"""The audit entries of the current update as their blocks' bodies, hashed as the entries are recorded.

Certification hashes every audit entry an update appends. Reading them back costs a stable read and a
JSON parse each (pure Python on Kybra's RustPython), so the gateway listens to the engine's one door for
audit entries (its audit log's listener) and hashes each entry stored with its values into the body of
its block (audit_chain.block_body: all of the block but its parent's hash, which the certifier adds;
audit_chain.body_keeper is the listener).
The log says when an entry was too large and kept only the names; such an entry, or one whose stored
text might not equal the values heard (see block_body), is not kept, and the certifier reads it back.
"""

from audit_chain import body_keeper


class AuditCapture:
    """Listens to `db.audit`; `take(start)` gives (body, type name, id) of the entries from `start` to the
    log's end if all were kept."""

    def __init__(self, db):
        self.log = db.audit
        self.entries = {}
        # keep(seq, operation, type_name, entity_id, changes, when, caller): the audit log's listener, which
        # keeps the body of entry `seq`'s block in `entries` (audit_chain.body_keeper: no call in between).
        # A rolled-back entry's number is given back and heard again before `take` can reach it (the log's
        # next number moves back with it), so each number keeps what was heard last: what is stored.
        self.keep = body_keeper(self.entries)
        self.log.set_listener(self.keep)
        self.take = _taker(self.entries, self.log)


def _taker(entries: dict, log):
    """A capture's `take(start)`: a list of (block body, type name, id) of the entries from `start` to the
    log's end in order, or that tuple alone (not in a list) when there is one entry (most updates: no list
    to make and no len() to check), or None when one of them was not kept; forgets every entry kept (the
    update is over: what an update heard and rolled back lies beyond the log's end, and is heard again
    before it can be reached). A closure over the capture's dict and the log (neither is ever replaced):
    no attribute read of them in every update."""

    def take(start: int):
        end = log.next_seq
        if end == start + 1:   # most updates
            try:
                out = entries[start]   # (a subscript: a third of get() on RustPython)
            except KeyError:
                out = None
        else:   # (the copies listed by native calls: no Python step per entry of a batch)
            try:
                out = list(map(entries.__getitem__, range(start, end)))
            except KeyError:
                out = None
        entries.clear()   # (the listener keeps into this dict)
        return out

    return take
