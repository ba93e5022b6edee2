"""Tail hints of ordered indexes (OrderedIndex.insert): a create's entry of a Text value goes into the leaf
where the value's last entry went, named by a heap hint and checked against that leaf's text, without a
descent; and whatever happened to that leaf since (a split, a merge, an emptied tree whose node numbers
come back, a rolled-back unit, another database, a cold heap) the tree is stored byte for byte as
without hints."""

import random

import pytest
from kybra_simple_db import Database, MemoryMap, index_nodes, ordered_index
from kybra_simple_db.ordered_index import OrderedIndex, sort_key

VALUES = ["item-0", "item-1", "item-2", "item-3", "item-4", "it", "item-1 ", "j"]


class _NodeReads(Database):
    """A database that counts the reads of the engine's structures (get_cached reads through `get`)."""

    reads = 0

    def get(self, key):
        self.reads += 1
        return super().get(key)


def _filled(db, tree, count: int, values: int = 5) -> None:
    with db.operation():
        for eid in range(1, count + 1):
            assert tree.insert(f"item-{eid % values}", eid)


def test_a_values_next_create_reads_only_the_leaf_its_last_one_went_to():
    db = _NodeReads(db_storage=MemoryMap(max_key_size=100, max_value_size=200))
    tree = OrderedIndex(db, "1^x")
    _filled(db, tree, 3000)
    height = tree.header()["h"]
    assert height >= 3
    ordered_index.forget_cached()       # a restart: no hints
    eid = 3000
    hinted = 0
    for value in ("item-1", "item-2", "item-3"):      # runs followed by a greater value's in their leaf
        for _ in range(12):
            eid += 1
            db.reads = 0
            with db.operation():
                assert tree.insert(value, eid)
            reads = db.reads
            with db.operation():
                assert not tree.insert(value, eid)      # there already
            if reads == 1:      # the hint's leaf alone
                hinted += 1
            else:   # the value's first create since the restart, or one that may split the leaf: a descent
                assert reads in (height + 1, 1 + height + 1)
    assert hinted >= 20
    assert tree.check() == 3000 + 36


def test_a_run_that_ends_its_leaf_is_not_hinted():
    """The entry could belong to the next leaf (its separator may be an entry of the same value)."""
    db = _NodeReads(db_storage=MemoryMap(max_key_size=100, max_value_size=200))
    tree = OrderedIndex(db, "1^x")
    _filled(db, tree, 600)
    last = list(tree.walk(descending=True))[0][0]       # the greatest value ends the last leaf
    for eid in (601, 602):
        db.reads = 0
        with db.operation():
            assert tree.insert(last, eid)
        assert db.reads == tree.header()["h"] + 1
    assert last not in ordered_index._tails_of("1^x")


def test_the_count_after_a_hinted_create_finds_the_leafs_neighbours():
    """count_near_change needs the inner nodes above the leaf: found by a descent when a hint placed the
    entry (a value whose entries begin its leaf reads the leaf before it)."""
    db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=200))
    tree = OrderedIndex(db, "1^x")
    _filled(db, tree, 2000)
    assert tree.header()["h"] >= 3
    hinted_heads = 0
    for eid in range(2001, 2101):
        value = f"item-{eid % 5}"
        with db.operation():
            assert tree.insert(value, eid)
            hinted_heads += type(tree._path) is tuple and tree.touched[3][2]
            assert tree.count_near_change(value, 10_000) == sum(1 for v, _ in tree.walk() if v == value)
            assert tree.count_near_change(value, 7) == 7
    assert hinted_heads >= 10


