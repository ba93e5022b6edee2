"""A Merkle tree over the entities of certified types, kept in stable memory and changed in place.

Per type, ids live in a 16-ary tree of fixed shape: a node at level L (1 = bottom) with index k covers
ids [k * 16^L, (k + 1) * 16^L); its 16 slots hold the entity hashes (level 1) or the digests of its
children. A type's tree has height h = the levels needed for its highest id, so an update rewrites the h
nodes on one path and a read follows the same path. Each node is an IC hash-tree fragment: its slots are
joined by a balanced binary fork tree (an empty half is dropped: see ic_hash_tree.fork), a level-1 slot is
Labeled(id as 8 bytes big-endian, Leaf(entity hash)). The type trees hang under their type names, sorted,
so a witness for ["entities", type, id] is an ordinary IC hash tree that proves presence or absence.

Storage: node "n<gen>:<type>:<level>:<k>" -> 16 comma-separated hex slots; the meta key "cert/types"
holds {"g": next generation, "t": {type: [generation, height, root digest hex]}}. A generation is given
when a type turns certification on, so nodes left from an earlier time are never read.
"""

import hashlib
import json
from json.encoder import encode_basestring_ascii as _quote

import ic_hash_tree as tree

TYPES_KEY = "cert/types"
FANOUT = 16
MAX_CERTIFIED_TYPES = 64
_CACHED_TEXTS = 16
_PARSED = {}          # stored "cert/types" text -> its parsed state (never changed: each message copies it)
_DIGESTS = {}         # stored "cert/types" text (None: none stored) -> the digest of its `entities` subtree
_QUOTED = {}          # type name -> its JSON string (ASCII, as json.dumps writes it)
_LABELS = {}          # type name -> [what tree.labeled_digest hashes before its subtree's digest, a root
                      # hex of the type, the labeled digest of that root] (the last root hashed: see _digest)
_FORKS = {}           # left + right digest -> their fork's digest, for the forks over the type roots
_FORK_PREFIX = tree.fork_prefix()
_LEAF_PREFIX = tree.leaf_prefix()
_LABELED_PREFIX = tree.labeled_prefix(b"")   # then the label
_TREES = {}           # node key -> (its slots, its fork tree) for the nodes changed last (see set_leaf)
_ENTRY_TEXTS = {}     # type name -> (its entry as written, the entry's JSON text): see types_text
_CACHED_TREES = 1024
_FLUSHED_NODES = 256  # nodes an EntityMerkle keeps as written (its `flushed`)


def _remember(cache: dict, text: str, value) -> None:
    if len(cache) >= _CACHED_TEXTS:
        cache.clear()
    cache[text] = value


def types_text(types: dict, kept: dict = None) -> str:
    """json.dumps(types, separators=(",", ":"), sort_keys=True), joined directly for the record's own
    shape {"g": int, "t": {name: [int, int, hex digits]}} (the encoder costs about a million
    instructions on Kybra's RustPython, and the record is rewritten by every certified change). With
    `kept` (name -> (entry, its text)), an entry that is the very list whose text was kept is not joined
    again: for lists never changed once written (EntityMerkle.flush's: a change copies its entry first),
    so that a change of one type does not rejoin every certified type's entry."""
    entries = types["t"]
    if len(types) != 2 or types.get("g").__class__ is not int or entries.__class__ is not dict:
        return json.dumps(types, separators=(",", ":"), sort_keys=True)
    parts = []
    for name in sorted(entries):   # (x.__class__, not type(x): a builtin call costs ~9,000 on RustPython)
        info = entries[name]
        if kept is not None:
            known = kept.get(name)
            if known is not None and known[0] is info:
                parts.append(known[1])
                continue
        if (name.__class__ is not str or info.__class__ is not list or len(info) != 3
                or info[0].__class__ is not int or info[1].__class__ is not int
                or info[2].__class__ is not str
                or not (info[2].isalnum() or not info[2]) or not info[2].isascii()):   # JSON as it is
            return json.dumps(types, separators=(",", ":"), sort_keys=True)
        quoted = _QUOTED.get(name)
        if quoted is None:
            if len(_QUOTED) >= 2 * MAX_CERTIFIED_TYPES:
                _QUOTED.clear()
            quoted = _QUOTED[name] = _quote(name)
        text = f'{quoted}:[{info[0]},{info[1]},"{info[2]}"]'   # (f-strings: fewer strings made than `+`)
        if kept is not None:
            if len(kept) >= 2 * MAX_CERTIFIED_TYPES:
                kept.clear()
            kept[name] = (info, text)
        parts.append(text)
    return f'{{"g":{types["g"]},"t":{{{",".join(parts)}}}}}'


