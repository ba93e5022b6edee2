"""Deletes that go on across operations: any Cascade graph, deleted in bounded steps.

A mixin of `Entity`. `delete_in_steps` deletes the entity at once (it is gone for every reader and
writer from the first step) and then releases what it linked in steps of at most `units` entities
each (deleted through a Cascade the caller may delete, else unlinked, as SetNull), each step one
all-or-nothing operation. What is left is a durable work list (delete_jobs.DeleteJob) carried on by
`continue_delete`, called by the caller who started it, or by whoever runs the queue in its name.
"""

from typing import Optional

from . import delete_jobs, type_registry
from . import key_layout as keys
from .context import get_caller_id
from .db_constants import ACTION_DELETE, ACTION_MODIFY, CASCADE, RESTRICT
from .db_engine import Database
from .db_errors import ConflictError, NotFoundError, ValidationError
from .delete_jobs import DeleteJob
from .entity_values import normalize_id

RELEASE_PAGE = 100     # link ids one step reads at a time from a deleted entity's id set


class StepBudget:
    """What one operation of a stepwise delete may do: `units` entities (deleted or unlinked), and,
    with an instruction meter, no new unit once the message has used `db.step_meter_limit`. The
    first unit always runs, so every step makes progress."""

    def __init__(self, db: Database, units: int):
        self.db = db
        self.left = units
        self.deleted = 0
        self.unlinked = 0
        self.gone = {}      # (type name, id) -> the object of an entity deleted in this operation

    def take(self) -> None:
        self.left -= 1

    def spent(self) -> bool:
        db = self.db
        if self.left <= 0:
            return True
        limit = db.step_meter_limit
        return db.meter is not None and limit is not None and db.meter() > limit


def _units(db: Database, units) -> int:
    if units is None:
        return db.delete_budget
    if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
        raise ValidationError("units must be a positive integer")
    return units


class EntityCascade:
    """Stepwise deletes of one entity and what its relations reach."""

    def delete_in_steps(self, units: Optional[int] = None) -> dict:
        """Delete the entity now and release what it links, at most `units` entities per operation
        (default `db.delete_budget`); returns {"done", "deleted", "unlinked", "pending"}. When not
        done, the rest is a job in storage: call `Cls.continue_delete(id)` (as the same caller) until
        it says done. Each step is all or nothing; the steps together are not (docs/engine.md)."""
        self._check_live()
        db = self._db
        budget = StepBudget(db, _units(db, units))
        with db.operation():
            job = DeleteJob.start(db, self._type, self._eid, get_caller_id())
            self._delete_alone(job, budget)
            _run_steps(db, job, budget, False)
            job.count(budget.deleted, budget.unlinked)
            job.save()
        return job.progress()

    @classmethod
    def continue_delete(cls, entity_id, units: Optional[int] = None) -> dict:
        """One more step of the stepwise delete of entity `entity_id` of this type, started by the
        current caller; NotFoundError when there is none (finished, never started, or another
        caller's: only the caller who started a delete may continue it)."""
        eid = normalize_id(entity_id)
        db = Database.get_instance()
        job = None if eid is None else DeleteJob.load(db, cls.__type_name__, eid)
        if job is None or job.caller != get_caller_id():
            raise NotFoundError(f"no delete of {cls.__type_name__}@{entity_id} is under way for this caller")
        budget = StepBudget(db, _units(db, units))
        with db.operation():
            job.unblock()
            _run_steps(db, job, budget)
            job.count(budget.deleted, budget.unlinked)
            job.save()
        return job.progress()

    def _delete_alone(self, job: DeleteJob, budget: StepBudget) -> None:
        """Delete this entity now: Restrict checked, its to-one links released (a Cascade target the
        caller may delete goes on the work list), its document and keys removed; its to-many links
        go on the work list (released by `_release_links`)."""
        db = self._db
        cls = type(self)
        tc = self._tc
        eid = self._eid
        budget.take()
        if cls.on_event is not None:
            self._hook(None, self, None, ACTION_DELETE)
        key = keys.doc_key(tc, eid)
        d = self.__dict__
        head = db.get_known(key, d.get("_loaded"))    # (the document as loaded, if unchanged since: no read)
        if head is None:
            raise NotFoundError(f"{cls.__type_name__}@{eid} no longer exists")
        db.on_rollback_call(d.__setitem__, ("_state", "live"))
        d["_state"] = "deleting"
        many = False
        for name, rel in cls.__relations__.items():
            if rel.target_cls is None:
                continue
            many = many or rel.to_many
            if rel.on_delete == RESTRICT:
                linked = self._linked_ids_upto(rel, 2)
                if linked and (rel.target_cls.__type_name__ != cls.__type_name__ or linked != [eid]):
                    raise ConflictError(f"{self._type}@{self._id} still has {name} links (restrict)")
        gone = budget.gone
        for name, rel in cls.__relations__.items():
            tid = None if rel.to_many or rel.target_cls is None else self._data.get(name)
            if tid is None or (rel.target_cls.__type_name__, tid) in gone:
                continue    # (an entity this operation deleted: no load finds it, none is tried)
            target = self._load_linked(rel, tid)
            if target is None or target is self:
                continue
            if rel.on_delete == CASCADE and db.allows(target, ACTION_DELETE):
                self._detach(rel, target)
                job.push(["D", target._type, target._eid])
            else:
                target._hook(rel.reverse_relation().public, self, None, ACTION_MODIFY)
                self._detach(rel, target)
                budget.unlinked += 1
        self._erase(key, head)
        budget.deleted += 1
        if many:
            budget.gone[(cls.__type_name__, eid)] = self
            job.push(["C", cls.__type_name__, eid, "", 0])
            delete_jobs.hold(db, cls.__type_name__, eid)

    def _let_go(self, rel, other_id: int, other, hook: bool = True) -> None:
        """Drop `other_id`, an entity already deleted (`other`: its object, if at hand), from this
        entity's side of `rel`, as SetNull does."""
        if hook:
            self._hook(rel.public, other, None, ACTION_MODIFY)
        if rel.to_many:
            self._db.bit_update(self._link_bucket(rel), other_id, False)
            return
        self._touch()
        self._data[rel.name] = None
        self._persist("unlink")


