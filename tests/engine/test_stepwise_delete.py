"""Deletes that continue across operations (`delete_in_steps` / `continue_delete`): any Cascade graph
(deep chains, wide fans, many links) is deleted in steps of bounded work, each all or nothing, by the
caller who started it; nothing is left pointing at a deleted entity when the job is done."""

import pytest
from engine_helpers import node_type
from kybra_simple_db import (
    ACTION_DELETE,
    CASCADE,
    RESTRICT,
    ConflictError,
    Database,
    Entity,
    ManyToMany,
    NotFoundError,
    OneToMany,
    OneToOne,
    String,
    ValidationError,
    delete_jobs,
    json_text,
)
from kybra_simple_db.context import set_caller_id
from kybra_simple_db.db_errors import UnknownTargetError
from kybra_simple_db.delete_jobs import DeleteJob
from kybra_simple_db.entity_cascade import block_job, next_queued_job, requeue_job


def _chain(Node, depth: int):
    root = Node(label="root")
    parent = root
    nodes = [root]
    for i in range(depth):
        parent = Node(label=str(i), parent=parent)
        nodes.append(parent)
    return nodes


def _finish(cls, eid, units, limit=10_000) -> int:
    """Continue until done; the number of continuations."""
    steps = 0
    while True:
        progress = cls.continue_delete(eid, units)
        steps += 1
        if progress["done"]:
            return steps
        assert steps < limit


def _link_chain(length: int):
    """The Link type (a to-one `next` that cascades) and `length` links, each the `next` of the one
    before it; both made by the current caller."""
    class Link(Entity):
        label = String()
        next = OneToOne("Link", "prev", on_delete=CASCADE)

    links = [Link(label=str(i)) for i in range(length)]
    for a, b in zip(links, links[1:]):
        a.next = b
    return Link, links


def _only_counters_left(storage) -> set:
    """Keys other than type codes, counters, deleted-id sets and the audit log."""
    return {k for k in storage._data if not (k.startswith("!t:") or k.startswith("!n:") or k.startswith("!k:")
                                              or k in ("!meta", "!types") or "#" in k or "-" in k
                                              or k.startswith("&") or k.startswith("!dq"))}


def test_a_chain_of_50_is_deleted_in_many_small_steps(fresh_db):
    Node = node_type()
    _chain(Node, 50)
    progress = Node.load(1).delete_in_steps(3)
    assert progress == {"done": False, "deleted": 3, "unlinked": 0, "pending": progress["pending"]}
    assert Node.load(1) is None and Node.count() == 48      # the root is gone from the first step
    steps = _finish(Node, 1, 3)
    assert steps >= 15
    assert Node.count() == 0
    assert _only_counters_left(fresh_db._storage) == set()
    with pytest.raises(NotFoundError):
        Node.continue_delete(1)


def test_small_deletes_finish_in_one_step_and_leave_no_job(fresh_db):
    Node = node_type()
    _chain(Node, 3)
    assert Node.load(1).delete_in_steps() == {"done": True, "deleted": 4, "unlinked": 0, "pending": 0}
    assert _only_counters_left(fresh_db._storage) == set()
    assert next_queued_job(fresh_db) is None


def test_a_wide_fan_and_many_set_null_links_are_released_in_steps(fresh_db):
    class Tag(Entity):
        label = String()
        people = ManyToMany("Person", "tags")
        notes = OneToMany("Note", "tag", on_delete=CASCADE)

    class Person(Entity):
        name = String()

    class Note(Entity):
        text = String()

    tag = Tag(label="hub")
    people = [Person(name=str(i)) for i in range(40)]
    for person in people:
        tag.people.add(person)
    for i in range(30):
        Note(text=str(i), tag=tag)
    progress = tag.delete_in_steps(7)
    assert not progress["done"]
    _finish(Tag, tag._eid, 7)
    assert Tag.count() == 0 and Note.count() == 0 and Person.count() == 40
    assert all(len(Person.load(p._eid).tags) == 0 for p in people)
    person_docs = str(fresh_db.type_code("Person")) + ":"
    assert _only_counters_left(fresh_db._storage) == {k for k in fresh_db._storage._data
                                                       if k.startswith(person_docs)}


def test_one_to_one_cascade_chains_and_cycles(fresh_db):
    class Ring(Entity):
        label = String()
        peers = ManyToMany("Ring", "peers", on_delete=CASCADE)

    Link, links = _link_chain(20)
    links[0].delete_in_steps(2)
    _finish(Link, links[0]._eid, 2)
    assert Link.count() == 0
    rings = [Ring(label=str(i)) for i in range(10)]
    for a in rings:
        for b in rings:
            a.peers.add(b)
    rings[0].delete_in_steps(4)
    _finish(Ring, rings[0]._eid, 4)
    assert Ring.count() == 0
    assert _only_counters_left(fresh_db._storage) == set()


