"""The durable work list of a delete that continues across operations (`Entity.delete_in_steps`).

A job is named by the entity it deletes (the root). `!dj:<type>:<id>` holds who started it, what it
has done and the size of its stack; `!ds:<type>:<id>/<depth>` hold the stack, the cascade frontier
still to do: `["D", type, id]` (a live entity the cascade reached, to delete) or
`["C", type, id, relation name, cursor]` (an entity already deleted whose to-many links are still
being released). `!dq` ("head,tail") and `!dq:<n>` (a job key) queue the jobs, oldest first, for
whoever carries them on in the background; `!dh:<type>:<id>` marks the id of a deleted entity whose
links a job still releases. Every read and write goes through the database's staged
store, so a job changes with the operation that changes it, or not at all.
"""

from typing import Optional

from . import json_text

JOB = "!dj:"
STACK = "!ds:"
QUEUE = "!dq"
HELD = "!dh:"       # an entity already deleted whose links a job still releases: its id is not free
QUEUE_SCAN = 100    # stale queue entries one `next_queued` call drops at most


def job_key(type_name: str, entity_id: int) -> str:
    return JOB + type_name + ":" + str(entity_id)


def root_of(key: str) -> tuple:
    """(type name, id) of the root entity of the job stored under `key`."""
    type_name, _, entity_id = key[len(JOB):].rpartition(":")
    return type_name, int(entity_id)


class DeleteJob:
    """One job's stack, read lazily from the top: an operation reads only the entries it works on
    and writes back only what it changed (`save`)."""

    def __init__(self, db, key: str, record: dict, fresh: bool = False):
        self.db = db
        self.key = key
        self.record = record
        self.fresh = fresh             # started by this operation: nothing of it is stored yet
        self.stored = record["n"]      # entries in storage when loaded
        self.base = record["n"]        # entries below `base` are untouched by this operation
        self.top = []                  # the entries above `base`, in memory

    @classmethod
    def load(cls, db, type_name: str, entity_id: int) -> Optional["DeleteJob"]:
        key = job_key(type_name, entity_id)
        text = db.get(key)
        return None if text is None else cls(db, key, json_text.loads(text))

    @classmethod
    def start(cls, db, type_name: str, entity_id: int, caller: str) -> "DeleteJob":
        """A new job in memory (written by `save` only if the delete does not finish at once)."""
        record = {"c": caller, "n": 0, "d": 0, "u": 0, "q": None, "b": None}
        return cls(db, job_key(type_name, entity_id), record, True)

    @property
    def caller(self) -> str:
        return self.record["c"]

    def peek(self) -> Optional[list]:
        """The entry on top of the stack (read from storage when memory holds none), or None."""
        if not self.top:
            if self.base == 0:
                return None
            self.base -= 1
            self.top.append(json_text.loads(self.db.get(self._entry_key(self.base))))
        return self.top[-1]

    def pop(self) -> None:
        self.peek()
        self.top.pop()

    def push(self, entry: list) -> None:
        self.top.append(entry)

    def size(self) -> int:
        return self.base + len(self.top)

    def count(self, deleted: int, unlinked: int) -> None:
        self.record["d"] += deleted
        self.record["u"] += unlinked

    def progress(self) -> dict:
        """What the job has done in all and how many stack entries remain."""
        return {"done": self.size() == 0, "deleted": self.record["d"], "unlinked": self.record["u"],
                "pending": self.size()}

    def save(self) -> None:
        """Write the stack entries this operation changed and the job record; with an empty stack the
        job is gone (its queue entry is dropped when the queue reaches it)."""
        db = self.db
        size = self.size()
        for position, entry in enumerate(self.top):
            db.put(self._entry_key(self.base + position), json_text.dumps(entry))
        for position in range(size, self.stored):
            db.delete(self._entry_key(position))
        if size == 0:
            if not self.fresh:
                db.delete(self.key)
            return
        self.record["n"] = size
        if self.record["q"] is None and self.record["b"] is None:
            self.record["q"] = enqueue(db, self.key)
        db.put(self.key, json_text.dumps(self.record))
        self.stored = self.base = size
        self.top = []
        self.fresh = False

    def block(self, reason: str) -> None:
        """Take the job off the queue until it is continued by hand (a step failed: a Restrict link,
        a hook): the background does not retry it forever."""
        self.record["b"] = reason[:300]
        self.record["q"] = None
        self.db.put(self.key, json_text.dumps(self.record))

    def unblock(self) -> None:
        self.record["b"] = None

    def _entry_key(self, position: int) -> str:
        return STACK + self.key[len(JOB):] + "/" + str(position)


def hold(db, type_name: str, entity_id: int) -> None:
    """Mark the id of a deleted entity whose links are still being released (restore must not reuse it:
    the job would release the new entity's links)."""
    db.put(HELD + type_name + ":" + str(entity_id), "1")


def release(db, type_name: str, entity_id: int) -> None:
    db.delete(HELD + type_name + ":" + str(entity_id))


def held(db, type_name: str, entity_id: int) -> bool:
    return db.get(HELD + type_name + ":" + str(entity_id)) is not None


def _queue_ends(db) -> list:
    text = db.get(QUEUE)
    return [0, 0] if text is None else [int(part) for part in text.split(",")]


def enqueue(db, key: str) -> int:
    """Append job `key` to the queue; its position."""
    head, tail = _queue_ends(db)
    db.put(QUEUE + ":" + str(tail), key)
    db.put(QUEUE, str(head) + "," + str(tail + 1))
    return tail


def next_queued(db) -> Optional[str]:
    """The key of the oldest queued job, dropping queue entries of finished or blocked jobs (at most
    QUEUE_SCAN per call); None when none is found."""
    head, tail = _queue_ends(db)
    start = head
    while head < tail and head - start < QUEUE_SCAN:
        key = db.get(QUEUE + ":" + str(head))
        text = None if key is None else db.get(key)
        if text is not None and json_text.loads(text)["q"] == head:
            break
        db.delete(QUEUE + ":" + str(head))
        head += 1
    if head != start:
        db.put(QUEUE, str(head) + "," + str(tail))
    return key if head < tail and head - start < QUEUE_SCAN else None


def requeue(db, key: str) -> None:
    """Move job `key` to the back of the queue (after the background gave it one step), so jobs
    share the background steps in turn."""
    text = db.get(key)
    if text is None:
        return
    record = json_text.loads(text)
    if record["q"] is None:
        return
    db.delete(QUEUE + ":" + str(record["q"]))
    record["q"] = enqueue(db, key)
    db.put(key, json_text.dumps(record))


def queued(db) -> bool:
    """Whether the queue may hold a job (cheap: one read)."""
    head, tail = _queue_ends(db)
    return head < tail
