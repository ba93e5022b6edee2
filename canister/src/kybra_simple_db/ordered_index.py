"""Ordered indexes: a B+tree of (value, id) entries whose nodes are values of the key-value map.

The map (Kybra's StableBTreeMap) has no range scan, so each indexed field keeps its own tree: a header
key `P` ("root,next node number,height") and one key `P.<node>` per node (text: index_nodes.py). In
memory a leaf is a list of [value, id] entries and an inner node {"s": separators, "c": child numbers};
decoded nodes are kept in a small cache keyed by their stored text, so hot nodes are parsed once.
Nodes split when their text would exceed the map's value size and merge when under a quarter full, so
an insert or removal reads `height` nodes and writes one leaf (plus, rarely, a split or a merge), and
a walk reads one node per leaf of entries. Entries order by a total, type-aware key (Bool < numbers <
Text, then value, then id); long Text is kept as a prefix of at most `text_bytes` JSON bytes, so the
order among texts sharing that prefix is by id (callers re-check filters on the real value).
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Optional

from . import index_nodes
from .tail_runs import TailRuns

ID_CEILING = 1 << 64     # above every id: (rank, value, ID_CEILING) is after every entry of `value`
_RANKS = {bool: 0, int: 1, float: 1, str: 2}
_PLAIN = index_nodes.PLAIN
_ENTRY = index_nodes.ENTRY
_FIELD = index_nodes.FIELD
_ENTRY_BYTE = _ENTRY.encode()


def rank(value) -> int:
    """The type's place in the index order: Bool < Int/Float/Timestamp < Text/Principal."""
    found = _RANKS.get(type(value))
    if found is None:
        raise TypeError(f"{type(value).__name__} values cannot be indexed in order")
    return found


def sort_key(value, entity_id: int = None) -> tuple:
    """The order of an entry; without an id, a bound just before every entry of `value`."""
    if entity_id is None:
        return (rank(value), value)
    return (rank(value), value, entity_id)


def after_key(value) -> tuple:
    """A bound just after every entry of `value`."""
    return (rank(value), value, ID_CEILING)


text_prefix = index_nodes.text_prefix
_CACHE = {}             # node key -> [stored text, decoded node or None, its sort keys or None, entry texts
                        # or None, child numbers as texts (None: a leaf)]: decoding costs more than comparing
                        # texts, and an insert needs only the entry texts (see `_entry`)
_CACHE_SIZE = 1024        # decoded nodes kept (a few MB of heap at most)
_HEADERS = {}             # header text -> (root, next node number, height)
_TAILS = {}               # index prefix -> {Text value: (key of the leaf where `insert` last appended an
                          # entry of it before an entry of a greater value, the inner nodes above it then)}:
                          # hints, never trusted (see `insert` and `_path_now`)