def test_a_step_is_all_or_nothing_and_restrict_stops_only_that_step(fresh_db):
    class Folder(Entity):
        name = String()
        files = OneToMany("File", "folder", on_delete=CASCADE)

    class File(Entity):
        name = String()
        locks = ManyToMany("Lock", "files", on_delete=RESTRICT)

    class Lock(Entity):
        name = String()

    folder = Folder(name="f")
    files = [File(name=str(i), folder=folder) for i in range(6)]
    lock = Lock(name="l")
    files[4].locks.add(lock)
    # in one step (budget large enough): refused, nothing changed, as delete()
    before = dict(fresh_db._storage._data)
    with pytest.raises(ConflictError):
        Folder.load(folder._eid).delete_in_steps(100)
    assert dict(fresh_db._storage._data) == before
    # in small steps: the steps before the locked file stand, the one reaching it is refused whole
    Folder.load(folder._eid).delete_in_steps(2)
    with pytest.raises(ConflictError):
        _finish(Folder, folder._eid, 2)
    assert File.load(files[4]._eid) is not None
    File.load(files[4]._eid).locks.remove(lock)
    _finish(Folder, folder._eid, 2)
    assert File.count() == 0 and Folder.count() == 0


def test_only_the_caller_who_started_a_delete_continues_it(fresh_db):
    Node = node_type()
    set_caller_id("alice")
    _chain(Node, 20)
    Node.load(1).delete_in_steps(2)
    set_caller_id("bob")
    before = dict(fresh_db._storage._data)
    with pytest.raises(NotFoundError):
        Node.continue_delete(1)
    assert dict(fresh_db._storage._data) == before
    set_caller_id("alice")
    _finish(Node, 1, 2)
    assert Node.count() == 0


def test_the_cascade_deletes_only_what_the_write_guard_allows(fresh_db):
    Node = node_type()
    set_caller_id("alice")
    nodes = _chain(Node, 10)
    set_caller_id("bob")
    bobs = Node(label="bob's", parent=Node.load(nodes[5]._eid))
    set_caller_id("alice")
    fresh_db.set_write_guard(lambda entity, action: action != ACTION_DELETE or entity._owner == "alice")
    try:
        Node.load(1).delete_in_steps(2)
        _finish(Node, 1, 2)
    finally:
        fresh_db.set_write_guard(None)
    kept = Node.load(bobs._eid)
    assert Node.count() == 1 and kept is not None and kept.parent is None



def test_a_one_to_one_cascade_asks_the_guard_when_a_step_reaches_each_entity(fresh_db):
    """To-one Cascade targets wait on the work list; the guard is asked again when a later step gets to
    them, with the caller's rights at that moment: one the caller may no longer delete is kept, unlinked."""
    set_caller_id("alice")
    Link, links = _link_chain(6)
    set_caller_id("bob")
    bobs = Link(label="bob's")
    links[-1].next = bobs       # (made before any guard: the last of alice's links points at bob's)
    set_caller_id("alice")
    spared = set(["bob"])
    fresh_db.set_write_guard(lambda entity, action: action != ACTION_DELETE or entity._owner not in spared)
    try:
        assert not links[0].delete_in_steps(1)["done"]      # links[1] waits on the work list
        spared.add("alice")                                  # alice may delete none of them any more
        assert Link.continue_delete(links[0]._eid, 10)["done"]
    finally:
        fresh_db.set_write_guard(None)
    kept = Link.load(links[1]._eid)
    assert Link.load(links[0]._eid) is None and kept is not None and kept.prev is None
    assert Link.count() == 6 and Link.load(bobs._eid).prev is links[-1]
    spared.discard("alice")
    fresh_db.set_write_guard(lambda entity, action: action != ACTION_DELETE or entity._owner not in spared)
    try:
        kept.delete_in_steps(1)
        _finish(Link, kept._eid, 1)
    finally:
        fresh_db.set_write_guard(None)
    assert Link.count() == 1 and Link.load(bobs._eid).prev is None      # bob's is unlinked, not deleted