def id_label(entity_id: int) -> bytes:
    return entity_id.to_bytes(8, "big")


def _combine(children: list) -> list:
    """Pairwise reduction of 16 slot subtrees to one (empty sides dropped); two pruned sides become one
    pruned node."""
    while len(children) > 1:
        joined = []
        for i in range(0, len(children), 2):
            left, right = children[i], children[i + 1]
            if left[0] == tree.PRUNED and right[0] == tree.PRUNED:
                joined.append([tree.PRUNED, tree.fork_digest(left[1], right[1])])
            else:
                joined.append(tree.fork(left, right))
        children = joined
    return children[0]


def _slot_digests(level: int, index: int, slots: list) -> list:
    """The digests of a node's 16 slots (None = empty): labeled leaves at level 1, child digests above."""
    if level == 1:
        base = index * FANOUT
        return [
            tree.labeled_digest(id_label(base + i), tree.leaf_digest(bytes.fromhex(s))) if s else None
            for i, s in enumerate(slots)
        ]
    return [bytes.fromhex(s) if s else None for s in slots]


def _fork_tree(digests: list) -> list:
    """The forks over 16 slot digests as `_fold` joins them, in heap order: position p joins 2p and
    2p + 1, the slots at 16..31, the node's digest at 1 (None where all below are empty)."""
    forks = [None] * FANOUT + digests
    for position in range(FANOUT - 1, 0, -1):
        left, right = forks[2 * position], forks[2 * position + 1]
        forks[position] = right if left is None else left if right is None else tree.fork_digest(left, right)
    return forks


def _path(slot: int) -> tuple:
    """The steps from slot `slot` up a node's fork tree (_fork_tree's positions): at each, the sibling's
    position, the parent's, and whether the position climbed from is its parent's left child."""
    position, steps = FANOUT + slot, []
    while position > 1:
        steps.append((position ^ 1, position >> 1, position % 2 == 0))
        position >>= 1
    return tuple(steps)


_PATHS = tuple(_path(slot) for slot in range(FANOUT))


def _fold(digests: list):
    """The digest of 16 slot digests (None = empty) joined by forks, empty sides dropped; None when all
    are empty."""
    while len(digests) > 1:
        joined = []
        for i in range(0, len(digests), 2):
            left, right = digests[i], digests[i + 1]
            if left is None or right is None:
                joined.append(right if left is None else left)
            else:
                joined.append(tree.fork_digest(left, right))
        digests = joined
    return digests[0]


