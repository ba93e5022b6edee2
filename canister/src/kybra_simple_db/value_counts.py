"""Exact counts per value of an ordered index, stored only for values that have many entries.

A "light" value (fewer than HEAVY entries) is counted from its entries in the field's B+tree: one
descent and a leaf or two. A value reaching HEAVY entries becomes "heavy": its count goes into a small
per-field B+tree keyed by value (header `<tc>+<field>[!<gen>]`, nodes as in ordered_index.py), and
leaves it again when it falls under LIGHT (the gap keeps a value near the threshold from moving in and
out on every change). A field's heavy values share few count nodes (one for up to about a hundred of
them), so an update moving an entity between two heavy values rewrites one count node (the staged write
set coalesces both changes) and a change to a light value writes no count at all. Long Text values,
which the B+tree keeps as a prefix, are counted exactly under their own key (key_layout.value_count_key).

Invariants: a value in the count tree has its exact count there and at least LIGHT entries; any other
value has fewer than HEAVY entries. Every change runs inside the entity's operation (all-or-nothing).

That is count mode "v", kept by indexes created before mode "t". Mode "t" (key schema "t": every ordered
index created since) stores in the same tree, for each value V whose entries span two or more leaves,
nontail(V): its entries outside its last leaf (see tail_runs.py); its count is that and its run in its
last leaf (one descent, a second leaf at most). An insert appending to a value's run in its last leaf
changes no stored count, and needs no read to know it.
"""

from typing import Optional

from . import index_nodes
from . import key_layout as keys
from .ordered_index import OrderedIndex, rank

HEAVY = 64      # a light value reaching this many entries gets a stored count
LIGHT = 32      # a heavy value falling under this many entries loses it
_ENTRY = index_nodes.ENTRY
_FIELD = index_nodes.FIELD


