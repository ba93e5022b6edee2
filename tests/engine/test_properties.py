"""Property-based tests: random sequences of operations keep the engine's invariants.

A plain-Python model tracks what should be stored; after every step the engine must agree with it:
relations symmetric, count() equal to the live entities, no dangling link, audit sequence strictly
increasing, and a rejected operation changes no stored byte.
"""

import pytest
from engine_helpers import dump_pages
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kybra_simple_db import (
    ConflictError,
    Database,
    DatabaseError,
    Entity,
    ManyToMany,
    ManyToOne,
    MemoryMap,
    OneToMany,
    OneToOne,
    String,
    type_registry,
)

NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f", "long-" + "x" * 70])
COLORS = st.sampled_from(["red", "blue", None])
IDS = st.integers(min_value=1, max_value=6)

OPS = st.one_of(
    st.tuples(st.just("create"), NAMES, COLORS),
    st.tuples(st.just("delete"), IDS),
    st.tuples(st.just("link"), IDS, IDS),
    st.tuples(st.just("unlink"), IDS, IDS),
    st.tuples(st.just("parent"), IDS, st.one_of(st.none(), IDS)),
    st.tuples(st.just("partner"), IDS, st.one_of(st.none(), IDS)),
    st.tuples(st.just("next"), IDS, st.one_of(st.none(), IDS)),
    st.tuples(st.just("unindexed_color"), IDS, COLORS),
    st.tuples(st.just("rename"), IDS, NAMES),
    st.tuples(st.just("color"), IDS, COLORS),
    st.tuples(st.just("bad"), IDS),
    st.tuples(st.just("failed_tx"), IDS, NAMES),
    st.tuples(st.just("reinit")),
)


def _define(indexed: bool = True, clear: bool = True):
    if clear:
        type_registry.clear()

    class Node(Entity):
        __alias__ = "name"
        name = String()
        color = String(indexed=indexed)
        peers = ManyToMany("Node", "peers")
        parent = ManyToOne("Node", "children")
        children = OneToMany("Node", "parent")
        partner = OneToOne("Node", "partner")
        next = OneToOne("Node", "prev")

    return Node


def _set_next(model, i, j) -> None:
    """i.next = j in the model: each side of next/prev holds at most one node, i == j included."""
    nodes = model.nodes
    old = nodes[i]["next"]
    if old is not None:
        nodes[old]["prev"] = None
    if j is not None:
        previous = nodes[j]["prev"]
        if previous is not None:
            nodes[previous]["next"] = None
        nodes[j]["prev"] = i
    nodes[i]["next"] = j


def _color_while_unindexed(db, model, op):
    """Drop the color index, change a color and delete the newest node, then add the index back and
    rebuild it: the index must then hold exactly the current colors. Returns the new class."""
    Plain = _define(indexed=False, clear=False)
    _apply(Plain, db, model, ("color",) + op[1:])
    if model.nodes:
        _apply(Plain, db, model, ("delete", max(model.nodes)))
    Node = _define(indexed=True, clear=False)
    cursor = Node.rebuild_keys(None, 3)
    while cursor is not None:
        cursor = Node.rebuild_keys(cursor, 3)
    return Node


class Model:
    def __init__(self):
        self.nodes = {}
        self.next_id = 1

    def live(self, i):
        return i in self.nodes


