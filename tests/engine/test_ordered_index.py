"""The B+tree of ordered indexes against a sorted list, over random inserts and removals."""

import random

import pytest
from kybra_simple_db import CountingMap, Database, MemoryMap, index_nodes, ordered_index
from kybra_simple_db.ordered_index import OrderedIndex, after_key, sort_key, text_prefix


def _tree(value_size=300):
    db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=value_size))
    return db, OrderedIndex(db, "1^x")


def _random_value(rng):
    return rng.choice([rng.randint(-50, 50), rng.random() * 50, f"s{rng.randint(0, 99)}", rng.random() < .5])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_walks_match_a_sorted_model_over_random_changes(seed):
    db, tree = _tree()
    rng = random.Random(seed)
    model = {}
    for step in range(1500):
        with db.operation():
            if model and rng.random() < 0.45:
                key = rng.choice(sorted(model))
                assert tree.remove(*model.pop(key))
            else:
                value, eid = _random_value(rng), rng.randint(1, 300)
                assert tree.insert(value, eid) == (sort_key(value, eid) not in model)
                model.setdefault(sort_key(value, eid), (value, eid))
        if step % 300 == 299:
            assert tree.check() == len(model)
            for key, (text, node, keys, parts, children) in ordered_index._CACHE.items():
                if "+" not in key:      # keys kept through splices are exact (not count trees)
                    assert keys is None or keys == OrderedIndex._keys(node)
                # cached nodes and entry texts are never changed in place
                assert node is None or node == index_nodes.decode(text)
                assert parts is None or (parts, children) == index_nodes.split_node(text)
            want = sorted(model)
            assert [sort_key(*e) for e in tree.walk()] == want
            assert [sort_key(*e) for e in tree.walk(descending=True)] == want[::-1]
            for bound in (sort_key(10), after_key(10), sort_key("s5"), sort_key(True)):
                assert [sort_key(*e) for e in tree.walk(bound)] == [k for k in want if k >= bound]
                assert ([sort_key(*e) for e in tree.walk(bound, inclusive=False)]
                        == [k for k in want if k > bound])
                assert ([sort_key(*e) for e in tree.walk(bound, descending=True)]
                        == [k for k in want if k <= bound][::-1])
                assert ([sort_key(*e) for e in tree.walk(bound, inclusive=False, descending=True)]
                        == [k for k in want if k < bound][::-1])


def test_removing_everything_leaves_no_keys():
    db, tree = _tree()
    with db.operation():
        for i in range(200):
            tree.insert(i % 17, i)
    with db.operation():
        for i in range(200):
            assert tree.remove(i % 17, i)
        assert not tree.remove(3, 3)
    assert [k for k in db._storage.keys() if k.startswith("1^x")] == []


def test_a_failed_operation_leaves_the_tree_as_it_was():
    db, tree = _tree()
    with db.operation():
        for i in range(100):
            tree.insert(i, i + 1)
    before = db._storage.items()
    with pytest.raises(RuntimeError):
        with db.operation():
            for i in range(100, 300):
                tree.insert(i, i + 1)
            raise RuntimeError("abort")
    assert db._storage.items() == before
    assert tree.check() == 100


def test_long_text_is_kept_as_a_prefix_that_fits_a_node():
    db, tree = _tree(value_size=300)
    with db.operation():
        for i in range(30):
            tree.insert("é" * 500 + str(i), i + 1)
    assert tree.check() == 30
    stored = [value for value, _ in tree.walk()]
    assert all(("é" * 500 + str(i)).startswith(stored[0]) for i in range(30))
    assert [eid for _, eid in tree.walk()] == list(range(1, 31))     # same prefix: by id


