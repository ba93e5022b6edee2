"""IC hash trees: construction from nested labeled maps, root digests, path lookup and witnesses.

A tree is kept in its CBOR shape: `[0]` empty, `[1, l, r]` fork, `[2, label, t]` labeled,
`[3, value]` leaf, `[4, hash]` pruned, so it goes into a certificate as it is. Trees received from the
network are untrusted: `digest` checks every node's shape and raises MalformedTree (a ValueError) for
anything else, and lookups never raise anything but MalformedTree.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Mapping, Sequence

EMPTY, FORK, LABELED, LEAF, PRUNED = 0, 1, 2, 3, 4
MAX_DEPTH = 256  # far beyond any real tree; bounds recursion on hostile input

Tree = list
# A labeled map: label -> bytes (a leaf) or another labeled map.
LabeledMap = Mapping[bytes, "bytes | LabeledMap"]


class MalformedTree(ValueError):
    """A tree node has the wrong shape, or a path ends inside the tree where a leaf was expected."""


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


ABSENT = _Marker("ABSENT")  # the tree proves the path does not exist
UNKNOWN = _Marker("UNKNOWN")  # the path runs into a pruned subtree: the tree says nothing about it


def _domain(name: str) -> bytes:
    raw = name.encode()
    return bytes([len(raw)]) + raw


_EMPTY_HASH = hashlib.sha256(_domain("ic-hashtree-empty")).digest()
_FORK_SEP = _domain("ic-hashtree-fork")
_LABELED_SEP = _domain("ic-hashtree-labeled")
_LEAF_SEP = _domain("ic-hashtree-leaf")


def _bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise MalformedTree(f"a hash tree {what} must be a blob, not {type(value).__name__}")
    return bytes(value)


def _node(tree: object) -> int:
    """The node's tag after checking its shape."""
    if not isinstance(tree, list | tuple) or not tree:
        raise MalformedTree(f"a hash tree node must be a non-empty array, not {type(tree).__name__}")
    kind = tree[0]
    arity = {EMPTY: 1, FORK: 3, LABELED: 3, LEAF: 2, PRUNED: 2}.get(kind) if type(kind) is int else None
    if arity is None:
        raise MalformedTree(f"unknown hash tree node tag {kind!r}")
    if len(tree) != arity:
        raise MalformedTree(f"a hash tree node with tag {kind} must have {arity} elements")
    return kind


def digest(tree: Tree, _depth: int = 0) -> bytes:
    """The root hash of a tree, as the interface specification's `reconstruct` defines it."""
    if _depth > MAX_DEPTH:
        raise MalformedTree("the hash tree is nested too deeply")
    kind = _node(tree)
    if kind == EMPTY:
        return _EMPTY_HASH
    if kind == FORK:
        return hashlib.sha256(_FORK_SEP + digest(tree[1], _depth + 1) + digest(tree[2], _depth + 1)).digest()
    if kind == LABELED:
        return hashlib.sha256(_LABELED_SEP + _bytes(tree[1], "label") + digest(tree[2], _depth + 1)).digest()
    if kind == LEAF:
        return hashlib.sha256(_LEAF_SEP + _bytes(tree[1], "leaf")).digest()
    pruned = _bytes(tree[1], "pruned hash")
    if len(pruned) != 32:
        raise MalformedTree("a pruned hash tree node must hold a 32-byte hash")
    return pruned


def _forks(nodes: Sequence[Tree]) -> Tree:
    if not nodes:
        return [EMPTY]
    if len(nodes) == 1:
        return nodes[0]
    middle = len(nodes) // 2
    return [FORK, _forks(nodes[:middle]), _forks(nodes[middle:])]


def build(labeled: LabeledMap) -> Tree:
    """A tree holding every label of `labeled`, sorted bytewise at each level, forks balanced."""
    nodes = []
    for label in sorted(labeled):
        value = labeled[label]
        subtree = [LEAF, bytes(value)] if isinstance(value, bytes | bytearray) else build(value)
        nodes.append([LABELED, bytes(label), subtree])
    return _forks(nodes)


def flatten(tree: Tree) -> list[Tree]:
    """The nodes of one level of the tree in order: forks opened, empty nodes dropped."""
    out: list[Tree] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        kind = _node(node)
        if kind == FORK:
            stack.append(node[2])
            stack.append(node[1])
        elif kind != EMPTY:
            out.append(node)
    return out