def _run_steps(db: Database, job: DeleteJob, budget: StepBudget, first: bool = True) -> None:
    """Work the job's stack from the top until it is empty or the budget is spent (with `first`, after
    one unit at least, so every step makes progress)."""
    start = budget.left
    while (first and budget.left == start) or not budget.spent():
        entry = job.peek()
        if entry is None:
            return
        if entry[0] == "D":
            job.pop()
            cls = type_registry.find(entry[1])
            target = None if cls is None else cls.by_storage_id(entry[2])
            if target is not None and db.allows(target, ACTION_DELETE):
                target._delete_alone(job, budget)
        else:
            _release_links(db, job, entry, budget)


def _release_links(db: Database, job: DeleteJob, entry: list, budget: StepBudget) -> None:
    """Release the to-many links of a deleted entity (entry ["C", type, id, relation name, cursor]),
    relation by relation, ids in ascending order from the cursor; returns when the budget is spent or
    a cascade put more work on top of the stack. The id buckets the cursor has passed are removed as
    it goes (never more than the walk read), so a sparse id range costs bounded work per step too."""
    _, type_name, eid, current, after = entry
    cls = type_registry.find(type_name)
    tc = db.type_code(type_name)
    relations = [] if cls is None else [
        type_registry.resolved(cls, name) for name, rel in cls.__relations__.items()
        if rel.to_many and rel.target_cls is not None]
    names = [rel.name for rel in relations]
    index = names.index(current) if current in names else 0     # by name: the schema may change between steps
    if current not in names:
        after = 0
    width = db.bucket_width
    while index < len(relations):
        entry[3] = names[index]
        rel = relations[index]
        ttc = db.type_code(rel.target_cls.__type_name__)
        if ttc is not None:
            bucket = _link_bucket(tc, eid, rel.name, ttc)
            upper = db.counters(ttc)[0]
            first = (after + 1) // width
            want = min(max(budget.left, 1), RELEASE_PAGE) + 1    # one more: to see the last id as last
            stored = []     # the buckets the walk found stored: the others need no removal
            ids, next_cursor = db.bit_walk(bucket, after, upper, want, want // 4 + 4, stored)
            last = index == len(relations) - 1
            for position, tid in enumerate(ids):
                entry[4] = tid
                final = last and next_cursor is None and position == len(ids) - 1
                if final:
                    _drop_buckets(db, bucket, first, upper // width + 1, stored)
                    job.pop()
                    delete_jobs.release(db, type_name, eid)
                size = job.size()
                _release_one(db, job, budget, rel, type_name, eid, tid)
                if final:
                    return
                if job.size() > size or budget.spent():
                    _drop_buckets(db, bucket, first, (tid + 1) // width, stored)
                    return
            if next_cursor is not None:
                if not ids:
                    entry[4] = next_cursor    # a run of empty buckets: counted as a unit
                    budget.take()
                _drop_buckets(db, bucket, first, (entry[4] + 1) // width, stored)
                return
            _drop_buckets(db, bucket, first, upper // width + 1, stored)
        index += 1
        after = 0
        entry[4] = 0
    job.pop()
    delete_jobs.release(db, type_name, eid)


def _drop_buckets(db: Database, bucket, start: int, end: int, stored: list) -> None:
    """Remove the stored id buckets start..end-1 of a deleted entity's link set (those the walk passed;
    `stored` lists the numbers of those it found stored: nothing adds to or removes from a deleted
    entity's set meanwhile, so they are not read again)."""
    for number in stored:
        if start <= number < end:
            db.delete(bucket(number))


def _release_one(db: Database, job: DeleteJob, budget: StepBudget, rel, type_name: str, eid: int,
                 tid: int) -> None:
    """The link of deleted entity `eid` (of `type_name`) to `tid` through `rel`: delete `tid` (a
    Cascade the caller may delete) or drop the deleted entity from its side (SetNull)."""
    if tid == eid and rel.target_cls.__type_name__ == type_name:
        return      # a link to itself went with the entity
    rev = rel.reverse_relation()
    if rev.to_many and rel.on_delete != CASCADE and rel.target_cls.on_event is None:
        _release_from_set(db, budget, rel, rev, eid, tid)
        return
    target = rel.target_cls.by_storage_id(tid)     # (an entity with a caller-chosen text id too)
    if target is None or not target._has_link(rev, eid):
        budget.take()   # gone, or the link was already released from its side: a unit still, as it read
        return
    if rel.on_delete == CASCADE and db.allows(target, ACTION_DELETE):
        if rev.to_many:
            target._let_go(rev, eid, None, False)
        target._delete_alone(job, budget)       # one unit
        return
    budget.take()
    target._let_go(rev, eid, budget.gone.get((type_name, eid)))
    budget.unlinked += 1


def _release_from_set(db: Database, budget: StepBudget, rel, rev, eid: int, tid: int) -> None:
    """What `_release_one` does for a SetNull link whose other side is an id set too, on a type without
    hooks: `eid` dropped from the set of `tid` (if `tid` exists) and counted, without loading `tid`'s
    document (it changes nothing in it: its existence is its document key; ~0.5M instructions fewer
    per link on Kybra's RustPython)."""
    ttc = db.type_code(rel.target_cls.__type_name__)
    tc = db.type_code(rev.target_cls.__type_name__)
    budget.take()   # (a unit whatever is found, as in `_release_one`)
    if ttc is None or tc is None or db.get(keys.doc_key(ttc, tid)) is None:
        return
    name = rev.name
    if db.bit_update(lambda bucket: keys.link_key(ttc, tid, name, tc, bucket), eid, False):
        budget.unlinked += 1


def _link_bucket(tc: int, eid: int, name: str, ttc: int):
    return lambda bucket: keys.link_key(tc, eid, name, ttc, bucket)


def next_queued_job(db: Database) -> Optional[tuple]:
    """(type name, id, caller) of the queued stepwise delete whose turn it is (callers are served in
    turn, each its oldest job; delete_jobs.next_queued), or None; drops finished ones."""
    with db.operation():
        key = delete_jobs.next_queued(db)
    if key is None:
        return None
    type_name, eid = delete_jobs.root_of(key)
    job = DeleteJob.load(db, type_name, eid)
    return None if job is None else (type_name, eid, job.caller)


def requeue_job(db: Database, type_name: str, eid: int) -> None:
    """Send the job to the back of its caller's queue (after one background step)."""
    with db.operation():
        delete_jobs.requeue(db, delete_jobs.job_key(type_name, eid))


def block_job(db: Database, type_name: str, eid: int, reason: str) -> None:
    """Keep a job whose step failed off the queue until its caller continues it by hand."""
    job = DeleteJob.load(db, type_name, eid)
    if job is not None:
        with db.operation():
            job.block(reason)


def jobs_queued(db: Database) -> bool:
    return delete_jobs.queued(db)
