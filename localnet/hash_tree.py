"""IC hash trees: construction from nested labeled maps, root digests and path lookup.

A tree is kept in its CBOR shape: `[0]` empty, `[1, l, r]` fork, `[2, label, t]` labeled,
`[3, value]` leaf, `[4, hash]` pruned, so it can be encoded into a certificate as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

EMPTY, FORK, LABELED, LEAF, PRUNED = 0, 1, 2, 3, 4

Tree = list
# A labeled map: label -> bytes (a leaf) or another labeled map.
LabeledMap = Mapping[bytes, "bytes | LabeledMap"]


def _domain(name: str) -> bytes:
    raw = name.encode()
    return bytes([len(raw)]) + raw


_EMPTY_SEP = _domain("ic-hashtree-empty")
_FORK_SEP = _domain("ic-hashtree-fork")
_LABELED_SEP = _domain("ic-hashtree-labeled")
_LEAF_SEP = _domain("ic-hashtree-leaf")


def digest(tree: Tree) -> bytes:
    """The root hash of a tree, as the IC's `reconstruct` defines it."""
    kind = tree[0]
    if kind == EMPTY:
        return hashlib.sha256(_EMPTY_SEP).digest()
    if kind == FORK:
        return hashlib.sha256(_FORK_SEP + digest(tree[1]) + digest(tree[2])).digest()
    if kind == LABELED:
        return hashlib.sha256(_LABELED_SEP + bytes(tree[1]) + digest(tree[2])).digest()
    if kind == LEAF:
        return hashlib.sha256(_LEAF_SEP + bytes(tree[1])).digest()
    if kind == PRUNED:
        return bytes(tree[1])
    raise ValueError(f"unknown hash tree node {kind!r}")


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
        subtree = [LEAF, bytes(value)] if isinstance(value, (bytes, bytearray)) else build(value)
        nodes.append([LABELED, bytes(label), subtree])
    return _forks(nodes)


def _flatten(tree: Tree) -> list[Tree]:
    if tree[0] == EMPTY:
        return []
    if tree[0] == FORK:
        return _flatten(tree[1]) + _flatten(tree[2])
    return [tree]


class Unknown(Exception):
    """The path runs into a pruned subtree: the tree cannot say whether it exists."""


def lookup(tree: Tree, path: Sequence[bytes]) -> bytes | Tree | None:
    """The leaf value at `path`, the subtree if it is not a leaf, or None when the tree proves absence."""
    for label in path:
        nodes = _flatten(tree)
        found = next((n[2] for n in nodes if n[0] == LABELED and bytes(n[1]) == bytes(label)), None)
        if found is None:
            if any(n[0] == PRUNED for n in nodes):
                raise Unknown(f"label {label!r} may be in a pruned subtree")
            return None
        tree = found
    return bytes(tree[1]) if tree[0] == LEAF else tree