def _apply(Node, db, model, op):
    kind = op[0]
    if kind == "create":
        _, name, color = op
        if any(n["name"] == name for n in model.nodes.values()):
            return "reject"
        Node(name=name, color=color)
        model.nodes[model.next_id] = {"name": name, "color": color, "peers": set(), "parent": None,
                                      "partner": None, "next": None, "prev": None}
        model.next_id += 1
    elif kind == "delete":
        i = op[1]
        if not model.live(i):
            return None
        Node.load(i).delete()
        for n in model.nodes.values():
            n["peers"].discard(i)
            if n["parent"] == i:
                n["parent"] = None
            for side in ("partner", "next", "prev"):
                if n[side] == i:
                    n[side] = None
        del model.nodes[i]
    elif kind in ("link", "unlink"):
        _, i, j = op
        if not (model.live(i) and model.live(j)):
            return None
        getattr(Node.load(i), kind)("peers", j)
        if kind == "link":
            model.nodes[i]["peers"].add(j)
            model.nodes[j]["peers"].add(i)
        else:
            model.nodes[i]["peers"].discard(j)
            model.nodes[j]["peers"].discard(i)
    elif kind == "parent":
        _, i, j = op
        if not model.live(i) or (j is not None and not model.live(j)):
            return None
        Node.load(i).parent = None if j is None else Node.load(j)
        model.nodes[i]["parent"] = j
    elif kind == "partner":
        _, i, j = op
        if not model.live(i) or (j is not None and not model.live(j)):
            return None
        Node.load(i).partner = None if j is None else Node.load(j)
        old = model.nodes[i]["partner"]
        if old is not None:
            model.nodes[old]["partner"] = None
        if j is not None:
            old_j = model.nodes[j]["partner"]
            if old_j is not None:
                model.nodes[old_j]["partner"] = None
            model.nodes[j]["partner"] = i
        model.nodes[i]["partner"] = j
    elif kind == "next":
        _, i, j = op
        if not model.live(i) or (j is not None and not model.live(j)):
            return None
        Node.load(i).next = None if j is None else Node.load(j)
        _set_next(model, i, j)
    elif kind == "rename":
        _, i, name = op
        if not model.live(i):
            return None
        if any(n["name"] == name for k, n in model.nodes.items() if k != i):
            return "reject"
        Node.load(i).name = name
        model.nodes[i]["name"] = name
    elif kind == "color":
        _, i, color = op
        if not model.live(i):
            return None
        Node.load(i).color = color
        model.nodes[i]["color"] = color
    elif kind in ("bad", "failed_tx"):
        return "reject"
    return None


def _reject(Node, db, model, op):
    """Run an operation that must fail, and return nothing: the caller checks storage is unchanged."""
    kind = op[0]
    try:
        if kind == "create":
            Node(name=op[1], color=op[2])
        elif kind == "rename":
            Node.load(op[1]).name = op[2]
        elif kind == "bad":
            target = Node.load(op[1])
            if target is None:
                Node(name=5)
            else:
                target.update_fields({"color": "green", "name": 7})
        elif kind == "failed_tx":
            with db.transaction():
                Node(name="tx-" + op[2], color="red")
                live = [i for i in model.nodes]
                if live:
                    Node.load(live[0]).color = "blue"
                    Node.load(live[0]).link("peers", live[-1])
                raise RuntimeError("abort")
    except (DatabaseError, RuntimeError, ConflictError):
        return
    raise AssertionError(f"{op} should have been rejected")