class CountTree(OrderedIndex):
    """A B+tree of [value, count] entries ordered by value alone (one entry per value)."""

    @staticmethod
    def _keys(node) -> list:
        entries = node if type(node) is list else node["s"]
        return [(rank(v), v) for v, _ in entries]

    @staticmethod
    def _entry_key(value, count: int) -> tuple:
        return (rank(value), value)

    def get(self, value) -> Optional[int]:
        """The stored count of `value`, None when it has none (parses only the entries a binary search
        needs; a Text value stored unescaped is found in its leaf's text, as `add_text` finds it)."""
        if type(value) is str and (not value or min(value) >= index_nodes.PLAIN):
            text = self._text_leaf(value)
            if text is None:
                return None
            whole = "s" + value + _FIELD
            if text.startswith("L" + whole):
                rest = text[len(whole) + 1:]
            else:
                rest = text.partition(_ENTRY + whole)[2]
                if not rest:
                    return None
            return int(rest.partition(_ENTRY)[0])
        target = (rank(value), value)
        found = self._leaf_view(target)
        if found is None:
            return None
        view = found[1]
        pos = self._position(view, target)
        if pos == len(view[1]):
            return None
        stored, count = self.entry_at(view, pos)
        return count if (rank(stored), stored) == target else None

    def add(self, value, delta: int, floor: int) -> bool:
        """Add `delta` to the stored count of `value`, forgetting it when it falls under `floor`; False
        (nothing changed) when `value` has no stored count. The common case replaces one entry text of the
        leaf (nothing else is decoded: see OrderedIndex._entry); a removal or a leaf that would outgrow its
        value goes through the tree's split and merge."""
        if type(value) is str and (not value or min(value) >= index_nodes.PLAIN):
            return self.add_text(value, delta, floor)
        header = self.header()
        if not header["r"]:
            return False
        target = (rank(value), value)
        _path, nid, cached = self._locate(header, target)
        pos = self._search(cached, target)
        parts = cached[3]
        if pos == len(parts):
            return False
        stored, count = index_nodes.parse_entry(parts[pos])
        if (rank(stored), stored) != target:
            return False
        after = count + delta
        parts = parts[:pos] + [index_nodes.entry_text(value, after)] + parts[pos + 1:]
        if after < floor or not self._fits(index_nodes.leaf_text(parts)):
            self._change(self._find(value), value, after if after >= floor else None)
            return True
        node = None
        if cached[2] is not None:
            node = cached[1][:pos] + [[value, after]] + cached[1][pos + 1:]
        self._write_parts(nid, parts, None, node, cached[2])
        return True

    def add_text(self, value: str, delta: int, floor: int) -> bool:
        """`add` of a Text value stored unescaped (no character below " "), in the text of the leaf where
        its entry belongs (a field's counts usually fit one leaf, the root: found without a descent): the
        entry "s<value>\x1f<count>" is found and its count replaced without splitting the leaf."""
        _get, _prefix, limit, _text_bytes, put, _tails = self._fixed or self._fix()
        found = self._text_leaf(value, True)
        if found is None:
            return False
        key, text = found
        whole = "s" + value + _FIELD
        lead = "L" + whole      # (`partition`, not searches from an offset: see OrderedIndex.insert)
        if text.startswith(lead):
            before, found, rest = "", lead, text[len(lead):]
        else:
            before, found, rest = text.partition(_ENTRY + whole)
            if not found:
                return False
        count, ends, tail = rest.partition(_ENTRY)
        after = int(count) + delta
        text = before + (found + str(after) + ends) + tail
        if after < floor or (len(text) * 4 > limit and not (len(text) <= limit and text.isascii())
                             and not self._fits(text)):
            self._change(self._find(value), value, after if after >= floor else None)
            return True
        put(key, text)      # (what `_write` does, inline)
        self._remember(key, [text, None, None, None, None])
        return True

    def _text_leaf(self, value: str, keyed: bool = False):
        """The text of the leaf where the entry of the Text value `value` (stored unescaped) belongs
        ((its node key, its text) when `keyed`), None in an empty tree; a field's counts usually fit one
        leaf, the root: found without a descent."""
        get, prefix = (self._fixed or self._fix())[:2]
        head = get(prefix)
        if not head:
            return None
        root = self._root
        if root is None or root[0] != head:
            root = self._root_of(head)
        key = root[3]
        text = get(key)
        if text is None:
            raise LookupError(f"index node {key} is missing")
        if text[0] != "L":
            _path, nid, cached = self._locate(self.header(), (2, value), False, True)
            key = self._node_key(nid)
            text = cached[0]
        return (key, text) if keyed else text

    def set(self, value, count: Optional[int]) -> None:
        """Store `count` for `value` (None: forget it)."""
        found = self._find(value)
        if found is None:
            if count is not None:
                self._put_header({"r": 1, "n": 2, "h": 1})
                self._write(1, [[value, count]])
            return
        self._change(found, value, count)

    def _find(self, value) -> Optional[tuple]:
        """(header, path, leaf nid, the leaf's cache entry, position, present) of `value`'s place in its
        leaf, None in an empty tree (see OrderedIndex._locate: nothing is decoded)."""
        header = self.header()
        if not header["r"]:
            return None
        target = (rank(value), value)
        plain = type(value) is str and (not value or min(value) >= index_nodes.PLAIN)
        path, nid, cached = self._locate(header, target, True, plain)
        pos = self._search(cached, target)
        present = pos < len(cached[3]) and self._key_at(cached, pos) == target
        return header, path, nid, cached, pos, present

    def _change(self, found: tuple, value, count: Optional[int]) -> None:
        """Store `count` for `value` (None: forget it) at the place `_find` found, on the leaf's entry
        texts (a split or a merge as OrderedIndex makes them)."""
        header, path, nid, cached, pos, present = found
        parts = cached[3]
        if count is None:
            if present:
                parts = parts[:pos] + parts[pos + 1:]
                self._shrink(header, path, nid, parts, None, index_nodes.leaf_text(parts))
            return
        entry = [index_nodes.entry_text(value, count)]
        self._store_parts(header, path, nid, parts[:pos] + entry + parts[pos + present:], None)

    def items(self) -> list:
        """Every [value, count] in value order (reads every node: for tests and operators)."""
        return [list(entry) for entry in self.walk()]


_COUNT_TREES = {}       # (type code, field, generation) -> the database's count tree of that index


def count_tree(db, tc: int, field: str, gen: int) -> CountTree:
    """The count tree of the ordered index of `field` (kept per database: it holds no state of its own
    between changes)."""
    found = _COUNT_TREES.get((tc, field, gen))
    if found is None or found.db is not db:
        if len(_COUNT_TREES) >= 256:
            _COUNT_TREES.clear()
        found = _COUNT_TREES[(tc, field, gen)] = CountTree(db, keys.value_counts_key(tc, field, gen))
    return found


def _exact_key(db, index: OrderedIndex, tc: int, field: str, gen: int, value) -> Optional[str]:
    """The per-value count key of a Text value the index shortens, else None."""
    if type(value) is str and len(index.key(value)) < len(value):
        return keys.value_count_key(tc, field, value, db.key_limit, gen)
    return None