def _label(step: bytes | str) -> bytes:
    return step.encode() if isinstance(step, str) else bytes(step)


def _find_label(nodes: list[Tree], label: bytes) -> Tree | _Marker:
    """The specification's find_label: the subtree under `label`, or ABSENT when the visible labels
    around it prove it missing, else UNKNOWN."""
    if len(nodes) == 1 and nodes[0][0] == LEAF:
        return ABSENT
    labels_here = []
    for node in nodes:
        if node[0] == LEAF:
            raise MalformedTree("a leaf stands next to labeled nodes")
        labels_here.append(_bytes(node[1], "label") if node[0] == LABELED else None)
    for node, here in zip(nodes, labels_here):
        if here == label:
            return node[2]
    if not nodes:
        return ABSENT
    if labels_here[0] is not None and label < labels_here[0]:
        return ABSENT
    if labels_here[-1] is not None and labels_here[-1] < label:
        return ABSENT
    for low, high in zip(labels_here, labels_here[1:]):
        if low is not None and high is not None and low < label < high:
            return ABSENT
    return UNKNOWN


def subtree(tree: Tree, path: Iterable[bytes | str]) -> Tree | _Marker:
    """The subtree under `path`, or ABSENT (provably missing) or UNKNOWN (pruned away)."""
    for step in path:
        found = _find_label(flatten(tree), _label(step))
        if isinstance(found, _Marker):
            return found
        tree = found
    return tree


def lookup(tree: Tree, path: Iterable[bytes | str]) -> bytes | _Marker:
    """The leaf value at `path`, ABSENT or UNKNOWN (the specification's lookup). A path that ends at
    an inner node raises MalformedTree: a certificate's value must be a leaf."""
    found = subtree(tree, path)
    if isinstance(found, _Marker):
        return found
    kind = _node(found)
    if kind == LEAF:
        return _bytes(found[1], "leaf")
    if kind == PRUNED:
        return UNKNOWN
    if kind == EMPTY:
        return ABSENT
    raise MalformedTree("the path ends at an inner node, not a leaf")


def labels(tree: Tree, path: Iterable[bytes | str] = ()) -> list[bytes]:
    """The labels directly below `path` (none if it is absent or pruned), in tree order."""
    found = subtree(tree, path)
    if isinstance(found, _Marker):
        return []
    return [_bytes(node[1], "label") for node in flatten(found) if node[0] == LABELED]


def witness(tree: Tree, paths: Iterable[Sequence[bytes | str]]) -> Tree:
    """`tree` pruned to `paths`: the same root digest, revealing each path (complete below its end)
    and, for a path that is missing, the neighbouring labels that prove its absence."""
    wanted: dict = {}
    for path in paths:
        level = wanted
        for step in path:
            level = level.setdefault(_label(step), {})
        level[None] = True  # keep everything below this point
    return _prune(tree, wanted)


def _prune(tree: Tree, wanted: dict) -> Tree:
    if None in wanted:
        return tree
    present = sorted(_bytes(node[1], "label") for node in flatten(tree) if node[0] == LABELED)
    keep: dict[bytes, dict | None] = {}  # label -> what to keep below it (None: the label only)
    for label, below in wanted.items():
        index = bisect.bisect_left(present, label)
        if index < len(present) and present[index] == label:
            keep[label] = below
            continue
        for neighbour in present[max(index - 1, 0) : index + 1]:
            keep.setdefault(neighbour, None)
    return _keep(tree, keep)


def _keep(tree: Tree, keep: dict) -> Tree:
    kind = _node(tree)
    if kind == FORK:
        left, right = _keep(tree[1], keep), _keep(tree[2], keep)
        if left[0] == PRUNED and right[0] == PRUNED:
            return [PRUNED, digest(tree)]
        return [FORK, left, right]
    if kind == LABELED:
        label = _bytes(tree[1], "label")
        if label not in keep:
            return [PRUNED, digest(tree)]
        below = keep[label]
        return [LABELED, label, [PRUNED, digest(tree[2])] if below is None else _prune(tree[2], below)]
    if kind == LEAF:
        return [PRUNED, digest(tree)]
    return tree