def _check(Node, db, model):
    assert Node.count() == len(model.nodes)
    assert [n.id for n in Node.instances()] == sorted(model.nodes)
    for i, expected in model.nodes.items():
        node = Node.load(i)
        assert node.name == expected["name"] and node.color == expected["color"]
        assert Node[expected["name"]] is node
        assert set(node.peers.ids()) == expected["peers"]
        assert node.refs()["parent"] == expected["parent"]
        assert node.refs()["partner"] == expected["partner"]
        assert (node.refs()["next"], node.refs()["prev"]) == (expected["next"], expected["prev"])
        kids = {k for k, n in model.nodes.items() if n["parent"] == i}
        assert set(node.children.ids()) == kids and len(node.children) == len(kids)
    for color in ("red", "blue"):
        ids = sorted(k for k, n in model.nodes.items() if n["color"] == color)
        assert [n.id for n in Node.find_all_by("color", color)] == ids
        assert Node.count_by("color", color) == len(ids)
    entries, _ = db.audit_entries(0, 10_000)
    seqs = [e["seq"] for e in entries]
    assert seqs == list(range(len(seqs)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(OPS, min_size=1, max_size=30))
def test_random_operations_keep_invariants(ops):
    storage = MemoryMap(max_key_size=100, max_value_size=60)
    db = Database.init(db_storage=storage)
    Node = _define()
    model = Model()
    seed = [("create", "s1", "red"), ("create", "s2", "blue"), ("create", "s3", None),
            ("create", "s4", "red")]
    for op in seed + ops:
        if op[0] == "reinit":
            db = Database.init(db_storage=storage)
            continue
        if op[0] == "unindexed_color":
            Node = _color_while_unindexed(db, model, op)
            _check(Node, db, model)
            continue
        before = list(storage.items())
        outcome = _apply(Node, db, model, op)
        if outcome == "reject":
            _reject(Node, db, model, op)
            assert list(storage.items()) == before
        _check(Node, db, model)
    _check_dump_restore(db)


def _check_dump_restore(db):
    """Dump in small pages, restore into an empty database: the same entities, links and metadata."""
    records = [r for page in dump_pages(db, 3) for r in page]
    before = db.dump_json()
    copy = Database.init(db_storage=MemoryMap(max_key_size=100, max_value_size=60))
    copy.restore(records)
    assert copy.dump_json() == before


def _define_tree():
    type_registry.clear()
    from kybra_simple_db import CASCADE, RESTRICT

    class Folder(Entity):
        name = String()
        parent = ManyToOne("Folder", "subfolders")
        subfolders = OneToMany("Folder", "parent", on_delete=CASCADE)
        lock = ManyToOne("Lock", "folders")

    class Lock(Entity):
        name = String()
        folders = OneToMany("Folder", "lock", on_delete=RESTRICT)

    return Folder, Lock


TREE_OPS = st.lists(st.tuples(st.sampled_from(["add", "delete", "lock", "unlock", "delete_lock", "abort"]),
                              st.integers(min_value=1, max_value=10), st.integers(min_value=0, max_value=10)),
                    min_size=1, max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREE_OPS)
def test_cascade_and_restrict_match_a_model(ops):
    storage = MemoryMap(max_key_size=100, max_value_size=200)
    db = Database.init(db_storage=storage)
    Folder, Lock = _define_tree()
    parents = {}
    locks = {}
    lock_entity = Lock(name="lock")
    next_id = 1
    for kind, a, b in ops:
        before = list(storage.items())
        if kind == "add":
            parent = b if b in parents else None
            Folder(name="f", parent=Folder.load(parent) if parent else None)
            parents[next_id] = parent
            next_id += 1
        elif kind == "delete" and a in parents:
            doomed = {a}
            while True:
                more = {k for k, p in parents.items() if p in doomed} - doomed
                if not more:
                    break
                doomed |= more
            Folder.load(a).delete()
            for k in doomed:
                del parents[k]
                locks.pop(k, None)
        elif kind == "lock" and a in parents and lock_entity.is_live():
            Folder.load(a).lock = lock_entity
            locks[a] = True
        elif kind == "unlock" and a in parents:
            Folder.load(a).lock = None
            locks.pop(a, None)
        elif kind == "delete_lock" and lock_entity.is_live():
            if locks:
                with pytest.raises(ConflictError):
                    lock_entity.delete()
                assert list(storage.items()) == before
            else:
                lock_entity.delete()
        elif kind == "abort":
            with pytest.raises(RuntimeError):
                with db.transaction():
                    Folder(name="tmp")
                    if a in parents:
                        Folder.load(a).delete()
                    raise RuntimeError
            assert list(storage.items()) == before
        assert Folder.count() == len(parents)
        assert [f.id for f in Folder.instances()] == sorted(parents)
        for fid, parent in parents.items():
            folder = Folder.load(fid)
            assert folder.refs()["parent"] == parent
            assert set(folder.subfolders.ids()) == {k for k, p in parents.items() if p == fid}
        if lock_entity.is_live():
            assert set(lock_entity.folders.ids()) == set(locks)