def _apply(db, tree, rng: random.Random, model: dict, next_id: list, empty: bool = True) -> tuple:
    """One random unit of work on `tree` (kept in `model`): creates of a few values, removals (merges,
    an emptied tree unless not `empty`), a unit or a nested one rolled back; returns what the changes
    answered."""
    answers = []
    kind = rng.random()
    try:
        with db.operation():
            if kind < 0.04 and model and empty:     # everything removed: node numbers start again at 1
                for key in sorted(model):
                    answers.append(tree.remove(*model.pop(key)))
                return tuple(answers)
            if kind < 0.1:      # a unit that fails after its changes
                for _ in range(rng.randint(1, 30)):
                    next_id[0] += 1
                    answers.append(tree.insert(rng.choice(VALUES), next_id[0]))
                raise RuntimeError("rolled back")
            if kind < 0.16:     # a nested unit that fails inside one that commits
                try:
                    with db.operation():
                        for _ in range(rng.randint(1, 30)):
                            answers.append(tree.insert(rng.choice(VALUES), next_id[0] + 1000))
                            next_id[0] += 1
                        raise RuntimeError("rolled back")
                except RuntimeError:
                    pass
            for _ in range(rng.randint(1, 6)):
                if model and rng.random() < 0.3:
                    key = rng.choice(sorted(model))
                    answers.append(tree.remove(*model.pop(key)))
                    continue
                value = rng.choice(VALUES)
                eid = next_id[0] = next_id[0] + 1
                if rng.random() < 0.1:      # an existing entry again, or a smaller id (a rebuild's)
                    eid = rng.choice([k[2] for k in model] or [1])
                inserted = tree.insert(value, eid)
                assert inserted == (sort_key(value, eid) not in model)
                model.setdefault(sort_key(value, eid), (value, eid))
                answers.append((inserted, tree.count_near_change(value, 40) if inserted else None))
    except RuntimeError:
        return tuple(answers) + ("rolled back",)
    return tuple(answers)


def _run(seed: int, hints: bool, value_size: int) -> list:
    """The stored map and answers after every unit of a random workload; without `hints`, every hint is
    forgotten before each unit (each create descends)."""
    db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=value_size))
    tree = OrderedIndex(db, "1^x")
    rng = random.Random(seed)
    model, next_id, steps = {}, [0], []
    for step in range(500):
        if not hints:
            ordered_index.forget_tails()
        answers = _apply(db, tree, rng, model, next_id)
        steps.append((dict(db._storage._data), answers))
        if step % 50 == 49:
            assert tree.check() == len(model)
            assert [sort_key(*e) for e in tree.walk()] == sorted(model)
    return steps


@pytest.mark.parametrize("seed,value_size", [(1, 120), (2, 160), (3, 300)])
def test_random_work_stores_the_same_with_hints_as_without(seed, value_size):
    ordered_index.forget_cached()
    hinted = _run(seed, True, value_size)
    ordered_index.forget_cached()
    assert hinted == _run(seed, False, value_size)


def test_random_work_places_entries_by_hints(monkeypatch):
    """The workload above takes the hinted path often (so the comparison tests it)."""
    placed = []
    insert = OrderedIndex.insert

    def spy(self, value, entity_id):
        found = insert(self, value, entity_id)
        placed.append(type(self._path) is tuple)
        return found

    monkeypatch.setattr(OrderedIndex, "insert", spy)
    ordered_index.forget_cached()
    _run(1, True, 120)
    assert sum(placed) > 150     # of about 2,300 inserts (small nodes: many splits, shallow trees)


def test_a_stale_hint_to_a_node_number_used_again_by_another_database_lands_nowhere_else():
    """Hints are kept per index prefix in the process; another database's tree under the same prefix, whose
    node of that number holds other entries (or is an inner node, or absent), is checked by its own text."""
    trees = []
    for values in (5, 3):
        db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=200))
        tree = OrderedIndex(db, "1^x")
        _filled(db, tree, 1500, values)
        trees.append((db, tree))
    plain = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=200))
    reference = OrderedIndex(plain, "1^x")
    _filled(plain, reference, 1500, 3)
    ordered_index.forget_cached()
    for eid in range(1501, 1700):
        for db, tree in trees:      # each create's hint then serves the other database's next one
            with db.operation():
                assert tree.insert(f"item-{eid % 4}", eid)
        ordered_index.forget_tails()
        with plain.operation():
            assert reference.insert(f"item-{eid % 4}", eid)
    assert trees[1][0]._storage._data == plain._storage._data
    assert trees[0][1].check() == 1500 + 199


def test_an_index_of_another_generation_keeps_its_own_hints():
    db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=200))
    old, new = OrderedIndex(db, "1^x"), OrderedIndex(db, "1^x!2")
    _filled(db, old, 800)
    _filled(db, new, 300, 3)
    for prefix in ("1^x", "1^x!2"):
        hints = ordered_index._tails_of(prefix)
        assert hints and all(key.startswith(prefix + ".") for key, _path in hints.values())
    assert old.check() == 800 and new.check() == 300