def test_a_half_deleted_entity_takes_no_new_links_and_new_children_go_too(fresh_db):
    Node = node_type()
    nodes = _chain(Node, 30)
    Node.load(1).delete_in_steps(3)
    with pytest.raises(UnknownTargetError):
        Node(label="late", parent=1)                   # the root is gone: no link to it
    deep = Node.load(nodes[25]._eid)                   # not reached yet: still live
    late = Node(label="late child", parent=deep)
    _finish(Node, 1, 3)
    assert Node.load(late._eid) is None and Node.count() == 0


def test_deleting_twice_and_bad_units(fresh_db):
    Node = node_type()
    _chain(Node, 10)
    root = Node.load(1)
    with pytest.raises(ValidationError):
        root.delete_in_steps(0)
    root.delete_in_steps(2)
    with pytest.raises(NotFoundError):
        root.delete_in_steps(2)
    with pytest.raises(ValidationError):
        Node.continue_delete(1, -1)
    _finish(Node, 1, 2)


def test_the_queue_serves_jobs_in_turn_and_blocked_jobs_leave_it(fresh_db):
    Node = node_type()
    set_caller_id("alice")
    first = _chain(Node, 10)[0]
    second = _chain(Node, 10)[0]
    first.delete_in_steps(2)
    second.delete_in_steps(2)
    assert next_queued_job(fresh_db) == ("Node", first._eid, "alice")
    requeue_job(fresh_db, "Node", first._eid)
    assert next_queued_job(fresh_db) == ("Node", second._eid, "alice")
    block_job(fresh_db, "Node", second._eid, "a restrict link")
    assert next_queued_job(fresh_db) == ("Node", first._eid, "alice")
    _finish(Node, first._eid, 2)
    assert next_queued_job(fresh_db) is None
    _finish(Node, second._eid, 2)      # continued by hand, it finishes
    assert Node.count() == 0


def test_the_meter_stops_a_step_after_its_first_unit(fresh_db):
    Node = node_type()
    _chain(Node, 10)
    used = [10**12]
    fresh_db.set_meter(lambda: used[0], 2 * 10**12, 1)
    try:
        assert Node.load(1).delete_in_steps(100)["deleted"] == 1
        assert Node.continue_delete(1, 100)["deleted"] == 2
    finally:
        fresh_db.set_meter(None, None)
    assert Database.get_instance() is fresh_db
    _finish(Node, 1, 100)
    assert Node.count() == 0




def test_links_already_released_from_their_other_side_count_as_units_so_a_step_stays_bounded(fresh_db):
    """Children re-parented while their old parent's delete is under way leave its link set naming
    them; each such id still costs a read, so a step reads at most `units` of them, and the meter stops
    it as it stops any other unit, however many there are."""
    Node = node_type()
    home = Node(label="home")
    for units, metered in ((2, False), (100, True)):
        root = Node(label="root")
        children = [Node(label=str(i), parent=root) for i in range(40)]
        assert not root.delete_in_steps(1)["done"]
        for child in children:
            child.parent = home
        if metered:
            fresh_db.set_meter(lambda: 10**12, 2 * 10**12, 1)    # past the step limit from the start
        try:
            assert _finish(Node, root._eid, units) >= 15
        finally:
            fresh_db.set_meter(None, None)
        assert Node.load(root._eid) is None and all(child.parent is home for child in children)
    assert Node.count() == 81


def _restore_is_refused_while_deleting(db, type_name: str, eid: int) -> dict:
    """A restore record of `type_name` #`eid`, after checking that restoring it now is refused as "being
    deleted" and changes nothing."""
    record = {"type": type_name, "id": eid, "fields": {"label": "again"}, "owner": "o", "creator": "o",
              "updater": "o", "created": 1, "updated": 1, "version": 1}
    before = dict(db._storage._data)
    with pytest.raises(ConflictError, match="being deleted"):
        db.restore([record])
    assert dict(db._storage._data) == before
    return record


def test_restore_refuses_the_id_of_an_entity_whose_links_are_still_being_released(fresh_db):
    Node = node_type()
    _chain(Node, 20)
    Node.load(1).delete_in_steps(3)
    held = [int(k.rpartition(":")[2]) for k in fresh_db._storage._data if k.startswith("!dh:")][0]
    assert Node.load(held) is None      # deleted, its children link still being released
    record = _restore_is_refused_while_deleting(fresh_db, "Node", held)
    _finish(Node, 1, 3)
    assert fresh_db.restore([record]) == 1 and Node.load(held).label == "again"


