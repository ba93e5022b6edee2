"""Guest side of benchmarks/engine_wasm.py: runs engine operations under Kybra's RustPython.

Runs inside the wasm interpreter (Python 3.10 syntax, Kybra's stdlib). `time.monotonic_ns()` reads
the fuel consumed so far (benchmarks/wasm_meter.py answers the clock with it), so each figure is the
wasm instructions of one operation, averaged over a sample. Prints one JSON object per line:
{"op": name, "instructions": per operation, "samples": n, ...}. KRP_ARGS selects the cases.
"""

import json
import os
import sys
import time

from kybra_simple_db import (
    CASCADE,
    Database,
    Entity,
    Integer,
    ManyToMany,
    ManyToOne,
    MemoryMap,
    OneToMany,
    String,
    json_text,
)
from kybra_simple_db.dump_restore import MAX_RESTORE_LINK_IDS

ARGS = os.environ.get("KRP_ARGS", "").split()
fuel = time.monotonic_ns
_a = fuel()
_b = fuel()
OVERHEAD = _b - _a


def emit(op: str, total: int, samples: int = 1, **extra) -> None:
    record = {"op": op, "instructions": total // samples, "samples": samples}
    record.update(extra)
    print(json.dumps(record))
    sys.stdout.flush()


def measure(op: str, items, action, prepare=None, **extra) -> None:
    """Average instructions of `action(prepare(item))` over `items` (prepare is not counted)."""
    total = 0
    for item in items:
        arg = prepare(item) if prepare is not None else item
        start = fuel()
        action(arg)
        total += fuel() - start - OVERHEAD
    emit(op, total, len(items), **extra)


def once(action):
    start = fuel()
    result = action()
    return fuel() - start - OVERHEAD, result


def fresh_db() -> Database:
    Database._instance = None
    return Database.init(audit_enabled=True, db_storage=MemoryMap(0, 100, 1000),
                         db_audit=MemoryMap(1, 100, 1000), clock=lambda: 1_700_000_000_000_000_000)


class Person(Entity):
    __alias__ = "name"
    name = String(min_length=1, max_length=50)
    age = Integer(min_value=0, max_value=1000)
    city = String(max_length=50, indexed=True)
    tags = ManyToMany("Tag", "people")


class Tag(Entity):
    label = String(max_length=50)
    people = ManyToMany("Person", "tags")


class Node(Entity):
    label = String(max_length=50)
    children = OneToMany("Node", "parent", on_delete=CASCADE)
    parent = ManyToOne("Node", "children")


def cold(db: Database):
    def drop(item):
        db.identity.clear()
        return item
    return drop


def basic(n: int, samples: int) -> None:
    Database(db_storage=MemoryMap()).now()    # the default clock works without time.time_ns
    db = fresh_db()
    step = max(1, n // samples)
    for i in range(1, n + 1 - samples):
        Person(name="person-" + str(i), age=i % 100, city="city-" + str(i % 37))
    measure("create", range(n + 1 - samples, n + 1),
            lambda i: Person(name="person-" + str(i), age=i % 100, city="city-" + str(i % 37)))
    ids = list(range(1, n + 1, step))[:samples]
    measure("get", ids, Person.load, cold(db))
    measure("get_by_alias", ["person-" + str(i) for i in ids], lambda a: Person[a], cold(db))
    people = []
    for i in ids:
        db.identity.clear()
        people.append(Person.load(i))
    measure("update_loaded", people, lambda p: setattr(p, "age", 500))
    measure("get_and_update", ids, lambda i: Person.load(i).update_fields({"age": 501}), cold(db))
    tags = [Tag(label="tag-" + str(i)) for i in range(len(ids))]
    pairs = list(zip(tags, people))
    measure("link", pairs, lambda tp: tp[0].people.add(tp[1]))
    measure("unlink", pairs, lambda tp: tp[0].people.remove(tp[1]))
    cursors = [max(0, i - 1) for i in ids[: max(1, samples // 5)]]
    measure("page_of_100", cursors, lambda c: Person.page(c, 100), cold(db))
    measure("count_filtered", ["city-" + str(i % 37) for i in range(10)],
            lambda v: Person.count_by("city", v), cold(db))
    records, _ = db.dump_page(None, 100)
    measure("dump_page_of_100", [None], lambda c: db.dump_page(c, 100), cold(db))
    text = json.dumps({"records": records}, separators=(",", ":"))
    measure("json_loads_page_of_100", [text], json.loads, chars=len(text))
    measure("json_text_decode_page_of_100", [text], json_text.decode, chars=len(text))
    measure("json_text_encode_page_of_100", [{"records": records}], json_text.encode, chars=len(text))
    doomed = [i + 1 for i in ids]
    measure("delete", doomed, lambda i: Person.load(i).delete(), cold(db))
    fresh_db()
    measure("restore_page_of_100", [records], lambda r: Database.get_instance().restore(r))


def many_links(links: int, budget: int) -> None:
    """A delete of an entity with `links` links: refused past the delete budget after bounded work,
    then emptied page by page with clear_links, then deleted."""
    db = fresh_db()
    db.delete_budget = budget or db.delete_budget
    tag = _hub(db, links)
    spent, error = once(lambda: _refused(tag.delete))
    emit("delete_with_links_refused", spent, links=links, refused=error)
    pages = 0
    total = 0
    worst = 0
    page = min(500, db.delete_budget)
    while True:
        spent, removed = once(lambda: tag.clear_links("people", page))
        if removed == 0:
            break
        pages += 1
        total += spent
        worst = max(worst, spent)
    emit("clear_links_page", total, pages, links=links, page=page, worst=worst)
    spent, _ = once(tag.delete)
    emit("delete_after_clear_links", spent, links=links)


def _hub(db: Database, links: int) -> Tag:
    """A tag linked to `links` new people, built in one transaction (not measured)."""
    tag = Tag(label="hub")
    with db.transaction():
        for i in range(1, links + 1):
            tag.people.add(Person(name="p-" + str(i), age=1, city="c"))
    return tag


def _chain(db: Database, depth: int) -> Node:
    """The root of a `depth`-deep Cascade chain of nodes, built in one transaction (not measured)."""
    root = Node(label="root")
    parent = root
    with db.transaction():
        for i in range(depth):
            parent = Node(label="n" + str(i), parent=parent)
    return root


def _refused(action) -> str:
    try:
        action()
    except Exception as exc:
        return type(exc).__name__
    return "not refused"


def cascade_chain(depth: int, budget: int) -> None:
    """Deleting the root of a `depth`-deep Cascade chain: iterative, refused past the default budget,
    and in one message when the budget allows it."""
    db = fresh_db()
    db.delete_budget = budget or db.delete_budget
    root = _chain(db, depth)
    spent, error = once(lambda: _refused(root.delete))
    emit("cascade_chain_refused", spent, depth=depth, budget=db.delete_budget, refused=error)
    db.delete_budget = depth + 10
    spent, _ = once(root.delete)
    emit("cascade_chain_delete", spent, depth, depth=depth)
    assert Node.count() == 0


STEP_LIMIT = 15_000_000_000      # the canister's api_limits.DELETE_STEP_INSTRUCTIONS
DELETE_LIMIT = 30_000_000_000


class MessageMeter:
    """`ic.performance_counter(0)` of a message: instructions since `start()`."""

    def __init__(self):
        self.began = fuel()

    def start(self) -> None:
        self.began = fuel()

    def __call__(self) -> int:
        return fuel() - self.began


def run_messages(op: str, meter: MessageMeter, first, more, done, **extra) -> None:
    """Call `first()`, then `more()` until `done(result)`, each call one message; emits the messages'
    average, the worst one and how many there were."""
    total = worst = messages = 0
    step = first
    while True:
        meter.start()
        spent, result = once(step)
        messages += 1
        total += spent
        worst = max(worst, spent)
        if done(result):
            break
        step = more
    emit(op, total, messages, messages=messages, worst=worst, limit=UPDATE_LIMIT, **extra)


def links_in_steps(links: int, budget: int) -> None:
    """The delete of an entity with `links` ManyToMany links, continued across messages with the
    canister's per-message bounds (delete_budget units, no new unit past 15B)."""
    db = fresh_db()
    db.delete_budget = budget or db.delete_budget
    meter = MessageMeter()
    db.set_meter(meter, DELETE_LIMIT, STEP_LIMIT)
    tag = _hub(db, links)
    run_messages("delete_in_steps_links", meter, tag.delete_in_steps,
                 lambda: Tag.continue_delete(tag.id), lambda p: p["done"], links=links,
                 units=db.delete_budget)
    assert Tag.count() == 0 and Person.count() == links


def chain_in_steps(depth: int, budget: int) -> None:
    """The delete of the root of a `depth`-deep Cascade chain, continued across messages."""
    db = fresh_db()
    db.delete_budget = budget or db.delete_budget
    meter = MessageMeter()
    db.set_meter(meter, DELETE_LIMIT, STEP_LIMIT)
    root = _chain(db, depth)
    run_messages("delete_in_steps_chain", meter, root.delete_in_steps,
                 lambda: Node.continue_delete(root.id), lambda p: p["done"], depth=depth,
                 units=db.delete_budget)
    assert Node.count() == 0


def service_chain_in_steps(depth: int) -> None:
    """The canister's `delete` of the root of a `depth`-deep Cascade chain (db_api over in-memory maps,
    certified-data upkeep included), carried on by its timer callback, one message per call."""
    meter = MessageMeter()
    timers = []
    api = _service_api(meter, set_timer=lambda: timers.append(1))
    typedef = {"name": "bench::Node", "alias": None,
               "fields": [{"name": "label", "kind": {"Text": None}, "required": False, "default": None,
                           "min": None, "max": 50.0, "indexed": False}],
               "relations": [{"name": "parent", "kind": {"ManyToOne": None}, "target": "bench::Node",
                              "reverse": "children", "on_delete": {"Cascade": None}}],
               "policy": {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
                          "delete": {"Owner": None}}}
    assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    for start in range(0, depth + 1, 100):
        ops = []
        for i in range(start, min(start + 100, depth + 1)):
            fields = [{"name": "label", "value": {"Text": "n" + str(i)}}]
            if i:
                fields.append({"name": "parent", "value": {"Int": i}})
            ops.append({"Create": {"type_name": "bench::Node", "fields": fields}})
        meter.start()
        assert "Ok" in api.batch(ADMIN, ops)

    def delete():
        assert api.delete(ADMIN, "bench::Node", 1) == {"Ok": None}
        return len(timers)

    def timer():
        api.continue_deletes()
        return len(timers)

    ran = [0]

    def done(armed: int) -> bool:
        ran[0] += 1
        return armed < ran[0]    # no timer left to run

    run_messages("service_delete_in_steps_chain", meter, delete, timer, done, depth=depth)
    assert api.count(ADMIN, "bench::Node", [])["Ok"] == 0


def _service_api(meter, set_timer=None):
    """The canister's service layer (db_api) on fresh in-memory maps of the canister's sizes, certified
    map included, installed by ADMIN; `meter` is its `ic.performance_counter(0)`."""
    import db_api
    from principal import Principal

    fresh_db()
    maps = {"db": (MemoryMap(0, 128, 1024), 128, 1024), "audit": (MemoryMap(1, 80, 1024), 80, 1024),
            "meta": (MemoryMap(2, 128, 16384), 128, 16384), "cert": (MemoryMap(3, 128, 1100), 128, 1100)}
    api = db_api.DbApi(maps, clock=lambda: 1_700_000_000_000_000_000, principal=Principal.from_str,
                       meter=meter, set_timer=set_timer)
    api.install(ADMIN)
    return api


def _hub_with_links(api, targets: int, ids) -> int:
    """A group linked to `ids` of g::Person, whose ids run to `targets` (an end marker: the targets are
    ids, not documents, and only the group's side is written: a dump reads only that side)."""
    from kybra_simple_db import type_registry

    text = {"name": "name", "kind": {"Text": None}, "required": False, "default": None, "min": None,
            "max": 50.0, "indexed": False}
    for typedef in ({"name": "g::Person", "fields": [text], "relations": []},
                    {"name": "g::Group", "fields": [text], "relations": [
                        {"name": "members", "kind": {"ManyToMany": None}, "target": "g::Person",
                         "reverse": "groups", "on_delete": {"SetNull": None}}]}):
        typedef.update(alias=None, policy={"read": {"Public": None}, "create": {"Anyone": None},
                                           "modify": {"Owner": None}, "delete": {"Owner": None}})
        assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    group = api.create(ADMIN, "g::Group", [{"name": "name", "value": {"Text": "hub"}}])["Ok"]["id"]
    db = Database.get_instance()
    with db.transaction():
        db.restore([{"type": "g::Person", "max_id": targets}])
        hub = type_registry.get("g::Group").load(group)
        for start in range(0, len(ids), 50_000):
            hub.restore_links("members", ids[start:start + 50_000], False)
    return group


def _dump_pages(api, meter, op: str, **extra) -> list:
    """Every dump page, one message each; emits their average, the worst and how many."""
    pages, cursor, total, worst = [], None, 0, 0
    while True:
        meter.start()
        spent, reply = once(lambda after=cursor: api.dump(ADMIN, after, 100))
        assert "Ok" in reply, reply
        total += spent
        worst = max(worst, spent)
        pages.append(reply["Ok"]["data"])
        cursor = reply["Ok"]["next"]
        if cursor is None:
            break
    emit(op, total, len(pages), pages=len(pages), worst=worst, limit=QUERY_LIMIT,
         largest_page_chars=max(len(data) for data in pages), **extra)
    return pages


def service_dump_links(links: int, cap: int = 0) -> None:
    """The canister's `dump` and `restore` (db_api over in-memory maps) of a group with `links`
    ManyToMany links, page by page into a fresh canister, each page one message; then the dump of a
    group linked sparsely into a type of 10,000,000 ids (empty id buckets are read too)."""
    from kybra_simple_db import dump_restore, type_registry

    if cap:
        dump_restore.MAX_DUMP_LINK_IDS = cap      # (smoke runs: continuation records at a tiny size)
    meter = MessageMeter()
    type_registry.clear()       # only the canister's types (this module's are none of its business)
    api = _service_api(meter)
    group = _hub_with_links(api, links, list(range(1, links + 1)))
    pages = _dump_pages(api, meter, "service_dump_links_page", links=links)
    api = _service_api(meter)
    total = worst = 0
    for data in pages:
        meter.start()
        spent, reply = once(lambda page=data: api.restore(ADMIN, page))
        assert "Ok" in reply, reply
        total += spent
        worst = max(worst, spent)
    emit("service_restore_links_page", total, len(pages), links=links, pages=len(pages), worst=worst,
         limit=UPDATE_LIMIT)
    assert type_registry.get("g::Group").load(group).link_count("members") == links
    api = _service_api(meter)
    _hub_with_links(api, 10_000_000, [1, 5_000_000, 10_000_000])
    _dump_pages(api, meter, "service_dump_sparse_links_page", links=3, target_ids=10_000_000)
    restore_sparse_links(meter, min(links, MAX_RESTORE_LINK_IDS))


def restore_sparse_links(meter, count: int) -> None:
    """A restore page of `count` link ids of 18 digits, each in a bucket of its own on both sides: at
    the cap (20,000), the costliest page the cap lets through."""
    import json as plain_json

    api = _service_api(meter)
    _hub_with_links(api, 1, [1])
    step = 10**13
    record = {"type": "g::Group", "id": 2, "fields": {}, "refs": {}, "owner": ADMIN, "creator": ADMIN,
              "updater": ADMIN, "created": 1, "updated": 1, "version": 1,
              "links": {"members": [10**17 + i * step for i in range(count)]}}
    data = plain_json.dumps({"format": "kybra-simple-db-dump/1", "records": [record]})
    meter.start()
    spent, reply = once(lambda: api.restore(ADMIN, data))
    assert reply == {"Ok": 1}, reply
    emit("service_restore_page_sparse_links", spent, links=count, chars=len(data),
         worst=spent, limit=UPDATE_LIMIT)


QUERY_LIMIT = 5_000_000_000
UPDATE_LIMIT = 40_000_000_000


def restore_gap(gap: int) -> None:
    """Restoring one record `gap` ids past a type's highest id, and a page across that gap."""
    db = fresh_db()
    Person(name="first", age=1, city="c")
    records = [{"type": "Person", "id": gap, "fields": {"name": "far", "age": 2, "city": "c"},
                "owner": "o", "creator": "o", "updater": "o", "created": 1, "updated": 1, "version": 1}]
    spent, _ = once(lambda: db.restore(records))
    emit("restore_across_id_gap", spent, gap=gap)
    db.identity.clear()
    spent, (items, _) = once(lambda: Person.page(1, 100))
    assert [p.id for p in items] == [gap]
    emit("page_across_id_gap", spent, gap=gap)


def count_at_size(n: int) -> None:
    """A filtered count with `n` entities stored (half of them match)."""
    db = fresh_db()
    with db.transaction():
        for i in range(1, n + 1):
            Person(name="c-" + str(i), age=1, city="even" if i % 2 == 0 else "odd")
    db.identity.clear()
    spent, total = once(lambda: Person.count_by("city", "even"))
    assert total == n // 2
    emit("count_filtered_at_size", spent, entities=n, matches=total)


ADMIN = "evvln-dkyvs-32ztg-old72-roktw-evvu5-ycxvb-nvzcb-ygwyk-bl7u4-fqe"


def service(n: int, samples: int) -> None:
    """The canister's service layer (db_api over in-memory maps, Kybra's own Principal class): what
    an endpoint runs after Kybra decoded its Candid arguments."""
    import db_api
    from principal import Principal

    fresh_db()
    maps = {"db": (MemoryMap(0, 128, 1024), 128, 1024), "audit": (MemoryMap(1, 80, 1024), 80, 1024),
            "meta": (MemoryMap(2, 128, 16384), 128, 16384)}
    api = db_api.DbApi(maps, clock=lambda: 1_700_000_000_000_000_000, principal=Principal.from_str)
    api.install(ADMIN)
    text = {"Text": None}
    field = {"required": False, "default": None, "min": None, "max": 50.0, "indexed": False}
    typedef = {"name": "bench::Person", "alias": "name", "relations": [],
               "fields": [dict(field, name="name", kind=text),
                          dict(field, name="age", kind={"Int": None}, max=1000.0),
                          dict(field, name="city", kind=text, indexed=True)],
               "policy": {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
                          "delete": {"Owner": None}}}
    assert api.define_type(ADMIN, typedef, False) == {"Ok": None}

    def create(i):
        result = api.create(ADMIN, "bench::Person", [
            {"name": "name", "value": {"Text": "person-" + str(i)}},
            {"name": "age", "value": {"Int": i % 100}},
            {"name": "city", "value": {"Text": "city-" + str(i % 37)}}])
        assert "Ok" in result, result

    for i in range(1, n + 1 - samples):
        create(i)
    measure("service_create", range(n + 1 - samples, n + 1), create)
    db = Database.get_instance()
    ids = list(range(1, n + 1, max(1, n // samples)))[:samples]
    measure("service_get", ids, lambda i: api.get(ADMIN, "bench::Person", i), cold(db))
    measure("service_update", ids, lambda i: api.update(
        ADMIN, "bench::Person", i, [{"name": "age", "value": {"Int": 7}}], None), cold(db))
    measure("service_count_filtered", ["city-" + str(i % 37) for i in range(5)], lambda v: api.count(
        ADMIN, "bench::Person", [{"name": "city", "value": {"Text": v}}]), cold(db))


def main() -> None:
    if not ARGS or ARGS[0] == "basic":
        n = int(ARGS[1]) if len(ARGS) > 1 else 1000
        samples = int(ARGS[2]) if len(ARGS) > 2 else 50
        basic(n, samples)
    elif ARGS[0] == "service":
        service(int(ARGS[1]) if len(ARGS) > 1 else 1000, int(ARGS[2]) if len(ARGS) > 2 else 50)
    elif ARGS[0] == "gap":
        restore_gap(int(ARGS[1]))
    elif ARGS[0] == "count":
        count_at_size(int(ARGS[1]))
    elif ARGS[0] == "links":
        many_links(int(ARGS[1]), int(ARGS[2]))
    elif ARGS[0] == "cascade":
        cascade_chain(int(ARGS[1]), int(ARGS[2]))
    elif ARGS[0] == "links_steps":
        links_in_steps(int(ARGS[1]), int(ARGS[2]))
    elif ARGS[0] == "cascade_steps":
        chain_in_steps(int(ARGS[1]), int(ARGS[2]))
    elif ARGS[0] == "service_cascade_steps":
        service_chain_in_steps(int(ARGS[1]))
    elif ARGS[0] == "dump_links":
        service_dump_links(int(ARGS[1]), int(ARGS[2]) if len(ARGS) > 2 else 0)


main()