def _replay(hints: bool) -> tuple:
    """A value's tail leaf split inside a unit that then fails: the hint names the split's new node, which
    the rollback takes away; later splits number a node so again, with other entries in it, before the
    value's next create. Returns (the stored map, the hint the unit left, the node count it rolled back
    to, whether the hint's node was there after the rollback)."""
    db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=200))
    tree = OrderedIndex(db, "1^x")
    _filled(db, tree, 400)
    ordered_index.forget_tails()
    nodes = tree.header()["n"]
    hint = None
    try:
        with db.operation():
            eid = 1000
            while tree.header()["n"] == nodes or eid < 1005:
                eid += 1
                assert tree.insert("item-1", eid)
            assert tree.insert("item-1", eid + 1)
            hint = ordered_index._tails_of("1^x").get("item-1", (None,))[0]
            if not hints:
                ordered_index.forget_tails()
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    gone = db.get(hint) is None if hint else None
    with db.operation():
        eid = 2000
        while tree.header()["n"] <= nodes + 2:      # other values' splits number nodes again
            eid += 1
            assert tree.insert(f"item-{2 + eid % 3}", eid)
            if not hints:
                ordered_index.forget_tails()
        for later in range(3000, 3010):
            assert tree.insert("item-1", later)
            if not hints:
                ordered_index.forget_tails()
    assert tree.check() == 400 + (eid - 2000) + 10
    return dict(db._storage._data), hint, nodes, gone


def test_a_hint_to_a_node_a_rolled_back_unit_made_is_checked_by_what_the_node_holds_now():
    ordered_index.forget_cached()
    stored, hint, nodes, gone = _replay(True)
    assert hint is not None and int(hint.rsplit(".", 1)[1]) >= nodes and gone     # the premise
    assert stored[hint] and "item-1" not in stored[hint]        # that number holds other entries now
    ordered_index.forget_cached()
    assert stored == _replay(False)[0]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_hints_path_when_taken_is_the_descents(seed):
    """The inner nodes a hint noted are taken for a count only as the path a descent to its leaf finds now
    (the same nodes at the same places), through splits that grow the root and merges that lower it."""
    ordered_index.forget_cached()
    db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=120))
    tree = OrderedIndex(db, "1^x")
    rng = random.Random(seed)
    model, next_id = {}, [0]
    taken = 0
    for _ in range(600):
        _apply(db, tree, rng, model, next_id, False)
        for key, noted in list(ordered_index._tails_of("1^x").values()):
            text = db.get(key)
            path = tree._hinted_path(key, noted) if text and text[0] == "L" else None
            if path is None:
                continue
            first = index_nodes.parse_entry(index_nodes.leaf_parts(text)[0])
            want, leaf, _ = tree._locate(tree.header(), sort_key(*first), False)
            assert str(leaf) == key.rsplit(".", 1)[1]
            assert [(str(n), pos) for n, _, pos in path] == [(str(n), pos) for n, _, pos in want]
            taken += 1
    assert taken > 500


def test_a_hints_path_is_not_taken_once_the_root_has_grown_above_it():
    """After a root split the old root keeps its number and the left half of its children: a path noted
    from it still leads to the leaf but misses the new root (a count would stop at its edge)."""
    ordered_index.forget_cached()
    db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=120))
    tree = OrderedIndex(db, "1^x")
    with db.operation():
        for eid in range(1, 304):
            assert tree.insert("b" if eid < 4 else "a", eid)    # a's last leaf ends with b's 3 entries
    ordered_index.forget_tails()
    hints = ordered_index._tails_of("1^x")
    last = 1000
    while "a" not in hints and last < 1010:      # a descent notes the hint unless it split
        last += 1
        with db.operation():
            assert tree.insert("a", last)
    hint = hints["a"]
    assert hint[1]      # a path from the root
    height = tree.header()["h"]
    with db.operation():
        eid = 5000
        while tree.header()["h"] == height:
            eid += 1
            assert tree.insert("z", eid)
    path = tree._hinted_path(*hint)
    want = tree._locate(tree.header(), sort_key("a", last), False)[0]
    assert path is None or [(str(n), pos) for n, _, pos in path] == [(str(n), pos) for n, _, pos in want]
    with db.operation():
        assert tree.insert("a", last + 1)
        assert tree.count_near_change("a", 1000) == 300 + last + 1 - 1000
        assert tree.count_near_change("a", 7) == 7