def test_text_prefix_is_monotone():
    rng = random.Random(5)
    alphabet = "ab\u00e9\n\"\U0001f600"
    texts = sorted("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(300))
    prefixes = [text_prefix(t, 24) for t in texts]
    assert prefixes == sorted(prefixes)


def test_insert_and_remove_cost_log_n_reads_and_one_write():
    counting = CountingMap(MemoryMap(max_key_size=100, max_value_size=1000))
    db = Database(db_storage=counting)
    tree = OrderedIndex(db, "1^x")
    n = 20_000
    for start in range(0, n, 1000):
        with db.operation():
            for i in range(start, start + 1000):
                tree.insert((i * 7919) % n, i + 1)
    height = tree.header()["h"]
    counting.reset()
    with db.operation():
        tree.insert(12345, n + 1)
    assert counting.reads <= height + 1 and counting.writes == 1
    counting.reset()
    with db.operation():
        tree.remove(12345, n + 1)
    assert counting.reads <= height + 1 and counting.writes == 1


def test_node_text_round_trips_every_kind_and_the_separator_characters():
    from kybra_simple_db import index_nodes

    odd = ["", "\x1d", "\x1e\x1f\x1c", "\x1d1", "a\x1db", "é\U0001f600", "plain"]
    leaf = [[v, i + 1] for i, v in enumerate(odd)] + [[True, 9], [False, 10], [-3, 11], [2**70, 12],
                                                       [1.5, 13], [-0.0, 14], [1e300, 15]]
    back = index_nodes.decode(index_nodes.encode(leaf))
    assert [(type(v), v, i) for v, i in back] == [(type(v), v, i) for v, i in leaf]
    inner = {"s": [["\x1c", 3]], "c": [4, 5]}
    assert index_nodes.decode(index_nodes.encode(inner)) == inner
    assert index_nodes.decode(index_nodes.encode([])) == []
    assert index_nodes.stored_size("a\x1eé") == 1 + 2 + 2


def test_a_node_split_into_entry_texts_parses_as_the_decoded_node():
    """split_node (what a descent reads a cold node as) gives the entry texts and child numbers the
    decoded node has, for leaves and inner nodes, empty ones and separator characters."""
    from kybra_simple_db import index_nodes

    entries = [["\x1c", 3], ["a\x1eb", 4], ["", 5], [True, 6], [-2, 7], [0.5, 8], ["é", 9]]
    for count in (0, 1, 2, len(entries)):
        leaf = entries[:count]
        parts, children = index_nodes.split_node(index_nodes.encode(leaf))
        assert [index_nodes.parse_entry(part) for part in parts] == leaf and children is None
        inner = {"s": entries[:count], "c": list(range(10, 11 + count))}
        parts, children = index_nodes.split_node(index_nodes.encode(inner))
        assert [index_nodes.parse_entry(part) for part in parts] == inner["s"]
        assert [int(child) for child in children] == inner["c"]


_TRICKY = ["", "a", "ab", "a\x1e", "a\x1d", "a\x05", "a ", "a\x1fb", "ab\x1c", "b", "é", "a\U0001f600", "s"]


def _tricky_value(rng):
    return rng.choice([rng.choice(_TRICKY), rng.choice(_TRICKY) + rng.choice(_TRICKY), rng.randint(-3, 3),
                       float(rng.randint(-3, 3)), rng.random() < .5, -0.0, rng.randint(0, 3) + .5])


def _run_changes(seed: int, cold: bool, ascending: bool = False) -> list:
    """Random inserts and removes; each step's map and what the changed leaf says of the value's run. Cold:
    the node caches emptied before each step (nodes read as entry texts); else every node decoded
    (`check` reads them all) so changes take the path of decoded nodes and their sort keys. `ascending`:
    each insert has a larger id than any before (a create's), most of them of a few values."""
    db, tree = _tree(120)
    rng = random.Random(seed)
    model = {}
    steps = []
    next_id = 0
    for _ in range(400):
        if cold:
            ordered_index.forget_cached()
        elif model:
            tree.check()
        with db.operation():
            if model and rng.random() < 0.35:
                key = rng.choice(sorted(model))
                value = model.pop(key)[0]
                assert tree.remove(*((value,) + key[2:]))
                runs = (tree.run_in_leaf(value),)
            else:
                value, eid = _tricky_value(rng), rng.randint(1, 60)
                if ascending:
                    next_id += 1
                    value, eid = (rng.choice(_TRICKY[:4]) if rng.random() < .7 else value), next_id
                inserted = tree.insert(value, eid)
                assert inserted == (sort_key(value, eid) not in model)
                model.setdefault(sort_key(value, eid), (value, eid))
                runs = ()
                if inserted:
                    want = sum(1 for k in model if k[:2] == sort_key(value))
                    assert tree.count_near_change(value, 1000) == want
                    runs = (tree.run_in_leaf(value),)
        steps.append((dict(db._storage._data), runs))
    assert tree.check() == len(model)
    assert [sort_key(*e) for e in tree.walk()] == sorted(model)
    return steps


@pytest.mark.parametrize("seed", [4, 5])
def test_changes_on_a_cold_heap_store_what_changes_on_decoded_nodes_store(seed):
    """An insert or a removal on nodes read as entry texts (a cold heap) writes byte for byte what it writes
    on decoded cached nodes, and finds the same run of the value in the changed leaf (count upkeep
    depends on it), for every kind of value and text with the separator and escape characters, values
    that extend others, and equal Int and Float values."""
    assert _run_changes(seed, True) == _run_changes(seed, False)


@pytest.mark.parametrize("seed", [6, 7])
def test_inserts_of_ever_larger_ids_store_the_same_on_a_cold_heap_and_on_decoded_nodes(seed):
    """A create's insert (an id larger than every one before, appended after its value's entries in the
    leaf's text: see OrderedIndex.insert) stores and counts as the general path on decoded nodes,
    through splits and a deeper tree, beside values that extend it or hold separator characters."""
    assert _run_changes(seed, True, True) == _run_changes(seed, False, True)


def test_a_text_search_over_entry_texts_agrees_with_parsing_them():
    rng = random.Random(7)
    db, tree = _tree()
    for _ in range(300):
        entries = sorted({(v, rng.randint(1, 5)) for v in (_tricky_value(rng) for _ in range(12))},
                         key=lambda e: sort_key(*e))
        parts = [index_nodes.entry_text(v, i) for v, i in entries]
        value = rng.choice(_TRICKY + [e[0] for e in entries if type(e[0]) is str])
        if min(value, default=" ") < " ":
            continue
        for target in (sort_key(value), sort_key(value, rng.randint(0, 6)), after_key(value)):
            keys = [sort_key(*e) for e in entries]
            for right in (False, True):
                parsed = tree._position((None, parts), target, 0, right)
                assert parsed == tree._position((keys, None), target, 0, right)


def test_a_text_search_among_ids_of_many_digits_agrees_with_parsing_them():
    """Among a value's entries whose ids have different numbers of digits (text order is not id order
    there), and beside values that extend it, Bool and numbers, the search over entry texts finds the place
    the sort keys give, for ids present or not, negative ones too."""
    rng = random.Random(8)
    db, tree = _tree()

    def some_id():
        return rng.choice([rng.randint(0, 9), rng.randint(10, 999), rng.randint(1000, 10**6),
                           -rng.randint(1, 99)])

    for _ in range(400):
        values = ["a", "a", "a", "ab", "a b", "", True, 2, "b"]
        entries = sorted({(rng.choice(values), some_id()) for _ in range(rng.randint(1, 40))},
                         key=lambda e: sort_key(*e))
        parts = [index_nodes.entry_text(v, i) for v, i in entries]
        keys = [sort_key(*e) for e in entries]
        present = rng.choice(entries)[1]
        for target in (sort_key("a", some_id()), sort_key("a", present), sort_key("ab", some_id())):
            for right in (False, True):
                found = tree._position((None, parts), target, 0, right)
                assert found == tree._position((keys, None), target, 0, right)


def test_equal_int_and_float_values_are_one_value_in_a_leaf_read_as_text():
    db, tree = _tree(1000)
    with db.operation():
        for i, value in enumerate([0, 1, 1.0, 2, -0.0, 0.0, 3]):
            tree.insert(value, i + 1)
    ordered_index._CACHE.clear()
    with db.operation():
        assert tree.insert(1.0, 9)
        assert tree.run_in_leaf(1.0) == 3
        assert tree.insert(0, 10)
        assert tree.run_in_leaf(0) is None            # the first entries of the leaf: may go on before it
        assert tree.count_near_change(0, 100) == 4
        assert not tree.insert(1.0, 2) and not tree.insert(1, 3)


class _NodeReads(Database):
    """A database that counts the reads of the engine's structures (get_cached reads through `get`)."""

    reads = 0

    def get(self, key):
        self.reads += 1
        return super().get(key)


def test_a_rebuilds_insert_among_its_values_entries_descends_the_tree_once():
    """An entry of an existing id among its Text value's entries (what a key rebuild inserts: not after
    the value's last, so no create's append) reads each node on its leaf's path once, whether it was
    there already or is new, on a cold heap and on a warm one, and stores what it would on the tree."""
    db = _NodeReads(db_storage=MemoryMap(max_key_size=100, max_value_size=200))
    tree = OrderedIndex(db, "1^x")
    with db.operation():
        for eid in range(1, 3001):
            if eid % 7:
                assert tree.insert(f"item-{eid % 5}", eid)
    height = tree.header()["h"]
    assert height >= 3
    for cold in (True, False):
        for eid in (1502, 1505, 14, 2999):      # present: a rebuild's no-op; multiples of 7: missing
            if cold:
                ordered_index.forget_cached()
                db.forget_cached()
            db.reads = 0
            with db.operation():
                assert tree.insert(f"item-{eid % 5}", eid) == (eid % 7 == 0 and cold)
            assert db.reads == height + 1      # the header and one node per level
    assert tree.check() == 3000 - 428 + 2     # 1505 and 14 added
    assert [e for e in tree.walk() if e[1] in (14, 1505)] == [["item-0", 1505], ["item-4", 14]]


def _cut_by_part_sizes(parts: list) -> int:
    """The cut by each part's UTF-8 size: what half_cut computes from one joined text."""
    half = sum(len(part.encode("utf-8")) + 1 for part in parts) // 2
    total = 0
    for i, part in enumerate(parts):
        total += len(part.encode("utf-8")) + 1
        if total >= half:
            return min(max(i + 1, 1), len(parts) - 1)
    return min(1, len(parts) - 1)


@pytest.mark.parametrize("seed", range(4))
def test_a_split_cuts_where_the_parts_sizes_reach_half_the_node(seed):
    rng = random.Random(seed)
    alphabet = ["a", "Z", "7", "é", "€", "𝄞", "\x1d0", "\x1d1", " "]
    for _ in range(400):
        parts = ["s" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) + "\x1f"
                 + str(rng.randint(1, 10 ** rng.randint(1, 12))) for _ in range(rng.randint(2, 40))]
        assert ordered_index.half_cut(parts) == _cut_by_part_sizes(parts)