def entry_moved(db, index: OrderedIndex, tc: int, field: str, gen: int, value, delta: int,
                keyed: bool = False) -> None:
    """Keep the counts in step right after `index` inserted (delta 1) or removed (delta -1) an entry of
    `value`. `keyed`: the index was stored with a count key per value (key schema "c"); a value that
    still has its key is moved over to the count tree (or to no stored count) on this first change."""
    if type(value) is str and len(value) * 4 > index.text_bytes:
        exact = _exact_key(db, index, tc, field, gen, value)
        if exact is not None:
            db.add_to_count(exact, delta)
            return
    if keyed and fold_key(db, index, tc, field, gen, value, delta):
        return
    run = index.run_in_leaf(value)
    # all of the value's entries are in that leaf: few enough that it cannot be heavy (see invariants)
    if run is not None and (run <= LIGHT if delta > 0 else run + 1 < LIGHT):
        return
    counts = count_tree(db, tc, field, gen)
    if not counts.add(value, delta, LIGHT) and delta > 0 and index.count_near_change(value, HEAVY) >= HEAVY:
        counts.set(value, HEAVY)


def entry_added(db, index: OrderedIndex, tc: int, field: str, gen: int, value, keyed: bool = False,
                counts: Optional[CountTree] = None) -> None:
    """`entry_moved(..., value, 1, keyed)` right after `index` inserted an entry of `value` (`counts`: its
    count tree, when the caller keeps it). When the insert appended a Text value's entry in its leaf's text
    (OrderedIndex.touched notes the value's run there), the run decides with few calls (each costs about a
    step of the work on Kybra's RustPython): a run between other values' entries of at most LIGHT entries
    needs no count, any other goes to the count tree; anything else goes through `entry_moved`."""
    touched = index.touched
    run = None if touched is None or keyed else touched[3]
    if run is None or run[0] != value:      # (an equal value: a Text the index keeps whole, no count key)
        entry_moved(db, index, tc, field, gen, value, 1, keyed)
        return
    if not (run[2] or run[3]) and touched[0].count(_ENTRY + "s" + value + _FIELD) <= LIGHT:
        return      # all of its entries are in that leaf: few enough that it cannot be heavy (see invariants)
    if counts is None:
        counts = count_tree(db, tc, field, gen)
    if not counts.add_text(value, 1, LIGHT) and index.count_near_change(value, HEAVY) >= HEAVY:
        counts.set(value, HEAVY)


def tails_moved(db, index: OrderedIndex, tc: int, field: str, gen: int, value, delta: int,
                counts: Optional[CountTree] = None) -> None:
    """Count mode "t": keep the counts in step right after `index` (with `tails_counted`) inserted
    (delta 1) or removed (delta -1) an entry of `value`: its nontail changes (`index.tail_changes`) go to
    the count tree (`counts`, when the caller keeps it), a long Text value's count key takes `delta`."""
    if type(value) is str and len(value) * 4 > index.text_bytes:
        exact = _exact_key(db, index, tc, field, gen, value)
        if exact is not None:
            db.add_to_count(exact, delta)
    changes = index.tail_changes
    if not changes:
        return
    if counts is None:
        counts = count_tree(db, tc, field, gen)
    for changed, moved in changes:
        if not counts.add(changed, moved, 1):
            if moved < 0:
                raise LookupError(f"index {index.prefix} has no stored count of {changed!r} to lower")
            counts.set(changed, moved)


def fold_key(db, index: OrderedIndex, tc: int, field: str, gen: int, value, delta: int = 0) -> bool:
    """Move the count key of `value` in an index stored with one per value (key schema "c") to the
    count tree (when the value has HEAVY entries or more, `delta` included) or drop it (the value is
    light); False when it has no such key (moved already, or a long Text value, which keeps it)."""
    if _exact_key(db, index, tc, field, gen, value) is not None:
        return False
    key = keys.value_count_key(tc, field, value, db.key_limit, gen)
    text = db.get_cached(key)
    if text is None:
        return False
    db.delete(key)
    total = int(text) + delta
    if total >= HEAVY:
        count_tree(db, tc, field, gen).set(value, total)
    return True


def count(db, tc: int, field: str, gen: int, value, mode: str = "v") -> int:
    """How many entries `value` has in the ordered index of `field` (count `mode` "v", "c" or "t": see
    Database.count_mode): its count key (long Text, or, in mode "c", a value not changed since an index
    stored with a count key per value was upgraded); in mode "t" its stored nontail and its run in its
    last leaf; else its stored count, or its entries counted (fewer than HEAVY)."""
    index = OrderedIndex(db, keys.ordered_key(tc, field, gen))
    exact = _exact_key(db, index, tc, field, gen, value)
    keyed = mode == "c"
    if exact is not None or keyed:
        text = db.get_cached(exact or keys.value_count_key(tc, field, value, db.key_limit, gen))
        if exact is not None or text is not None:
            return int(text) if text else 0
    if mode == "t":     # (the count tree read only for a value that may span leaves)
        run, spans = index.tail_run(value)
        return run + ((count_tree(db, tc, field, gen).get(value) or 0) if spans else 0)
    stored = count_tree(db, tc, field, gen).get(value)
    return stored if stored is not None else index.count_value(value, HEAVY)