_TAILS_SIZE = 256         # hints kept per index (and indexes kept), each dropped wholesale when full (a
                          # hint holds its path's cached inner nodes: a few MB of heap at most)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def half_cut(parts: list, joined: str = None) -> int:
    """Where a node of these entry texts splits in two by size: after the first parts that, with a
    separator each, take at least half of the node's UTF-8 bytes (at least one part on each side). The
    text is joined and measured once (a size per part cost some 20,000 instructions each on Kybra's
    RustPython: a leaf's split spent about 4M on it); `joined`: that text (the parts joined, with a
    separator after the last), when the caller has it."""
    if joined is None:
        joined = _ENTRY.join(parts) + _ENTRY
    data, mark = (joined, _ENTRY) if joined.isascii() else (joined.encode("utf-8"), _ENTRY_BYTE)
    # the separator after part i ends the first i + 1 parts: the first one at or past the half is the cut
    at = data.find(mark, max(len(data) // 2 - 1, 0))
    return min(max(data.count(mark, 0, at) + 1, 1), len(parts) - 1)


def forget_cached() -> None:
    """Empty the heap's caches of nodes, headers and tail hints (what an upgrade does; for benchmarks and
    tests)."""
    _CACHE.clear()
    _HEADERS.clear()
    forget_tails()


def forget_tails() -> None:
    """Drop every tail hint (emptied in place: OrderedIndex objects keep their index's dict, see `_fix`)."""
    for tails in _TAILS.values():
        tails.clear()


def _tails_of(prefix: str) -> dict:
    """The tail hints of the index `prefix` (see `_TAILS`), one dict for every OrderedIndex of it."""
    tails = _TAILS.get(prefix)
    if tails is None:
        if len(_TAILS) >= _TAILS_SIZE:      # (emptied first: an object holding one keeps it)
            forget_tails()
            _TAILS.clear()
        tails = _TAILS[prefix] = {}
    return tails


def _filled(cached: list) -> list:
    """A cache entry (see `_CACHE`) with its entry texts and child numbers filled in."""
    if cached[3] is None:
        cached[3], cached[4] = index_nodes.split_node(cached[0])
    return cached


def _parse_header(text: str) -> tuple:
    """(root, next node number, height) of a header text, kept in `_HEADERS`."""
    if len(_HEADERS) >= _CACHE_SIZE:
        _HEADERS.clear()
    root, following, height = text.split(",")
    parsed = _HEADERS[text] = (int(root), int(following), int(height))
    return parsed


class OrderedIndex(TailRuns):
    """One field's B+tree inside the database's staged map (writes join the current operation; with
    `tails_counted`, each insert and remove notes its changes of nontail counts: see tail_runs.py)."""

    touched = None          # (text, sort keys or None, (whether a removed entry began the leaf, whether it
                            # ended it) or None, run) of the leaf the last insert or remove changed; run:
                            # (value, None, whether its entries begin the leaf, whether they end it) of a
                            # Text value `insert` appended, else None (read by value_counts.entry_added;
                            # None: no leaf to tell of)
    _path = None            # the inner nodes above it after an insert, as they were before it (a split
                            # changes the leaf and nodes on this path only: the leaves beside it are still
                            # where these nodes lead), else None; (value, id, the hint) when a tail hint
                            # placed the entry (see `_path_now`) (read by `count_near_change`)
    _located = None         # (parsed header, path, leaf nid, leaf cache entry) `insert`'s append path found
                            # and left to `_insert_located` (its node numbers below the root are texts, as a
                            # parent's text holds them: they only make node keys)

    _fixed = None           # (the database's `cached_reader`, prefix, limit, text_bytes, the database's
                            # put, the index's tail hints): what a change reads of this object, in one
                            # attribute read (see `_fix`)
    _root = None            # what `_root_of` made of the header text read last

    def _fix(self) -> tuple:
        """`_fixed`, made on first use (the object lives as long as its database)."""
        self._fixed = (self.db.cached_reader(), self.prefix, self.limit, self.text_bytes, self.db.put,
                       _tails_of(self.prefix))
        return self._fixed

    def __init__(self, db, prefix: str):
        self.db = db
        self.prefix = prefix
        limit = db.value_limit or 4096
        self.limit = limit
        self.text_bytes = max(16, limit // 4 - 32)

    # ----- storage --------------------------------------------------------------------------------

    def key(self, value):
        """The indexed form of a value (long Text shortened to its prefix)."""
        if type(value) is str:
            return text_prefix(value, self.text_bytes)
        return value

    def header(self) -> dict:
        """{"r": root node, "n": next node number, "h": height} (a new dict the caller may change)."""
        text = self.db.get_cached(self.prefix)
        if not text:
            return {"r": 0, "n": 1, "h": 0}
        parsed = _HEADERS.get(text) or _parse_header(text)
        return {"r": parsed[0], "n": parsed[1], "h": parsed[2]}

    def _root_of(self, text: str) -> tuple:
        """(header text, (root, next node number, height), node key prefix "<prefix>.", root node's key) of
        a header text, kept as `_root` (what a change reads first follows from the header's text alone)."""
        parsed = _HEADERS.get(text) or _parse_header(text)
        dot = self.prefix + "."
        self._root = (text, parsed, dot, dot + str(parsed[0]))
        return self._root

    def _put_header(self, header: dict) -> None:
        self.db.put(self.prefix, str(header["r"]) + "," + str(header["n"]) + "," + str(header["h"]))

    def _node_key(self, nid: int) -> str:
        return self.prefix + "." + str(nid)

    def read(self, nid: int):
        """Node `nid` decoded: the cache's, shared (do not change it)."""
        return self.read_keyed(nid)[0]

    def read_keyed(self, nid: int) -> tuple:
        """(node, sort keys of its entries or separators); both are the cache's: do not change them."""
        cached = self._cached(nid)
        text = cached[0]
        if cached[1] is None:
            cached[1] = index_nodes.decode(text)
        if cached[2] is None:
            cached[2] = self._keys(cached[1])
        return cached[1], cached[2]

    @staticmethod
    def _remember(key: str, entry: list) -> None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = entry

    def _write(self, nid: int, node, text: str = None, keys: list = None) -> None:
        """Store a node; `keys`, when given, are its sort keys (kept in the cache: recomputing them
        costs a pass over every entry on the next read). The cache keeps `node` itself: nobody changes
        it afterwards (changes start from a copy, as `insert` and `remove` do)."""
        key = self._node_key(nid)
        if text is None:
            text = index_nodes.encode(node)
        self.db.put(key, text)
        self._remember(key, [text, node, keys, None, None])

    def _entry(self, nid: int) -> list:
        """The cache's entry of node `nid` with its entry texts and child numbers filled in (the node is
        not decoded: a change that splices one entry and a binary search that parses a few need no more;
        see `_search`). Shared: do not change it."""
        return _filled(self._cached(nid))

    def _cached(self, nid: int) -> list:
        """The cache's entry of node `nid` for its stored text (a new, empty one when the text changed)."""
        key = self.prefix + "." + str(nid)      # _node_key, inline: once per level of every change
        text = self.db.get_cached(key)
        if text is None:
            raise LookupError(f"index node {key} is missing")
        cached = _CACHE.get(key)
        if cached is None or cached[0] != text:
            cached = [text, None, None, None, None]
            self._remember(key, cached)
        return cached

    def _search(self, cached: list, target: tuple, right: bool = False) -> int:
        """bisect_left (bisect_right if `right`) of `target` in a cache entry (see `_entry`): with its sort
        keys when it has them, else parsing only the entries a binary search visits."""
        entry_keys = cached[2]
        if entry_keys is None and cached[1] is not None:
            entry_keys = cached[2] = self._keys(cached[1])
        if entry_keys is not None:
            return bisect_right(entry_keys, target) if right else bisect_left(entry_keys, target)
        return self._position((None, cached[3]), target, 0, right)

    def _locate(self, header: dict, target: tuple, leaf_parts: bool = True, plain: bool = False) -> tuple:
        """(path of (nid, cache entry, child position) of the inner nodes, leaf nid, the leaf's cache
        entry) for `target` (see `_entry`; the leaf's entry texts only if `leaf_parts`); `plain`: the
        target is Text without characters below " " (see `_text_position`)."""
        path = []
        nid = header["r"]
        cached = self._cached(nid)
        while cached[0][0] == "I":
            _filled(cached)
            if plain and cached[1] is None:
                parts = cached[3]
                pos = self._text_position(parts, target, 0, len(parts), True)
            else:
                pos = self._search(cached, target, True)
            path.append((nid, cached, pos))
            nid = int(cached[4][pos])
            cached = self._cached(nid)
        return path, nid, (_filled(cached) if leaf_parts else cached)

    def _key_at(self, cached: list, pos: int) -> tuple:
        """The sort key of entry `pos` of a cache entry (parsed when it has no keys)."""
        if cached[2] is not None:
            return cached[2][pos]
        return self._entry_key(*index_nodes.parse_entry(cached[3][pos]))

    def _write_parts(self, nid: int, parts: list, children, node=None, keys: list = None,
                     text: str = None) -> None:
        """Store a node given as entry texts (and child numbers as texts for an inner node); `node` and
        `keys`, when known, are its decoded form and sort keys, `text` its text."""
        if text is None:
            text = index_nodes.parts_text(parts, children)
        key = self._node_key(nid)
        self.db.put(key, text)
        self._remember(key, [text, node, keys, parts, children])

    def _fitting(self, node, share: int = 1):
        """The node's text if it fits in `1/share` of a value, else None."""
        text = index_nodes.encode(node)
        return text if self._fits(text, share) else None

    def _fits(self, text: str, share: int = 1) -> bool:
        chars = len(text) * share
        if chars * 4 <= self.limit:
            return True
        # UTF-8 takes a byte per character or more (ASCII exactly one: no encoding needed)
        return chars <= self.limit and (text.isascii() or _size(text) * share <= self.limit)

    @staticmethod
    def _keys(node) -> list:
        entries = node if type(node) is list else node["s"]
        return [(_RANKS[type(v)], v, i) for v, i in entries]

    # ----- changes --------------------------------------------------------------------------------

    def insert(self, value, entity_id: int) -> bool:
        """Add the entry (value, id); False if it is already there. The append path: a Text value stored
        unescaped goes after the last of its entries in its leaf's text when the leaf has entries of it and
        the last has a smaller id (a new entity's, the common case): the entry is spliced into the text
        without splitting it, and the value's run in the leaf is noted in `touched`. The leaf is the one
        the value's tail hint names (`_TAILS`: no descent) when its text has the value's last entry there
        followed by an entry of a greater value (so the new entry lies between two of the leaf's, which
        only the leaf where it belongs can hold: every node key in the map is a node of the tree) and the
        grown text fits; else one descent finds it (inlined: each call costs about as much as a step of it
        on Kybra's RustPython) and notes the hint. Anything else (and a tree without a root) takes
        `_insert_located`, given the leaf the append path found."""
        if self.tails_counted:
            self.tail_changes = []
        if type(value) is not str:
            return self._insert_located(value, entity_id)
        get, prefix, limit, text_bytes, put, tails = self._fixed or self._fix()
        if len(value) * 4 > text_bytes:
            value = text_prefix(value, text_bytes)
        stem = "s" + value
        whole = stem + _FIELD
        lead = "L" + whole
        number = str(entity_id)
        path = []
        if value in tails:      # (noted for values stored unescaped only)
            hint = tails[value]
            key = hint[0]
            text = get(key)     # (a leaf this would grow past the value size in characters splits; a count
            # after an entry that begins the leaf may need the inner nodes above it, which one level's descent
            # finds for less than `_path_now` checks them)
            if (text is not None and text[0] == "L" and len(text) + len(whole) + len(number) < limit
                    and (len(hint[1]) > 1 or not text.startswith(lead))):
                path = None     # the hint's leaf: its own text decides below
                cached = _CACHE.get(key)
            else:       # (its node was merged away or emptied, or is an inner one now; or the leaf may split)
                del tails[value]
        elif value and min(value) < _PLAIN:
            return self._insert_located(value, entity_id)
        if path is not None:
            text = get(prefix)
            if not text:
                return self._insert_located(value, entity_id)
            root = self._root
            if root is None or root[0] != text:
                root = self._root_of(text)
            parsed = root[1]
            nid = parsed[0]
            dot = root[2]
            key = root[3]
            # after the value's entries as text, as it is in order unless an inner node's neighbours there
            # say otherwise (see `_text_position`)
            after = stem + " "
            while True:
                text = get(key)
                if text is None:
                    raise LookupError(f"index node {key} is missing")
                cached = _CACHE.get(key)
                if text[0] != "I":
                    break
                if cached is None or cached[0] != text:
                    cached = [text, None, None, None, None]
                    if len(_CACHE) >= _CACHE_SIZE:
                        _CACHE.clear()
                    _CACHE[key] = cached
                if cached[3] is None:
                    cached[3], cached[4] = index_nodes.split_node(text)
                if cached[1] is None:
                    parts = cached[3]
                    pos = bisect_left(parts, after)
                    if pos < len(parts) and parts[pos][0] != "s":
                        pos = -1        # a Bool after Text as text
                    elif pos and parts[pos - 1].startswith(stem):
                        left = parts[pos - 1]
                        if not (left.startswith(whole) and int(left[len(whole):]) <= entity_id):
                            pos = -1    # a longer value, or an entry of this one with a larger id
                    if pos < 0:
                        pos = self._text_position(parts, (2, value, entity_id), 0, len(parts), True)
                else:
                    pos = self._search(cached, (2, value, entity_id), True)
                path.append((nid, cached, pos))
                nid = cached[4][pos]    # (the child's number as its parent's text holds it: keys alike)
                key = dot + nid
        if cached is None or cached[0] != text:     # (a leaf read cold: the entry `_CACHE` gets is the
            cached = [text, None, None, None, None]     # grown text's, or `insert`'s)
        # (searches from an offset, `find(x, start)` or `startswith(x, 1)`, cost as much as copying the text
        # on Kybra's RustPython; `partition` does not: the text is taken apart around the value's last entry)
        marked = _ENTRY + whole
        before, found, rest = text.rpartition(marked)
        if found:
            head = text.startswith(lead)
        elif text.startswith(lead):     # its only entry begins the leaf
            head = True
            found, rest = lead, text[len(lead):]
        elif path is None:
            return self._insert_unhinted(value, entity_id, tails)
        else:
            self._located = (parsed, path, nid, cached)
            return self._insert_located(value, entity_id)
        last, ends, after = rest.partition(_ENTRY)
        last_id = int(last)
        if last_id >= entity_id or (path is None and not ends):
            if last_id == entity_id:
                return False
            if path is None:    # (a run ending the leaf: the entry may belong to the next one)
                return self._insert_unhinted(value, entity_id, tails)
            self._located = (parsed, path, nid, cached)
            return self._insert_located(value, entity_id)
        grown = before + (found + last + marked + number + ends) + after
        node = keys = None
        if cached[2] is not None:       # decoded already: kept decoded (the next change reuses its keys)
            pos = before.count(_ENTRY) + 1 + (found != lead)
            node = cached[1][:pos] + [[value, entity_id]] + cached[1][pos:]
            keys = cached[2][:pos] + [(2, value, entity_id)] + cached[2][pos:]
        run = (value, None, head, not ends)     # (counted when `_run` needs it)
        if not ends and self.tails_counted and self._continues(path, value):    # (path: no hint's)
            self._note_tail(value, 1)       # its run ends the leaf and goes on in the next one
        size = len(grown)
        if size * 4 <= limit or (size <= limit and grown.isascii()) or self._fits(grown):
            put(key, grown)
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.clear()
            _CACHE[key] = [grown, node, keys, None, None]
            if path is None:
                self._path = (value, entity_id, hint)
            else:
                self._path = path
                if ends and (not head or len(path) > 1):    # its next entry goes here too (see above)
                    if len(tails) >= _TAILS_SIZE:
                        tails.clear()
                    tails[value] = (key, path)
        elif path is None:      # a split, which needs the path
            return self._insert_unhinted(value, entity_id, tails)
        else:
            header = {"r": parsed[0], "n": parsed[1], "h": parsed[2]}
            self._store_parts(header, path, nid, index_nodes.leaf_parts(grown), None, text=grown)
            self._path = path       # (as it was: see `_path`)
            run = None
        self.touched = (grown, keys, None, run)
        return True

    def _insert_unhinted(self, value: str, entity_id: int, tails: dict) -> bool:
        """`insert` when the leaf a tail hint named cannot take the entry without a descent: the hint is
        dropped and the descent decides (and notes a new one)."""
        tails.pop(value, None)
        return self.insert(value, entity_id)

    def _insert_located(self, value, entity_id: int) -> bool:
        """`insert` on the general path: the leaf's text gets the entry spliced in among its entry texts
        (nothing is decoded: under Kybra's RustPython decoding a full leaf costs about 3M instructions, a
        binary search over its texts a few hundred thousand)."""
        located = self._located     # the leaf the append path descended to (an entry among its value's:
        if located is None:         # a rebuild's or a smaller id's), not looked for twice
            header = self.header()
        else:
            self._located = None
            parsed = located[0]
            header = {"r": parsed[0], "n": parsed[1], "h": parsed[2]}
        if not header["r"]:
            header = {"r": 1, "n": 2, "h": 1}
            self._put_header(header)
            self._write(1, [[value, entity_id]])
            self.touched = None
            self._path = None
            return True
        target = sort_key(value, entity_id)
        if located is None:
            plain = type(value) is str and (not value or min(value) >= _PLAIN)
            path, nid, cached = self._locate(header, target, True, plain)
        else:
            path, nid, cached = located[1:]
            _filled(cached)
        pos = self._search(cached, target)
        parts = cached[3]
        entry = index_nodes.entry_text(value, entity_id)
        if pos < len(parts) and (parts[pos] == entry or (
                type(value) is not str and self._key_at(cached, pos) == target)):   # 1 == 1.0
            return False
        if self.tails_counted:
            self._tail_inserted(path, parts, pos, value)
        parts = parts[:pos] + [entry] + parts[pos:]
        node = keys = None
        if cached[2] is not None:       # decoded already: kept decoded (the next change reuses its keys)
            node = cached[1][:pos] + [[value, entity_id]] + cached[1][pos:]
            keys = cached[2][:pos] + [target] + cached[2][pos:]
        text = self._store_parts(header, path, nid, parts, None, node, keys)
        self.touched = (text, keys, None, None)
        self._path = path       # (as it was: see `_path`)
        return True

    def _store_parts(self, header: dict, path: list, nid: int, parts: list, children, node=None,
                     keys: list = None, text: str = None) -> str:
        """Write a grown node given as entry texts (`children`: its child numbers as texts, None for a
        leaf), splitting it (and its parents) while it does not fit; `node` and `keys`: its decoded form
        and sort keys when known (cached with it), `text` its text when known (not joined again). Returns
        its text (before any split)."""
        if text is None:
            text = index_nodes.parts_text(parts, children)
        if self._fits(text):
            self._write_parts(nid, parts, children, node, keys, text)
            return text
        level = len(path)       # (the path is left as it was: see `_path`)
        joined = text[1:] + _ENTRY if children is None else None      # (a leaf's parts, joined already)
        while True:
            left, separator, right, left_children, right_children = self._split_parts(parts, children, joined)
            if joined is not None and self.tails_counted:       # (the leaf's split)
                self._tail_split(path, left, right)
            joined = None
            right_nid = header["n"]
            header["n"] = right_nid + 1
            self._write_parts(nid, left, left_children)
            self._write_parts(right_nid, right, right_children)
            if not level:
                root = header["n"]
                header["n"] = root + 1
                header["r"] = root
                header["h"] += 1
                self._write_parts(root, [separator], [str(nid), str(right_nid)])
                self._put_header(header)
                return text
            level -= 1
            nid, cached, pos = path[level]
            parts = cached[3][:pos] + [separator] + cached[3][pos:]
            children = cached[4][:pos + 1] + [str(right_nid)] + cached[4][pos + 1:]
            grown = index_nodes.parts_text(parts, children)
            if self._fits(grown):
                self._write_parts(nid, parts, children, text=grown)
                self._put_header(header)
                return text

    @staticmethod
    def _split_parts(parts: list, children, joined: str = None) -> tuple:
        """(left, separator, right, left children, right children) halves of a node's entry texts by size
        (see `half_cut`; `joined` as it takes it)."""
        cut = half_cut(parts, joined)
        if children is None:
            return parts[:cut], parts[cut], parts[cut:], None, None
        return parts[:cut], parts[cut], parts[cut + 1:], children[:cut + 1], children[cut + 1:]

    def remove(self, value, entity_id: int) -> bool:
        """Remove the entry (value, id); False if it was not there. The leaf loses the entry from its text,
        nothing decoded (see `insert`): a Text value's entry text (there is one for it) is cut out of the
        leaf's text with `partition` (no split, no search among the entries); an emptied leaf or one under a
        quarter full goes through `_shrink` (it may merge with a neighbour), on entry texts too."""
        value = self.key(value)
        if self.tails_counted:
            self.tail_changes = []
        header = self.header()
        if not header["r"]:
            return False
        target = sort_key(value, entity_id)
        text_kind = type(value) is str
        plain = text_kind and (not value or min(value) >= _PLAIN)
        path, nid, cached = self._locate(header, target, False, plain)
        if text_kind and cached[1] is None:
            return self._remove_text(header, path, nid, cached[0], index_nodes.entry_text(value, entity_id),
                                     value)
        _filled(cached)
        pos = self._search(cached, target)
        parts = cached[3]
        if pos >= len(parts) or (parts[pos] != index_nodes.entry_text(value, entity_id) and (
                type(value) is str or self._key_at(cached, pos) != target)):    # 1 == 1.0
            return False
        if self.tails_counted:
            self._tail_removed(path, parts, pos, value)
        parts = parts[:pos] + parts[pos + 1:]
        text = index_nodes.leaf_text(parts)
        node = keys = None
        if cached[2] is not None:
            node = cached[1][:pos] + cached[1][pos + 1:]
            keys = cached[2][:pos] + cached[2][pos + 1:]
        self.touched = (text, keys, (pos == 0, pos == len(parts)), None)
        self._path = None
        if parts and (not path or len(path[-1][1][4]) == 1 or not self._fits(text, 4)):
            self._write_parts(nid, parts, None, node, keys, text)
        else:
            self._shrink(header, path, nid, parts, None, text, node, keys)
        return True

    def _remove_text(self, header: dict, path: list, nid: int, text: str, entry: str, value=None) -> bool:
        """`remove` of the entry text `entry` from the text of leaf `nid` (as `_locate` found it): the text
        is taken apart around it (a search from an offset costs as much as copying the text on Kybra's
        RustPython; see `insert`), the entries beside it are not looked at (`value`: the entry's, read
        when the index counts tails)."""
        old = text
        before, found, after = text.partition(_ENTRY + entry + _ENTRY)
        if found:
            text = before + _ENTRY + after
            edges = (False, False)
        elif text.startswith("L" + entry + _ENTRY):
            text = "L" + text[len(entry) + 2:]
            edges = (True, False)
        elif text.endswith(_ENTRY + entry):
            text = text[:len(text) - len(entry) - 1]
            edges = (False, True)
        elif text == "L" + entry:
            text = "L"
            edges = (True, True)
        else:
            return False
        if self.tails_counted:
            run, head, tail = self._text_run(old, value)
            self._tail_moved(path, value, -1, tail, run == 1, head)
        self.touched = (text, None, edges, None)
        self._path = None
        if text != "L" and (not path or len(path[-1][1][4]) == 1 or not self._fits(text, 4)):
            self._write(nid, None, text)
        else:
            self._shrink(header, path, nid, index_nodes.leaf_parts(text), None, text)
        return True

    def _shrink(self, header: dict, path: list, nid: int, parts: list, children, text: str = None,
                node=None, keys: list = None) -> None:
        """Write a node that lost an entry, given as entry texts (`children`: its child numbers as texts,
        None for a leaf; `text`, `node` and `keys`: its text, decoded form and sort keys when known; `path`
        as `_locate` gives it): drop it when empty, merge it into a neighbour when both fit in three
        quarters of a node, and lower the root while it has a single child. Nothing is decoded: a
        neighbour is read as its entry texts (see `_entry`)."""
        while True:
            empty = not parts if children is None else not children
            if not path:
                self._store_root(header, nid, parts, children, empty, text, node, keys)
                return
            parent_nid, parent, pos = path.pop()
            above, siblings = parent[3], parent[4]
            if empty:
                self.db.delete(self._node_key(nid))
                siblings = siblings[:pos] + siblings[pos + 1:]
                if above:
                    cut = max(pos - 1, 0)
                    above = above[:cut] + above[cut + 1:]
                nid, parts, children, text, node, keys = parent_nid, above, siblings, None, None, None
                continue
            if text is None:
                text = index_nodes.parts_text(parts, children)
            if len(siblings) > 1 and self._fits(text, 4):
                left_pos = pos - 1 if pos > 0 else pos
                if left_pos == pos:
                    left, left_children = parts, children
                    other = self._entry(int(siblings[pos + 1]))
                    right, right_children = other[3], other[4]
                else:
                    other = self._entry(int(siblings[left_pos]))
                    left, left_children = other[3], other[4]
                    right, right_children = parts, children
                if children is None:
                    merged, merged_children = left + right, None
                else:
                    merged = left + [above[left_pos]] + right
                    merged_children = left_children + right_children
                merged_text = index_nodes.parts_text(merged, merged_children)
                if _size(merged_text) * 4 <= self.limit * 3:
                    if children is None and self.tails_counted:     # (the leaf's merge)
                        self._tail_merged(path + [(parent_nid, parent, left_pos + 1)], left, right)
                    self._write_parts(int(siblings[left_pos]), merged, merged_children, text=merged_text)
                    self.db.delete(self._node_key(int(siblings[left_pos + 1])))
                    siblings = siblings[:left_pos + 1] + siblings[left_pos + 2:]
                    above = above[:left_pos] + above[left_pos + 1:]
                    nid, parts, children, text, node, keys = parent_nid, above, siblings, None, None, None
                    continue
            self._write_parts(nid, parts, children, node, keys, text)
            return

    def _store_root(self, header: dict, nid: int, parts: list, children, empty: bool, text: str = None,
                    node=None, keys: list = None) -> None:
        """`_shrink` at the root: an empty root takes the tree's header with it; an inner root left with
        one child gives way to it (and it to its only child, and so on)."""
        if empty:
            self.db.delete(self._node_key(nid))
            self.db.delete(self.prefix)
            return
        if children is None or len(children) > 1:
            self._write_parts(nid, parts, children, node, keys, text)
            return
        height = header["h"]
        while children is not None and len(children) == 1:
            self.db.delete(self._node_key(nid))
            nid = int(children[0])
            children = self._entry(nid)[4]
            height -= 1
        header["r"] = nid
        header["h"] = height
        self._put_header(header)

    def run_in_leaf(self, value) -> Optional[int]:
        """How many entries of `value` (in indexed form) the leaf changed by the last insert or remove
        holds when entries of other values surround them there (so no other leaf holds any), else None."""
        run = self._run(value, True)
        if run is None or run[1] or run[2]:
            return None
        return run[0]

    def _run(self, value, inner_only: bool = False) -> Optional[tuple]:
        """(entries of `value`, whether they begin the leaf, whether they end it) in the leaf the last insert
        or remove changed (None: no such leaf, or an empty one; entries 0 when `inner_only` and they begin
        or end it). Without its sort keys the leaf's text is searched for the texts every entry of `value`
        starts with (nothing is parsed)."""
        touched = self.touched
        if touched is None or touched[0] == "L":
            return None
        text, entry_keys, removed_at, run = touched
        if run is not None and run[0] == value:     # noted by `insert`
            count, head, tail = run[1:]
            if count is None:
                if inner_only and (head or tail):
                    return 0, head, tail
                count = text.count(index_nodes.ENTRY + "s" + value + index_nodes.FIELD) + head
            return count, head, tail
        if entry_keys is not None:
            first = bisect_left(entry_keys, sort_key(value))
            end = bisect_left(entry_keys, after_key(value), first)
            return end - first, first == 0, end == len(entry_keys)
        run = self._text_run(text, value, inner_only)
        if removed_at is not None and run == (0, False, False):     # none left: where the removed one was
            return 0, removed_at[0], removed_at[1]
        return run

    @staticmethod
    def _text_run(text: str, value, inner_only: bool = False, edge: int = 0) -> tuple:
        """`_run` in a leaf's text: its entries of `value` are found by the texts they start with (its
        entries are one run, as the leaf is in order). `edge` 1 (-1): the caller wants the entries only if
        they begin (end) the leaf; (0, False, False) when they do not, nothing counted."""
        plain = type(value) is str and (not value or min(value) >= index_nodes.PLAIN)
        starts = "s" + value + index_nodes.FIELD if plain else index_nodes.value_prefixes(value)
        # (a search from an offset, `startswith(x, 1)` or `rfind`, costs as much as copying the text on
        # Kybra's RustPython: the first entry is matched with the leaf's "L", the last one split off)
        head = text.startswith("L" + starts if plain else tuple(["L" + start for start in starts]))
        if edge > 0 and not head:
            return 0, False, False
        _, more, last = text.rpartition(index_nodes.ENTRY)
        tail = last.startswith(starts) if more else head
        if edge < 0 and not tail:
            return 0, False, False
        if inner_only and (head or tail):
            return 0, head, tail
        if plain:       # the one text its entries start with
            return text.count(index_nodes.ENTRY + starts) + head, head, tail
        total = 0
        for start in starts:
            total += text.count(index_nodes.ENTRY + start)
        return total + head, head, tail

    def count_value(self, value, limit: int) -> int:
        """How many entries `value` (in indexed form) has, counting at most `limit`: one descent and the
        leaves holding them (see `_node_view`)."""
        low = sort_key(value)
        high = after_key(value)
        found = self._leaf_view(low)
        if found is None:
            return 0
        stack, view = found
        first = self._position(view, low)
        total = 0
        while True:
            end = self._position(view, high, first)
            total += end - first
            if end < len(view[1]) or total >= limit:
                return min(total, limit)
            while stack and stack[-1][1] + 1 >= len(stack[-1][0]):
                stack.pop()
            if not stack:
                return total
            frame = stack[-1]
            frame[1] += 1
            view = self._node_view(int(frame[0][frame[1]]))
            while view[2] is not None:
                stack.append([view[2], 0])
                view = self._node_view(int(view[2][0]))
            first = 0

    def _leaf_view(self, target: tuple) -> Optional[tuple]:
        """(stack of [children, position] of the inner nodes, view of the leaf) where `target` belongs,
        None in an empty tree."""
        header = self.header()
        if not header["r"]:
            return None
        stack = []
        view = self._node_view(header["r"])
        while view[2] is not None:
            pos = self._position(view, target, 0, True)
            stack.append([view[2], pos])
            view = self._node_view(int(view[2][pos]))
        return stack, view

    def _node_view(self, nid: int) -> tuple:
        """(sort keys, entries, children or None) of a node for a search that changes nothing: the cached
        decoded node when the cache holds its stored text decoded, else its entry texts left unparsed
        (keys None: `_position` parses only the few a binary search needs), as a query on a cold heap
        finds it."""
        cached = self._entry(nid)
        node = cached[1]
        if node is not None:
            if cached[2] is None:
                cached[2] = self._keys(node)
            return (cached[2], node, None) if type(node) is list else (cached[2], node["s"], node["c"])
        return None, cached[3], cached[4]

    @staticmethod
    def entry_at(view: tuple, pos: int) -> list:
        """[value, id] at `pos` of a node view."""
        return view[1][pos] if view[0] is not None else index_nodes.parse_entry(view[1][pos])

    def _position(self, view: tuple, target: tuple, lo: int = 0, right: bool = False) -> int:
        """bisect_left (bisect_right if `right`) of `target` among a node view's sort keys (entry texts
        are parsed as the search visits them; a Text target is compared with them as text)."""
        if view[0] is not None:
            return bisect_right(view[0], target, lo) if right else bisect_left(view[0], target, lo)
        parts = view[1]
        hi = len(parts)
        value = target[1]
        if type(value) is str and (not value or min(value) >= index_nodes.PLAIN):
            return self._text_position(parts, target, lo, hi, right)
        while lo < hi:
            mid = (lo + hi) // 2
            key = self._entry_key(*index_nodes.parse_entry(parts[mid]))
            if key < target or (right and key == target):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _text_position(self, parts: list, target: tuple, lo: int, hi: int, right: bool) -> int:
        """`_position` of a Text target without characters below " " (which text stores unescaped): an
        entry text "s<value>\\x1f<id>" orders against it as the text "s<target>\\x1f" does, except where
        its value is the target's followed by more (then it is after), and entries of Bool and numbers
        are before; only an entry of the target's value is parsed (its id or count). A place text order
        gives (a native bisect: after the value's entries, right for a new largest id; or at the
        target's id, right among ids of as many digits, or among its value's entries by length and text)
        is taken when its two neighbours confirm it, else the entries are searched."""
        value = target[1]
        stem = "s" + value
        whole = stem + index_nodes.FIELD
        cut = len(whole)
        entry_key = self._entry_key
        wanted = target[2] if len(target) == 3 and entry_key is OrderedIndex._entry_key else None

        def before(part: str) -> bool:
            if part.startswith(whole):
                if wanted is not None:      # an entry of the target's value: ordered by id
                    found = int(part[cut:])
                    return found < wanted or (right and found == wanted)
                key = entry_key(value, int(part[cut:]))
                return key < target or (right and key == target)
            if part[0] != "s":
                return True
            return False if part.startswith(stem) else part < whole

        probes = [whole if len(target) == 2 and not right else stem + " "]
        if wanted is not None:      # among its value's entries (ids of as many digits order as texts)
            probes.insert(len(probes) if right else 0, whole + str(wanted))
        for probe in probes:
            guess = bisect_left(parts, probe, lo, hi)
            if (guess == lo or before(parts[guess - 1])) and (guess == hi or not before(parts[guess])):
                return guess        # the one place where the (sorted) entries turn from before to after
        if wanted is not None and wanted >= 0:
            # among its value's entries (where text order puts them) ids of fewer digits come first and ids
            # of as many order as texts: native bisects by length, then by text, give the place
            probe = whole + str(wanted)
            size = len(probe)
            first = bisect_left(parts, whole, lo, hi)
            end = bisect_left(parts, stem + " ", first, hi)
            first = bisect_left(parts, size, first, end, key=len)
            end = bisect_right(parts, size, first, end, key=len)
            guess = bisect_right(parts, probe, first, end) if right else bisect_left(parts, probe, first, end)
            if (guess == lo or before(parts[guess - 1])) and (guess == hi or not before(parts[guess])):
                return guess
        while lo < hi:
            mid = (lo + hi) // 2
            if before(parts[mid]):
                lo = mid + 1
            else:
                hi = mid
        return lo

    @staticmethod
    def _entry_key(value, entity_id: int) -> tuple:
        return (_RANKS[type(value)], value, entity_id)

    def count_near_change(self, value, limit: int) -> int:
        """`count_value` right after an insert of `value`: from the leaf it changed and its neighbours
        (no descent from the root; after a split too, from the leaf's text before it: see `_path`)."""
        run = self._run(value)
        path = self._path
        if type(path) is tuple:     # (placed by a tail hint)
            path = self._path_now()
        if run is None or path is None:
            return self.count_value(value, limit)
        total, head, tail = run
        if head:
            total += self._count_beside(value, -1, limit - total)
        if tail and total < limit:
            total += self._count_beside(value, 1, limit - total)
        return min(total, limit)

    def _path_now(self) -> Optional[list]:
        """`_path`; after an insert a tail hint placed, the inner nodes the hint noted (see `_hinted_path`)
        or, when they no longer lead to its leaf, those a descent to the entry finds."""
        path = self._path
        if type(path) is tuple:
            value, entity_id, hint = path
            path = self._hinted_path(*hint)
            if path is None:
                path = self._locate(self.header(), sort_key(value, entity_id), False, True)[0]
            self._path = path
        return path

    def _hinted_path(self, key: str, noted: list) -> Optional[list]:
        """The inner nodes a tail hint noted above its leaf `key`, at their children's places now, when the
        first is the root and each has the next one (the last the leaf) as a child: then they are the
        leaf's path (a node has one parent). Else None. (Each step costs some 10,000 instructions on Kybra's
        RustPython: the nodes are read as `_cached` does, inline.)"""
        get, prefix = self._fixed[:2]
        text = get(prefix)
        if not text or not noted:
            return None
        dot = prefix + "."
        nid = str((_HEADERS.get(text) or _parse_header(text))[0])
        path = []
        for at in range(len(noted)):
            if nid != str(noted[at][0]):
                return None
            node_key = dot + nid
            text = get(node_key)
            cached = _CACHE.get(node_key)
            if cached is None or cached[0] != text:
                cached = [text, None, None, None, None]
                self._remember(node_key, cached)
            children = _filled(cached)[4]
            child = str(noted[at + 1][0]) if at + 1 < len(noted) else key[len(dot):]
            if children is None or child not in children:
                return None
            path.append((nid, cached, children.index(child)))
            nid = child
        return path

    def _count_beside(self, value, step: int, limit: int) -> int:
        """Entries of `value` in the leaves after (step 1) or before (step -1) the one the last insert
        changed, up to the first leaf that holds others too, counting at most `limit` (in the leaves'
        texts: see `_text_run`)."""
        stack = [[cached[4], pos] for _nid, cached, pos in self._path]
        total = 0
        while total < limit:
            while stack and not 0 <= stack[-1][1] + step < len(stack[-1][0]):
                stack.pop()
            if not stack:
                return total
            frame = stack[-1]
            frame[1] += step
            nid = int(frame[0][frame[1]])
            text = self._cached(nid)[0]
            while text[0] == "I":
                children = self._entry(nid)[4]
                pos = 0 if step > 0 else len(children) - 1
                stack.append([children, pos])
                nid = int(children[pos])
                text = self._cached(nid)[0]
            inside, head, tail = self._text_run(text, value, False, step)
            if not (head if step > 0 else tail):
                return total
            total += inside
            if not (tail if step > 0 else head):
                return total
        return total

    # ----- walks ----------------------------------------------------------------------------------

    def walk(self, start: Optional[tuple] = None, inclusive: bool = True,
             descending: bool = False) -> Iterator[tuple]:
        """Entries [value, id] in order (or reverse order) from the bound `start` (None: the first or
        last entry), reading nodes only as the caller advances."""
        header = self.header()
        if not header["r"]:
            return
        stack = []
        node, node_keys = self.read_keyed(header["r"])
        while type(node) is dict:
            if start is None:
                pos = len(node["c"]) - 1 if descending else 0
            elif descending and not inclusive:
                pos = bisect_left(node_keys, start)
            else:
                pos = bisect_right(node_keys, start)
            stack.append([node, pos])
            node, node_keys = self.read_keyed(node["c"][pos])
        yield from self._leaf_from(node, node_keys, start, inclusive, descending)
        while stack:
            frame = stack[-1]
            frame[1] += -1 if descending else 1
            inner, pos = frame
            if pos < 0 or pos >= len(inner["c"]):
                stack.pop()
                continue
            node = self.read(inner["c"][pos])
            while type(node) is dict:
                pos = len(node["c"]) - 1 if descending else 0
                stack.append([node, pos])
                node = self.read(node["c"][pos])
            yield from self._leaf_from(node, None, None, inclusive, descending)

    @staticmethod
    def _leaf_from(leaf: list, entry_keys, start: Optional[tuple], inclusive: bool, descending: bool):
        if start is None:
            entries = reversed(leaf) if descending else leaf
        else:
            if descending:
                end = bisect_right(entry_keys, start) if inclusive else bisect_left(entry_keys, start)
                entries = reversed(leaf[:end])
            else:
                begin = bisect_left(entry_keys, start) if inclusive else bisect_right(entry_keys, start)
                entries = leaf[begin:]
        yield from entries

    def check(self) -> int:
        """Verify the tree's invariants (order, separators, sizes, one depth); returns the entry count.
        For tests and operators: reads every node."""
        header = self.header()
        if not header["r"]:
            return 0
        return self._check(header["r"], None, None, 1, header["h"])

    def _check(self, nid: int, low, high, depth: int, height: int) -> int:
        node, entry_keys = self.read_keyed(nid)
        if self._fitting(node) is None:
            raise AssertionError(f"node {nid} exceeds the value size")
        if entry_keys != sorted(entry_keys) or len(set(entry_keys)) != len(entry_keys):
            raise AssertionError(f"node {nid} is out of order")
        if entry_keys and ((low is not None and entry_keys[0] < low)
                           or (high is not None and entry_keys[-1] >= high)):
            raise AssertionError(f"node {nid} holds keys outside its separators")
        if type(node) is list:
            if depth != height:
                raise AssertionError(f"leaf {nid} at depth {depth}, height {height}")
            if not node:
                raise AssertionError(f"leaf {nid} is empty")
            return len(node)
        if len(node["c"]) != len(node["s"]) + 1:
            raise AssertionError(f"inner node {nid} has mismatched children")
        bounds = [low] + entry_keys + [high]
        return sum(self._check(child, bounds[i], bounds[i + 1], depth + 1, height)
                   for i, child in enumerate(node["c"]))


def warm_node(get, key: str, levels: int = -1) -> list:
    """Read node `key` of an index (`levels`: the inner levels from it down, itself included; `key` the
    index's header key when -1) through `get` (a database's `cached_reader`) into the heap caches as a
    descent leaves it, its text split (see `_filled`). Returns [(key, levels)] of the inner nodes just
    below it (below a header, its root, even a leaf; no other leaf is read). Read-only: what the first
    changes after a restart would read, read ahead (see db_api's after_upgrade)."""
    text = get(key)
    if not text:
        return []
    if levels < 0:
        parsed = _HEADERS.get(text) or _parse_header(text)
        return [(key + "." + str(parsed[0]), parsed[2] - 1)]     # (a root leaf too: every change reads it)
    if text[0] != "I":
        return []
    cached = _CACHE.get(key)
    if cached is None or cached[0] != text:
        cached = [text, None, None, None, None]
        OrderedIndex._remember(key, cached)
    if levels <= 1:
        _filled(cached)
        return []
    dot = key[:key.rindex(".") + 1]
    return [(dot + child, levels - 1) for child in _filled(cached)[4]]


def warm_tails(get, prefix: str, leaves: int, spent, stop: int) -> int:
    """Note tail hints (see `_TAILS` and `insert`) of the index `prefix` for the Text values whose last
    entry lies inside a leaf, followed there by an entry of a greater value (the leaf the next create of
    such a value appends to), reading at most `leaves` leaves while `spent()` is under `stop`: under the
    inner nodes `warm_node` cached, the leaves whose first entry's value differs from the next leaf's (a
    leaf between two that start with one value holds that value only). Reads, changes nothing stored
    (hints are never trusted: `insert` checks the leaf's text). Returns the leaves read."""
    text = get(prefix)
    if not text or leaves <= 0 or len(_TAILS) >= _TAILS_SIZE // 2:
        return 0
    root, _, height = _HEADERS.get(text) or _parse_header(text)
    if height < 2:      # (a root leaf: no descent to spare)
        return 0
    dot = prefix + "."
    tails = _tails_of(prefix)
    read = 0
    # (inner node, the path above it, inner levels from it down, the entry texts that bound its entries
    # from below and above: separators of the nodes above, None at the tree's ends)
    frames = [(root, [], height - 1, None, None)]
    while frames and read < leaves and spent() < stop:
        nid, above, levels, low, high = frames.pop()
        key = dot + str(nid)
        cached = _CACHE.get(key)
        if cached is None or cached[3] is None or cached[0] != get(key):
            continue        # not read ahead (see `warm_node`): nor is anything below it
        parts, children = cached[3], cached[4]
        bounds = [low] + parts + [high]     # child `pos`: entries from bounds[pos] to bounds[pos + 1]
        if levels > 1:
            for pos in range(len(children) - 1, -1, -1):
                frames.append((children[pos], above + [(nid, cached, pos)], levels - 1, bounds[pos],
                               bounds[pos + 1]))
            continue
        for pos in _run_ends(parts):
            first, following = bounds[pos], bounds[pos + 1]
            if following is not None and following[0] != "s" or (
                    first is not None and _stem(first) == _stem(following or "")):
                continue    # no Text (which orders after Bool and numbers), or one value's entries only
            if read >= leaves or len(tails) >= _TAILS_SIZE // 2 or spent() >= stop:
                break
            leaf_key = dot + children[pos]
            text = get(leaf_key)
            read += 1
            if text and text[0] == "L":
                _note_tails(tails, leaf_key, text, above + [(nid, cached, pos)])
    return read


def _run_ends(parts: list) -> list:
    """The child positions of an inner node of separators `parts` whose leaf may hold the end of a value's
    run: the first and the last, and each one whose separators on either side hold different values
    (found by a bisection per Text value: the children between two separators of one value hold it only)."""
    ends = [0]
    count = len(parts)
    at = 0
    while at < count:
        part = parts[at]
        following = at + 1
        if part[0] == "s":      # (entries of the value are before its text followed by " ")
            following = max(bisect_left(parts, _stem(part) + _PLAIN, following), following)
        ends.append(following)
        at = following
    return ends


def _stem(part: str) -> str:
    """An entry text's tag and value ("s<value>"): entries of one value share it."""
    return part[:part.rfind(_FIELD)]


def _note_tails(tails: dict, key: str, text: str, path: list) -> None:
    """`warm_tails` for one leaf: a hint for each Text value stored unescaped whose run in it is followed by
    an entry of another value (as `insert` notes one: not for a run that begins the leaf below the root),
    for its first `_RUNS_NOTED` runs. Each run is taken apart as `insert` does (`rpartition` around its last
    entry: no split of the whole text, no call per entry)."""
    rest = text[1:]
    for run in range(_RUNS_NOTED):
        cut = rest.find(_FIELD)
        if cut < 0:
            return
        stem = rest[:cut + 1]       # the run's tag, value and field separator
        _, found, after = rest.rpartition(_ENTRY + stem)
        if not found:       # its only entry begins the rest
            after = rest[cut + 1:]
        _, more, rest = after.partition(_ENTRY)
        if not more:
            return          # the run ends the leaf: its next entry may belong to the next one
        value = stem[1:-1]
        if stem[0] != "s" or (run == 0 and len(path) < 2) or (value and min(value) < _PLAIN):
            continue
        if len(tails) >= _TAILS_SIZE // 2:
            return
        tails[value] = (key, path)


_RUNS_NOTED = 8     # runs of a leaf `warm_tails` notes at most (a leaf of many values is one of few entries
                    # each, which tail hints serve little)