def test_restore_refuses_the_id_of_a_root_whose_delete_goes_on_without_held_links(fresh_db):
    """A root with only to-one links holds no link set, but its job is named by its id: a restored
    entity of that id would be deleted into that job and leave the rest of the first cascade undone."""
    Link, links = _link_chain(20)
    assert not links[0].delete_in_steps(2)["done"]
    record = _restore_is_refused_while_deleting(fresh_db, "Link", 1)
    _finish(Link, 1, 2)
    assert Link.count() == 0
    assert fresh_db.restore([record]) == 1 and Link.load(1).label == "again"


def test_link_sets_over_many_id_buckets_are_released_and_removed(fresh_db):
    from kybra_simple_db import MemoryMap

    db = Database.init(db_storage=MemoryMap(memory_id=1, max_key_size=100, max_value_size=100))
    assert db.bucket_width <= 256

    class Hub(Entity):
        label = String()
        members = ManyToMany("Member", "hubs")

    class Member(Entity):
        label = String()

    hub = Hub(label="h")
    members = [Member(label=str(i)) for i in range(700)]
    for member in members[::3]:
        hub.members.add(member)
    hub.delete_in_steps(17)
    _finish(Hub, hub._eid, 17)
    assert all(len(Member.load(m._eid).hubs) == 0 for m in members[::3])
    assert not [k for k in db._storage._data if ">" in k and k.startswith(str(db.type_code("Hub")))]


def test_the_cascade_reaches_entities_with_caller_chosen_text_ids(fresh_db):
    Node = node_type()
    root = Node(label="root")
    named = Node(_id="peter", label="named", parent=root)
    Node(label="below", parent=named)
    root.delete_in_steps(1)
    _finish(Node, root._eid, 1)
    assert Node.count() == 0 and Node.load("peter") is None


def test_a_one_operation_delete_reaches_text_id_entities_too(fresh_db):
    Node = node_type()
    root = Node(label="root")
    Node(_id="peter", label="named", parent=root)
    root.delete()
    assert Node.count() == 0 and Node.load("peter") is None


def _background_step(db, cls, units: int = 2):
    """What the canister's timer does once: a step of the queued job whose turn it is, run as the caller
    who started it, then that job to the back of its caller's queue; (caller, id) served, or None."""
    job = next_queued_job(db)
    if job is None:
        return None
    type_name, eid, caller = job
    set_caller_id(caller)
    cls.continue_delete(eid, units)
    requeue_job(db, type_name, eid)
    return caller, eid


def _queue_keys(storage) -> set:
    return {k for k in storage._data if k.startswith("!dq")}


def _finish_steps_alone(Node, units: int = 2) -> int:
    """The background steps a delete of a fresh 10-chain takes when nobody else has one queued."""
    set_caller_id("carol")
    root = _chain(Node, 10)[0]
    root.delete_in_steps(units)
    steps = 1
    while DeleteJob.load(Database.get_instance(), "Node", root._eid) is not None:
        steps += 1
        Node.continue_delete(root._eid, units)
    return steps


def test_the_background_serves_callers_in_turn_not_jobs(fresh_db):
    """Fairness: a caller with many queued deletes gets one background step in turn with a caller who has
    one, so bob's delete is not held up behind alice's whole queue."""
    Node = node_type()
    set_caller_id("alice")
    alices = [_chain(Node, 10)[0] for _ in range(5)]
    for root in alices:
        root.delete_in_steps(2)
    set_caller_id("bob")
    bobs = _chain(Node, 10)[0]
    bobs.delete_in_steps(2)
    served = [_background_step(fresh_db, Node) for _ in range(6)]
    assert [caller for caller, _ in served] == ["alice", "bob"] * 3
    assert [eid for caller, eid in served if caller == "alice"] == [root._eid for root in alices[:3]]
    picks = 6
    while DeleteJob.load(fresh_db, "Node", bobs._eid) is not None:
        assert _background_step(fresh_db, Node)[0] in ("alice", "bob")
        picks += 1
    bob_steps = _finish_steps_alone(Node)
    assert picks <= 2 * bob_steps    # every other step is bob's, whatever alice has queued
    while _background_step(fresh_db, Node) is not None:
        pass
    assert Node.count() == 0
    assert _queue_keys(fresh_db._storage) == {"!dq"} and next_queued_job(fresh_db) is None


