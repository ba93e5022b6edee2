"""A write-through wrapper around a stable map that can undo the writes of the current operation.

The meta map (schema, admins) sits outside the engine's transactions; DbApi calls begin at the start of
each update (when it has anything to forget) and rollback on its failure, so a refused operation leaves
the meta map unchanged too. A success needs no call: what it remembered (like writes outside any update,
at install) is forgotten by the next update's begin (a rollback only ever follows that message's start).
"""


class UndoMap:
    """Same surface as StableBTreeMap[str, str]; remembers each key's value before its first change."""

    def __init__(self, inner):
        self.inner = inner
        self.saved = {}   # key -> its value before its first change since `begin` (None: absent)

    def begin(self) -> None:
        """Remember the keys changed from now on (forgetting those of an earlier message). A caller may
        skip it while `saved` is empty: then it has nothing to forget."""
        self.saved = {}

    def rollback(self) -> bool:
        """Restore every key changed since `begin`; True when there was anything to restore."""
        saved, self.saved = self.saved, {}
        for key, previous in saved.items():
            if previous is None:
                self.inner.remove(key)
            else:
                self.inner.insert(key, previous)
        return bool(saved)

    def _remember(self, key: str) -> None:
        if key not in self.saved:
            self.saved[key] = self.inner.get(key)

    def get(self, key: str):
        return self.inner.get(key)

    def contains_key(self, key: str) -> bool:
        return self.inner.contains_key(key)

    def insert(self, key: str, value: str):
        self._remember(key)
        return self.inner.insert(key, value)

    def remove(self, key: str):
        self._remember(key)
        return self.inner.remove(key)

    def len(self) -> int:
        return self.inner.len()

    def is_empty(self) -> bool:
        return self.inner.is_empty()

    def keys(self) -> list:
        return self.inner.keys()

    def items(self) -> list:
        return self.inner.items()
