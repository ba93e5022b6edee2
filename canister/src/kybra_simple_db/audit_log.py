"""The audit log: one entry per change, keyed by a sequence number that never restarts.

Entries live in their own map (or under a prefix of the data map). The next sequence number is not
rewritten on every change: entries are contiguous from the pruning mark `_min`, so `init` finds the
end with a few `contains_key` probes (O(log n)), and a change costs a single audit write.
"""

import json
from json.encoder import encode_basestring as _quote
from typing import Optional

from . import json_text, value_chunks
from . import key_layout as keys
from .db_errors import StorageLimitError
from .undo_journal import CALL

_NAMES_JSON = {}
ENGINE_TYPES = (int, dict, int)
"""Types of (entity id, changes, time) in the entries of the engine's own changes (see `append`)."""
_CACHED_NAMES = 256
_CACHED_LENGTH = 400


def _entry_parts(text: str) -> list:
    """`json.loads(text)` of an entry's text as `append` writes it, `[time,"caller","operation","type",id,
    {changes}]` (ints in plain digits, texts without escapes), in a few whole-string steps and the
    changes by json_text's record decoder (json.loads costs ~0.64M instructions an entry on Kybra's
    RustPython); ValueError (or IndexError) for any other text, which the caller hands to json."""
    if "\\" in text:
        raise ValueError("escapes")
    head, caller, comma, operation, comma2, type_name, tail = text.split('"', 6)
    time_text = head[1:-1]
    end = tail.index(",", 1)
    id_text = tail[1:end]
    if (head[0] != "[" or head[-1] != "," or comma != "," or comma2 != "," or tail[0] != ","
            or tail[-1] != "]" or not (time_text + id_text).isascii() or not time_text.isdigit()
            or not id_text.isdigit() or (time_text[0] == "0" and len(time_text) > 1)
            or (id_text[0] == "0" and len(id_text) > 1)):
        raise ValueError("another layout")
    changes = json_text.decode_record(tail[end + 1:-1])
    if changes.__class__ is not dict:
        raise ValueError("another layout")
    return [int(time_text), caller, operation, type_name, int(id_text), changes]


def _names_json(caller: str, operation: str, type_name: str) -> str:
    """`"caller","operation","type"` as JSON text, cached: the same few combinations recur in almost
    every entry."""
    if type(caller) is str and type(operation) is str and type(type_name) is str:
        text = _quote(caller) + "," + _quote(operation) + "," + _quote(type_name)   # value_token of text
    else:
        token = keys.value_token
        text = token(caller) + "," + token(operation) + "," + token(type_name)
    if len(_NAMES_JSON) < _CACHED_NAMES and len(text) <= _CACHED_LENGTH:
        _NAMES_JSON[(caller, operation, type_name)] = text
    return text


def _appender(log: "AuditLog", put_whole, prefix: str, journal: list, listening: list):
    """`log.append`: a closure over its map's put_whole, its prefix, the database's undo journal (none is
    ever replaced) and the box of its listener (`set_listener` fills it), so that an entry, staged in every
    update, reads none of them as an attribute (~6,000 instructions each on Kybra's RustPython)."""
    if not log.enabled:   # (audit is on or off for the log's lifetime)
        return lambda *entry: None

    def append(operation: str, type_name: str, entity_id: int, changes: dict, when: int, caller,
               text: Optional[str] = None, changes_text: Optional[str] = None) -> None:
        """Stage one entry (none while audit is off); on rollback the sequence number is given back.
        Entities call this for their own changes (`entity_id` the storage id, `changes` a dict, `when`
        an int of ns): the text is joined from cached pieces (and `changes_text`, `changes` as JSON
        when the caller has it). `Database.record` passes any other entry with its `text`."""
        seq = log.next_seq
        if text is None:
            if caller.__class__ is str:     # (no builtin type() call: each costs ~9,000 on RustPython)
                try:
                    names = _NAMES_JSON[(caller, operation, type_name)]   # (a third of get() on RustPython)
                except KeyError:
                    names = _names_json(caller, operation, type_name)
                if changes_text is None:
                    changes_text = keys.compact(changes) if changes else "{}"
                text = f"[{when},{names},{entity_id},{changes_text}]"
            else:
                text = log.entry_text(when, caller, operation, type_name, entity_id, changes)
        if not put_whole(f"{prefix}{seq}", text, journal):
            staged = log.staged
            limit = staged.max_value_size
            if len(text.encode("utf-8")) > limit:
                if not log.shared:
                    text = log._names_only(when, caller, operation, type_name, entity_id, changes, limit)
                    changes = None   # the listener hears that the values were not stored
                    if len(text) * 4 > limit and len(text.encode("utf-8")) > limit:
                        raise StorageLimitError("audit entry too large for the audit map's value size")
            value_chunks.write(staged, journal, log.key(seq), text, limit)
        log.next_seq = seq + 1
        undo = journal   # (the same list: `+=` extends it, no append call)
        undo += ((CALL, setattr, (log, "next_seq", seq)),)
        listener = listening[0]
        if listener is not None:
            listener(seq, operation, type_name, entity_id, changes, when, caller)

    return append