def test_a_caller_whose_jobs_all_finished_or_were_blocked_leaves_the_ring(fresh_db):
    Node = node_type()
    set_caller_id("alice")
    first, second = _chain(Node, 10)[0], _chain(Node, 10)[0]
    first.delete_in_steps(2)
    second.delete_in_steps(2)
    set_caller_id("bob")
    bobs = _chain(Node, 10)[0]
    bobs.delete_in_steps(2)
    set_caller_id("alice")
    _finish(Node, first._eid, 2)        # by hand: its queue entry is stale
    block_job(fresh_db, "Node", second._eid, "a restrict link")
    assert next_queued_job(fresh_db) == ("Node", bobs._eid, "bob")      # alice's stale entries dropped
    assert not any(k.startswith("!dqc:alice") for k in fresh_db._storage._data)
    set_caller_id("alice")
    assert Node.continue_delete(second._eid, 2)["done"] is False     # continued by hand: queued again
    assert next_queued_job(fresh_db) == ("Node", bobs._eid, "bob")
    assert next_queued_job(fresh_db) == ("Node", second._eid, "alice")


def test_jobs_of_the_older_single_queue_join_their_callers_queues(fresh_db):
    """A state written before the queue was per caller (`!dq:<n>` held job keys): its jobs are still
    carried on, in turn."""
    Node = node_type()
    set_caller_id("alice")
    first, second = _chain(Node, 10)[0], _chain(Node, 10)[0]
    first.delete_in_steps(2)
    set_caller_id("bob")
    second.delete_in_steps(2)
    with fresh_db.operation():
        for key in _queue_keys(fresh_db._storage):
            fresh_db.delete(key)
        for position, root in enumerate((first, second)):
            key = delete_jobs.job_key("Node", root._eid)
            record = json_text.loads(fresh_db.get(key))
            record["q"] = position
            fresh_db.put(key, json_text.dumps(record))
            fresh_db.put("!dq:" + str(position), key)
        fresh_db.put("!dq", "0,2")
    assert next_queued_job(fresh_db) == ("Node", first._eid, "alice")
    while _background_step(fresh_db, Node) is not None:
        pass
    assert Node.count() == 0 and _queue_keys(fresh_db._storage) == {"!dq"}


def test_one_pick_drops_a_bounded_number_of_stale_entries(fresh_db):
    """Alice's many finished jobs are dropped from the queue at most QUEUE_SCAN per pick, and she loses
    her turn when the scan runs out in them: bob is served on the next pick, not after all of them."""
    Node = node_type()
    set_caller_id("alice")
    roots = [_chain(Node, 1)[0] for _ in range(2 * delete_jobs.QUEUE_SCAN + 20)]
    for root in roots:
        root.delete_in_steps(1)
    set_caller_id("bob")
    bobs = _chain(Node, 3)[0]
    bobs.delete_in_steps(1)
    set_caller_id("alice")
    for root in roots:
        _finish(Node, root._eid, 1)
    stale = len(_queue_keys(fresh_db._storage))
    assert next_queued_job(fresh_db) is None        # the scan ran out in alice's stale entries
    assert stale - len(_queue_keys(fresh_db._storage)) <= delete_jobs.QUEUE_SCAN + 1
    assert next_queued_job(fresh_db) == ("Node", bobs._eid, "bob")
    picks = 0
    while delete_jobs.queued(fresh_db):     # what the canister's timer does: again while any is queued
        _background_step(fresh_db, Node)
        picks += 1
    assert picks <= 8 and Node.count() == 0 and _queue_keys(fresh_db._storage) == {"!dq"}


def test_many_callers_with_stale_entries_cost_one_pick_a_bounded_scan(fresh_db):
    """Many callers whose queued deletes all finished by hand (each a ring entry, a caller queue and a
    stale job entry): one pick drops at most QUEUE_SCAN of them, the next picks reach bob's live job,
    and the ring ends empty; no pick serves a caller its job does not belong to."""
    Node = node_type()
    callers = ["c" + str(i) for i in range(delete_jobs.QUEUE_SCAN + 30)]
    for caller in callers:
        set_caller_id(caller)
        root = _chain(Node, 1)[0]
        root.delete_in_steps(1)
        _finish(Node, root._eid, 1)
    set_caller_id("bob")
    bobs = _chain(Node, 3)[0]
    bobs.delete_in_steps(1)
    before = len(_queue_keys(fresh_db._storage))
    assert next_queued_job(fresh_db) is None        # the scan ran out in the stale callers
    assert before - len(_queue_keys(fresh_db._storage)) <= 3 * delete_jobs.QUEUE_SCAN + 3
    assert next_queued_job(fresh_db) == ("Node", bobs._eid, "bob")
    while delete_jobs.queued(fresh_db):
        served = _background_step(fresh_db, Node)
        assert served is None or served[0] == "bob"
    assert Node.count() == 0 and _queue_keys(fresh_db._storage) == {"!dq"}