@pytest.mark.parametrize("seed", [8, 9, 10])
def test_removals_on_entry_texts_store_what_removals_on_decoded_nodes_store(seed):
    """A removal that empties a leaf, merges nodes with a neighbour or lowers the root works on entry texts
    (nothing decoded) and writes byte for byte what the removal on decoded nodes wrote, on a cold heap
    and on decoded cached nodes, for every kind of value; the tree keeps a sorted model's entries."""
    from decoded_index import DecodedIndex

    rng = random.Random(seed)
    trees = []
    for kind in (OrderedIndex, DecodedIndex):
        db = Database(db_storage=MemoryMap(max_key_size=100, max_value_size=120))
        trees.append((db, kind(db, "1^x")))
    model = {}
    for step in range(900):
        if rng.random() < 0.5:
            ordered_index.forget_cached()
        elif model and step % 5 == 0:
            trees[0][1].check()     # every node decoded
        growing = step % 300 < 160      # waves: a tree a few levels deep, then emptied down to a leaf
        if model and rng.random() < (0.25 if growing else 0.85):
            start = rng.randrange(len(model))
            doomed = sorted(model)[start:start + rng.choice([1, 1, 3])]     # neighbours too: merges
            changes = [("remove", model.pop(key)) for key in doomed]
        else:
            value, eid = _tricky_value(rng), rng.randint(1, 500)
            changes = [("insert", (value, eid))]
            model.setdefault(sort_key(value, eid), (value, eid))
        for method, entry in changes:
            done = []
            for db, tree in trees:
                with db.operation():
                    done.append(getattr(tree, method)(*entry))
            assert done[0] == done[1] and (method == "insert" or done[0])
            assert trees[0][0]._storage._data == trees[1][0]._storage._data
    for _db, tree in trees:
        assert tree.check() == len(model)
        assert [sort_key(*e) for e in tree.walk()] == sorted(model)
