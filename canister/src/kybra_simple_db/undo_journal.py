"""The undo journal of one operation: how every in-memory and staged change is rolled back.

Entries are appended in the order changes happen and undone in reverse:
`(staged map, key, previous)` restores a staged write; `(CALL, function, args)` calls
`function(*args)`; `(None, undo, None)` calls `undo()`.
"""

CALL = object()


def rollback(journal: list, mark: int) -> None:
    """Undo every entry after position `mark`, newest first."""
    while len(journal) > mark:
        staged, key, previous = journal.pop()
        if staged is None:
            key()
        elif staged is CALL:
            key(*previous)
        else:
            staged.undo(key, previous)