class EntityMerkle:
    """The certified-entity trees of all certified types. Node reads and writes go through a per-message
    cache: `flush` writes each changed node once."""

    def __init__(self, store, meta):
        self.store = store
        self.meta = meta
        self.cache = {}
        self.dirty = set()
        self.types = None       # this message's copy of the types record, made by `_state` to change it
        self.stored = None      # the types record as stored (shared across messages: never changed)
        self.types_text = None  # the stored text `types` equals (None when changed since or absent)
        self.types_dirty = False
        self.used = False       # True once a node was read or the types record copied (see `reset`)
        self.names = None       # the certified types' entries of `types`, else of `stored` (None: unread)
        # node key -> its slots as `flush` wrote them, kept across messages (not by `reset`): only `flush`
        # writes nodes, and a message that traps loses its heap changes with its writes (the IC's rule),
        # so these are the stored slots; a message that fails without flushing leaves them as they were
        self.flushed = {}

    # --- state ---

    def reset(self) -> None:
        """Forget cached nodes and this message's changes (at the start of every message that may have
        `used` them: storage is the truth, and `flushed` holds only what was written). The types record
        as stored stays: only `flush` writes it, and a message that traps loses its heap changes with its
        writes (the IC's rule), so the heap's copy is the stored record."""
        self.cache = {}
        self.dirty = set()
        self.types = None
        self.types_dirty = False
        self.used = False
        self.names = None if self.stored is None else self.stored["t"]

    def _stored(self) -> dict:
        """The types record as stored, read once per message (the parse is shared: never change it)."""
        if self.stored is None:
            raw = self.meta.get(TYPES_KEY)
            self.types_text = raw
            if raw is None:
                parsed = {"g": 1, "t": {}}
            else:
                parsed = _PARSED.get(raw)
                if parsed is None:
                    parsed = json.loads(raw)
                    _remember(_PARSED, raw, parsed)
            self.stored = parsed
            if self.types is None:
                self.names = parsed["t"]
        return self.stored

    def _state(self) -> dict:
        """The types record to change: this message's copy, whose type entries are the stored record's
        until `_entry` copies one to change it (a change copies one entry, not all of them)."""
        if self.types is None:
            self.used = True
            parsed = self._stored()
            self.types = dict(parsed)
            self.types["t"] = self.names = dict(parsed["t"])
        return self.types

    def _entry(self, type_name: str) -> list:
        """The entry [generation, height, root digest hex] of a certified type in this message's copy,
        to change in place (copied first when it is still the stored record's)."""
        entries = self._state()["t"]
        info = entries[type_name]
        if info is self.stored["t"].get(type_name):
            info = entries[type_name] = list(info)
        return info

    def _view(self) -> dict:
        """The types record to read: the copy if this message made one, else the stored one."""
        return self.types if self.types is not None else self._stored()

    def certified(self, type_name: str) -> bool:
        names = self.names
        return type_name in (names if names is not None else self.certified_names())

    def certified_names(self) -> dict:
        """The certified types' names as the keys of a dict (read it, never change it; `names` is the
        same without a call once read)."""
        names = self.names
        return names if names is not None else self._stored()["t"]

    def certified_types(self) -> list:
        return sorted(self._view()["t"])

    def enable(self, type_name: str) -> None:
        """Start certifying an (empty) type: an empty tree under a new generation."""
        state = self._state()
        if type_name in state["t"]:
            return
        if len(state["t"]) >= MAX_CERTIFIED_TYPES:
            raise ValueError("at most " + str(MAX_CERTIFIED_TYPES) + " certified types")
        state["t"][type_name] = [state["g"], 1, ""]
        state["g"] += 1
        self.types_dirty = True

    def disable(self, type_name: str) -> None:
        state = self._state()
        if type_name in state["t"]:
            del state["t"][type_name]
            self.types_dirty = True

    # --- nodes ---

    def _key(self, type_name: str, level: int, index: int) -> str:
        gen = self._view()["t"][type_name][0]
        return "n" + str(gen) + ":" + type_name + ":" + str(level) + ":" + str(index)

    def _slots(self, key: str) -> list:
        """The slots of node `key` (read them, never change them: set_leaf changes a copy); a node this
        merkle wrote lately is taken from `flushed` without a stable read."""
        slots = self.cache.get(key)
        if slots is None:
            self.used = True
            slots = self.flushed.get(key)
            if slots is None:
                raw = self.store.get(key)
                slots = raw.split(",") if raw is not None else [""] * FANOUT
            self.cache[key] = slots
        return slots

    def _node_digest(self, level: int, index: int, slots: list):
        return _fold(_slot_digests(level, index, slots))

    def _changed_node_digest(self, key: str, level: int, index: int, old: list, slots: list, slot: int,
                             raw):
        """The digest of node `key` whose `slots` differ from `old` in `slot` only, which now holds the
        digest `raw` (None: empty; the slot's hex text as bytes): 5 hashes on the path through its fork
        tree, which is kept in the heap for the nodes changed last (built from `old` when it is not)."""
        cached = _TREES.get(key)
        if cached is not None and (cached[0] is old or cached[0] == old):
            forks = cached[1][:]
        else:
            forks = _fork_tree(_slot_digests(level, index, old))
        position = FANOUT + slot
        sha256 = hashlib.sha256
        if raw is None:
            digest = None
        elif level == 1:   # tree.labeled_digest(id_label(id), tree.leaf_digest(raw)), inlined
            label = (index * FANOUT + slot).to_bytes(8, "big")
            digest = sha256(_LABELED_PREFIX + label + sha256(_LEAF_PREFIX + raw).digest()).digest()
        else:
            digest = raw
        forks[position] = digest
        # the forks above it, as _fork_tree joins them (tree.fork_digest inlined; the positions from a table)
        for sibling, parent, on_left in _PATHS[slot]:
            other = forks[sibling]
            if other is not None:
                if digest is None:
                    digest = other
                else:
                    digest = sha256(_FORK_PREFIX + digest + other if on_left
                                    else _FORK_PREFIX + other + digest).digest()
            forks[parent] = digest
        if len(_TREES) >= _CACHED_TREES:
            _TREES.clear()
        _TREES[key] = (slots, forks)
        return forks[1]

    def _grow(self, type_name: str, info: list, entity_id: int) -> int:
        """Raise the type's tree until it holds `entity_id` (the old root becomes slot 0 of each new top
        node); its height."""
        height = info[1]
        while entity_id >= FANOUT**height:
            height += 1
            if info[2]:
                key = self._key(type_name, height, 0)
                slots = [info[2]] + [""] * (FANOUT - 1)
                self.cache[key] = slots
                self.dirty.add(key)
                info[2] = self._node_digest(height, 0, slots).hex()
        info[1] = height
        self.types_dirty = True
        return height

    def set_leaf(self, type_name: str, entity_id: int, leaf) -> None:
        """Put (or, with leaf None, remove) the hash of entity `entity_id`; rehashes one path."""
        info = self._entry(type_name)
        height = info[1]
        if entity_id >= FANOUT**height:
            if leaf is None:
                return
            height = self._grow(type_name, info, entity_id)
        raw = leaf   # the new digest of the slot on the path, as bytes (the slots hold it as hex)
        value = leaf.hex() if leaf is not None else ""
        prefix = "n" + str(info[0]) + ":" + type_name + ":"   # self._key's, once
        below = entity_id   # the index of the slot's child at this level (entity_id at level 1)
        for level in range(1, height + 1):
            index = below // FANOUT
            slot = below % FANOUT
            below = index
            key = prefix + str(level) + ":" + str(index)
            slots = self._slots(key)
            if slots[slot] == value:
                return
            old = slots
            slots = slots[:]
            slots[slot] = value
            self.cache[key] = slots
            self.dirty.add(key)
            raw = self._changed_node_digest(key, level, index, old, slots, slot, raw)
            value = raw.hex() if raw is not None else ""
        info[2] = value
        self.types_dirty = True

    def set_leaves(self, type_name: str, leaves: list) -> None:
        """`set_leaf` for each (id, leaf) of `leaves` (distinct ids, in order), with each node on their
        paths rehashed once (a batch's entities share their upper nodes: one path each would rehash those
        once per entity). The same nodes and digests as `set_leaf` one by one: a node's slots and digest
        follow from the leaves below it, and the tree grows for the same ids."""
        info = self._entry(type_name)
        for entity_id, leaf in leaves:   # (set_leaf grows the tree for a leaf past it, not for a removal)
            if leaf is not None and entity_id >= FANOUT**info[1]:
                self._grow(type_name, info, entity_id)
        height = info[1]
        limit = FANOUT**height
        changes = {}   # node index at this level -> {slot: its new digest (None: empty)}
        for entity_id, leaf in leaves:
            if entity_id < limit:   # (a removal past the tree changes nothing)
                slots = changes.get(entity_id // FANOUT)
                if slots is None:
                    slots = changes[entity_id // FANOUT] = {}
                slots[entity_id % FANOUT] = leaf
        prefix = "n" + str(info[0]) + ":" + type_name + ":"   # self._key's, once
        raw = None
        for level in range(1, height + 1):
            above = {}
            for index in sorted(changes):
                key = prefix + str(level) + ":" + str(index)
                old = self._slots(key)
                slots = old[:]
                changed = {}
                for slot, digest in changes[index].items():
                    value = digest.hex() if digest is not None else ""
                    if slots[slot] != value:
                        slots[slot] = value
                        changed[slot] = digest
                if not changed:
                    continue
                self.cache[key] = slots
                self.dirty.add(key)
                if len(changed) == 1:
                    slot, digest = changed.popitem()
                    raw = self._changed_node_digest(key, level, index, old, slots, slot, digest)
                else:
                    raw = self._changed_slots_digest(key, level, index, old, slots, changed)
                parent = above.get(index // FANOUT)
                if parent is None:
                    parent = above[index // FANOUT] = {}
                parent[index % FANOUT] = raw
            changes = above
            if not changes:
                return
        info[2] = raw.hex() if raw is not None else ""
        self.types_dirty = True

    def _changed_slots_digest(self, key: str, level: int, index: int, old: list, slots: list,
                              changed: dict):
        """`_changed_node_digest` for several slots changed at once (`changed`: slot -> its new digest, None
        for empty): each fork above them hashed once."""
        cached = _TREES.get(key)
        if cached is not None and (cached[0] is old or cached[0] == old):
            forks = cached[1][:]
        else:
            forks = _fork_tree(_slot_digests(level, index, old))
        sha256 = hashlib.sha256
        parents = set()
        for slot, raw in changed.items():
            if raw is not None and level == 1:   # tree.labeled_digest(id_label(id), tree.leaf_digest(raw))
                label = (index * FANOUT + slot).to_bytes(8, "big")
                raw = sha256(_LABELED_PREFIX + label + sha256(_LEAF_PREFIX + raw).digest()).digest()
            forks[FANOUT + slot] = raw
            parents.add((FANOUT + slot) >> 1)
        while parents:   # one row of the fork tree at a time, up to its top (position 1), as _fork_tree joins
            above = set()
            for position in parents:
                left, right = forks[2 * position], forks[2 * position + 1]
                forks[position] = (right if left is None else left if right is None
                                   else sha256(_FORK_PREFIX + left + right).digest())
                if position > 1:
                    above.add(position >> 1)
            parents = above
        if len(_TREES) >= _CACHED_TREES:
            _TREES.clear()
        _TREES[key] = (slots, forks)
        return forks[1]

    def flush(self) -> bool:
        """Write the changed nodes and type roots; True if anything was written."""
        if not self.dirty and not self.types_dirty:
            return False
        flushed = self.flushed
        if len(flushed) >= _FLUSHED_NODES:
            flushed.clear()
        for key in sorted(self.dirty):
            slots = self.cache[key]
            if any(slots):
                self.store.insert(key, ",".join(slots))
            else:
                self.store.remove(key)
            flushed[key] = slots
        if self.types_dirty:
            self.types_text = types_text(self.types, _ENTRY_TEXTS)
            self.meta.insert(TYPES_KEY, self.types_text)
            self.stored, self.types = self.types, None   # what is stored now; a later change copies it
        self.dirty = set()
        self.types_dirty = False
        return True

    # --- digests and witnesses ---

    def _type_node(self, type_name: str, subtree: list) -> list:
        return [tree.LABELED, type_name.encode("utf-8"), subtree]

    def _root_digest_of(self, type_name: str) -> bytes:
        root = self._view()["t"][type_name][2]
        return bytes.fromhex(root) if root else tree.EMPTY_DIGEST

    def digest(self) -> bytes:
        """The digest of the `entities` subtree (cached by the stored text it follows from)."""
        if self.types_dirty:
            return self._digest(self.types)
        if self.stored is None:
            self._stored()
        text = self.types_text
        found = _DIGESTS.get(text)
        if found is None:
            found = self._digest(self._view())
            _remember(_DIGESTS, text, found)
        return found

    def _digest(self, state: dict) -> bytes:
        """The digest of the balanced forks over the labeled type roots (tree.balanced's shape)."""
        entries = state["t"]
        sha256 = hashlib.sha256
        digests = []
        for name in sorted(entries):   # (a type whose root is the one hashed last is not hashed again)
            root = entries[name][2]
            label = _LABELS.get(name)
            if label is None:
                if len(_LABELS) >= 2 * MAX_CERTIFIED_TYPES:
                    _LABELS.clear()
                label = _LABELS[name] = [tree.labeled_prefix(name.encode("utf-8")), None, None]
            elif label[1] == root:
                digests.append(label[2])
                continue
            # tree.labeled_digest(label, d) hashes the label's prefix + d
            digest = sha256(label[0] + (bytes.fromhex(root) if root else tree.EMPTY_DIGEST)).digest()
            label[1], label[2] = root, digest
            digests.append(digest)
        return digests[0] if len(digests) == 1 else _balanced_digest(digests)

    def leaf(self, type_name: str, entity_id: int):
        """The stored hash of an entity, or None."""
        info = self._view()["t"][type_name]
        if entity_id >= FANOUT ** info[1] or not info[2]:
            return None
        slots = self._slots(self._key(type_name, 1, entity_id // FANOUT))
        value = slots[entity_id % FANOUT]
        return bytes.fromhex(value) if value else None

    def _reveal(self, type_name: str, level: int, index: int, ids: list) -> list:
        """The subtree of node (level, index) with the paths to `ids` expanded, the rest pruned."""
        slots = self._slots(self._key(type_name, level, index))
        span = FANOUT ** (level - 1)
        children = []
        for i, value in enumerate(slots):
            child_index = index * FANOUT + i
            low, high = child_index * span, (child_index + 1) * span
            inside = [x for x in ids if low <= x < high]
            if not value:
                children.append(tree.EMPTY_NODE)
            elif level == 1:
                node = [tree.LABELED, id_label(child_index), [tree.LEAF, bytes.fromhex(value)]]
                children.append(node if inside else tree.pruned(node))
            elif inside:
                children.append(self._reveal(type_name, level - 1, child_index, inside))
            else:
                children.append([tree.PRUNED, bytes.fromhex(value)])
        return _combine(children)

    def _edge(self, type_name: str, level: int, index: int, rightmost: bool) -> int:
        """The highest (or lowest) id stored below the non-empty node (level, index)."""
        while True:
            slots = self._slots(self._key(type_name, level, index))
            order = range(FANOUT - 1, -1, -1) if rightmost else range(FANOUT)
            slot = next(i for i in order if slots[i])
            index = index * FANOUT + slot
            if level == 1:
                return index
            level -= 1

    def _neighbour(self, type_name: str, entity_id: int, before: bool):
        """The nearest stored id below (before) or above `entity_id` in the type's tree, or None."""
        height = self._view()["t"][type_name][1]
        limit = FANOUT**height
        if entity_id >= limit:
            return self._edge(type_name, height, 0, True) if before else None
        for level in range(1, height + 1):
            index = entity_id // FANOUT**level
            slot = (entity_id // FANOUT ** (level - 1)) % FANOUT
            slots = self._slots(self._key(type_name, level, index))
            others = range(slot - 1, -1, -1) if before else range(slot + 1, FANOUT)
            for i in others:
                if slots[i]:
                    child = index * FANOUT + i
                    if level == 1:
                        return child
                    return self._edge(type_name, level - 1, child, before)
        return None

    def witness(self, type_name: str, entity_id: int) -> list:
        """The `entities` subtree proving the entity's hash, or its absence (through its neighbours)."""
        ids = [entity_id]
        if self._view()["t"][type_name][2] and self.leaf(type_name, entity_id) is None:
            ids = [
                x
                for x in (
                    self._neighbour(type_name, entity_id, True),
                    self._neighbour(type_name, entity_id, False),
                )
                if x is not None
            ]
        return self._witness(type_name, ids)

    def range_witness(self, type_name: str, after, ids: list) -> list:
        """The `entities` subtree revealing `ids` (a page of consecutive stored ids above `after`) and the
        stored id just at or below `after`, so a verifier sees that nothing else lies in between."""
        reveal = list(ids)
        if after is not None and self._view()["t"][type_name][2]:
            below = after
            if self.leaf(type_name, after) is None:
                below = self._neighbour(type_name, after, True)
            if below is not None:
                reveal.append(below)
        return self._witness(type_name, reveal)

    def _witness(self, type_name: str, ids: list) -> list:
        info = self._view()["t"][type_name]
        subtree = self._reveal(type_name, info[1], 0, ids) if info[2] else tree.EMPTY_NODE
        nodes = []
        for name in self.certified_types():
            if name == type_name:
                nodes.append(self._type_node(name, subtree))
            else:
                label = name.encode("utf-8")
                nodes.append([tree.PRUNED, tree.labeled_digest(label, self._root_digest_of(name))])
        return _combine_list(nodes)


def _balanced_digest(digests: list) -> bytes:
    """tree.digest(tree.balanced(nodes)) for nodes with these digests (none of them empty)."""
    if len(digests) <= 1:
        return digests[0] if digests else tree.EMPTY_DIGEST
    middle = len(digests) // 2
    pair = _balanced_digest(digests[:middle]) + _balanced_digest(digests[middle:])
    found = _FORKS.get(pair)   # (a change of one type changes the forks on its path only)
    if found is None:
        if len(_FORKS) >= 4 * MAX_CERTIFIED_TYPES:
            _FORKS.clear()
        found = _FORKS[pair] = hashlib.sha256(_FORK_PREFIX + pair).digest()   # tree.fork_digest
    return found


def _combine_list(nodes: list) -> list:
    """Balanced forks over type nodes, merging fully pruned halves into one pruned node."""
    if not nodes:
        return tree.EMPTY_NODE
    if len(nodes) == 1:
        return nodes[0]
    middle = len(nodes) // 2
    left, right = _combine_list(nodes[:middle]), _combine_list(nodes[middle:])
    if left[0] == tree.PRUNED and right[0] == tree.PRUNED:
        return [tree.PRUNED, tree.fork_digest(left[1], right[1])]
    return tree.fork(left, right)