class AuditLog:
    """Structured audit entries: (seq, time ns, caller, operation, type, id, changed fields).

    Owns its keys: appends (inside the database's current operation, via its undo journal, the same
    list for the database's lifetime), reads and prunes them. `shared` is True when the entries live
    under `prefix` in the data map itself.
    """

    def __init__(self, staged, prefix: str, enabled: bool, shared: bool = False,
                 journal: Optional[list] = None):
        self.staged = staged
        self.prefix = prefix
        self.enabled = enabled
        self.shared = shared
        self.journal = [] if journal is None else journal     # the database's undo journal
        self.min_seq = int(staged.get(prefix + keys.AUDIT_MIN) or 0)
        self.next_seq = self._find_end(self.min_seq)
        # append(operation, type_name, entity_id, changes, when, caller, text=None, changes_text=None): a
        # closure over what it reads on every entry (the map's put_whole, the prefix, the journal, the
        # listener: see `_appender`), without an attribute read of them
        self._listening = [None]
        self.append = _appender(self, staged.put_whole, prefix, self.journal, self._listening)

    def set_listener(self, listener) -> None:
        """`listener(seq, operation, type_name, entity_id, changes, when, caller)` hears of every entry
        staged from then on, as `append` was given it, but with `changes` None when the entry was too
        large and keeps only the names (a certifier keeps copies instead of reading back)."""
        self._listening[0] = listener

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
        """The compact JSON list `[time, caller, operation, type, id, changes]` (`append` joins the same
        text from cached pieces in the common case, without the encoder's cost on every change)."""
        return keys.compact([time_ns, caller, operation, type_name, entity_id, changes])

    @staticmethod
    def parse(seq: int, text: str) -> dict:
        try:
            time_ns, caller, operation, type_name, entity_id, changes = _entry_parts(text)
        except (ValueError, IndexError):   # not the layout `append` writes: json itself
            parts = json.loads(text)
            if parts.__class__ is not list or len(parts) != 6:   # (a text or a map of 6 would unpack too)
                raise ValueError(f"audit entry {seq} is not a list of 6 parts") from None
            time_ns, caller, operation, type_name, entity_id, changes = parts
        return {"seq": seq, "time": time_ns, "caller": caller, "operation": operation,
                "type": type_name, "id": entity_id, "changes": changes}

    def key(self, seq: int) -> str:
        return keys.audit_key(self.prefix, seq)

    def owns_key(self, key: str) -> bool:
        """True if `key` of the data map is one of this log's keys (only when the map is shared)."""
        return self.shared and key.startswith(self.prefix)

    def length(self) -> int:
        """Number of entries currently kept (after pruning)."""
        return self.next_seq - self.min_seq

    def _names_only(self, when: int, caller: str, operation: str, type_name: str, entity_id,
                    changes: dict, limit: int) -> str:
        """An entry too large for the audit map keeps the changed fields' names without values (marked
        `_truncated`): as many names as fit, in order, so any type within the limits can be audited. The
        count that fits is found by halving: a few encodings (dropping one name at a time was quadratic)."""
        names = list(changes)

        def text_of(count: int) -> str:
            short = {"_truncated": True}
            for name in names[:count]:
                short[name] = None
            return self.entry_text(when, caller, operation, type_name, entity_id, short)

        low, high = 0, len(names)  # text_of(low) is the fallback; the answer lies in [low, high]
        while low < high:
            mid = (low + high + 1) // 2
            if len(text_of(mid).encode("utf-8")) <= limit:
                low = mid
            else:
                high = mid - 1
        return text_of(low)

    def read(self, seq: int) -> Optional[dict]:
        """The entry `seq` as a dict, or None when it was pruned or never written."""
        key = self.key(seq)
        text = self.staged.get(key)
        if text is None:
            return None
        return self.parse(seq, value_chunks.join(self.staged, key, text))

    def entries(self, from_seq: int, limit: int) -> tuple:
        """Entries with seq >= from_seq (at most `limit`), and the next seq or None at the end."""
        start = max(int(from_seq), self.min_seq)
        end = min(start + limit, self.next_seq)
        out = []
        for seq in range(start, end):
            entry = self.read(seq)
            if entry is not None:
                out.append(entry)
        return out, (end if end < self.next_seq else None)

    def prune(self, before: int) -> int:
        """Stage the removal of entries with seq < `before`; returns how many are removed."""
        journal = self.journal
        before = min(int(before), self.next_seq)
        old_min = self.min_seq
        if before <= old_min:
            return 0
        removed = 0
        staged = self.staged
        for seq in range(old_min, before):
            key = self.key(seq)
            head = staged.get(key)
            if head is None:
                continue
            value_chunks.remove(staged, journal, key, head)
            removed += 1
        staged.put(self.prefix + keys.AUDIT_MIN, str(before), journal)
        self.min_seq = before
        journal.append((CALL, setattr, (self, "min_seq", old_min)))
        return removed
