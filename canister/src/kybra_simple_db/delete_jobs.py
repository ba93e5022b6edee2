"""The durable work list of a delete that continues across operations (`Entity.delete_in_steps`).

A job is named by the entity it deletes (the root). `!dj:<type>:<id>` holds who started it, what it
has done and the size of its stack; `!ds:<type>:<id>/<depth>` hold the stack, the cascade frontier
still to do: `["D", type, id]` (a live entity the cascade reached, to delete) or
`["C", type, id, relation name, cursor]` (an entity already deleted whose to-many links are still
being released). `!dh:<type>:<id>` marks the id of a deleted entity whose links a job still releases.

Whoever carries the jobs on in the background serves the callers who started them in turn, not the jobs:
`!dq` ("head,tail") and `!dq:<n>` (a caller) are the ring of callers with queued jobs;
`!dqc:<caller>` ("head,tail,ring position") and `!dqj:<n>:<caller>` (a job key) are that caller's own
queue, oldest first. So a caller with a thousand queued deletes gets one background step in turn with
a caller who has one, not a thousand. Every read and write goes through the database's staged store,
so a job changes with the operation that changes it, or not at all.
"""

from typing import Optional

from . import json_text

JOB = "!dj:"
STACK = "!ds:"
QUEUE = "!dq"
CALLER_QUEUE = "!dqc:"
CALLER_JOB = "!dqj:"
HELD = "!dh:"       # an entity already deleted whose links a job still releases: its id is not free
QUEUE_SCAN = 100    # stale queue entries (of callers and of jobs) one `next_queued` call drops at most


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
            self.record["q"] = enqueue(db, self.key, self.caller)
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
    """Whether a delete still works on this id: its links are being released, or a job named by it (the
    root's) goes on; restore must not reuse it."""
    return (db.get(HELD + type_name + ":" + str(entity_id)) is not None
            or db.get(job_key(type_name, entity_id)) is not None)


def _ends(db, key: str) -> list:
    """The integers stored comma-separated under `key` (the ends of a queue), or [0, 0]."""
    text = db.get(key)
    return [0, 0] if text is None else [int(part) for part in text.split(",")]


def _ring_entry(position: int) -> str:
    return QUEUE + ":" + str(position)


def _job_entry(caller: str, position: int) -> str:
    return CALLER_JOB + str(position) + ":" + caller


def _put_caller(db, caller: str, head: int, tail: int, ring: int) -> None:
    db.put(CALLER_QUEUE + caller, str(head) + "," + str(tail) + "," + str(ring))


def _caller_fields(db, caller: Optional[str]) -> Optional[list]:
    """[head, tail, ring position] of `caller`'s queue, or None when it is not on the ring."""
    text = None if caller is None else db.get(CALLER_QUEUE + caller)
    return None if text is None else [int(part) for part in text.split(",")]


def enqueue(db, key: str, caller: str) -> int:
    """Append job `key` to the queue of `caller` (who joins the back of the ring of callers if not on
    it); the job's position in that queue."""
    head, tail = _ends(db, QUEUE)
    position, joined = _append(db, key, caller, tail)
    if joined:
        db.put(QUEUE, str(head) + "," + str(tail + 1))
    return position


def _append(db, key: str, caller: str, ring_tail: int) -> tuple:
    """(Position of job `key` appended to `caller`'s queue, whether the caller joined the ring at
    `ring_tail`: the caller of the ring's end is the caller's to write)."""
    fields = _caller_fields(db, caller)
    head, tail, ring = (0, 0, None) if fields is None else fields
    db.put(_job_entry(caller, tail), key)
    if ring is None:
        ring = ring_tail
        db.put(_ring_entry(ring), caller)
    _put_caller(db, caller, head, tail + 1, ring)
    return tail, fields is None


def next_queued(db) -> Optional[str]:
    """The key of the oldest queued job of the caller whose turn it is; that caller goes to the back of
    the ring, so the next call serves the next caller. Drops the entries of finished or blocked jobs and
    of callers with none left (at most QUEUE_SCAN: a caller whose stale entries outlast the scan goes to
    the back too, the rest dropped in its later turns); None when no job is found."""
    head, tail = _ends(db, QUEUE)
    ends = (head, tail)
    room = QUEUE_SCAN
    found = None
    while head < tail and room > 0 and found is None:
        caller = db.get(_ring_entry(head))
        if caller is not None and caller.startswith(JOB):     # an entry of the older queue of jobs
            tail += _requeue_older(db, caller, head, tail)
            caller = None
        fields = _caller_fields(db, caller)
        if fields is not None and fields[2] == head:
            first, end, _ = fields
            found, first, room = _oldest_job(db, caller, first, end, room)
            if first < end:     # served, or the scan ran out in its queue: to the back of the ring
                db.put(_ring_entry(tail), caller)
                _put_caller(db, caller, first, end, tail)
                tail += 1
            else:
                db.delete(CALLER_QUEUE + caller)      # no job left: the caller leaves the ring
        else:
            room -= 1       # a stale ring entry
        db.delete(_ring_entry(head))
        head += 1
    if (head, tail) != ends:
        db.put(QUEUE, str(head) + "," + str(tail))
    return found


def _oldest_job(db, caller: str, head: int, end: int, room: int) -> tuple:
    """(The oldest live job key in positions head..end-1 of `caller`'s queue or None, the new head, the
    room left): the stale entries before it are dropped, at most `room`."""
    while head < end and room > 0:
        key = db.get(_job_entry(caller, head))
        text = None if key is None else db.get(key)
        if text is not None:
            record = json_text.loads(text)
            if record["q"] == head and record["c"] == caller:
                return key, head, room
        db.delete(_job_entry(caller, head))
        head += 1
        room -= 1
    return None, head, room


def _requeue_older(db, key: str, position: int, ring_tail: int) -> int:
    """Job `key`, which the older queue of jobs held at ring `position`, joins its caller's queue if it
    is still queued; 1 if its caller joined the ring at `ring_tail`, else 0."""
    text = db.get(key)
    record = None if text is None else json_text.loads(text)
    if record is None or record["q"] != position:
        return 0
    record["q"], joined = _append(db, key, record["c"], ring_tail)
    db.put(key, json_text.dumps(record))
    return int(joined)


def requeue(db, key: str) -> None:
    """Move job `key` to the back of its caller's queue (after the background gave it one step), so a
    caller's own jobs share its turns."""
    text = db.get(key)
    if text is None:
        return
    record = json_text.loads(text)
    if record["q"] is None:
        return
    db.delete(_job_entry(record["c"], record["q"]))
    record["q"] = enqueue(db, key, record["c"])
    db.put(key, json_text.dumps(record))


def queued(db) -> bool:
    """Whether the queue may hold a job (cheap: one read)."""
    head, tail = _ends(db, QUEUE)
    return head < tail
