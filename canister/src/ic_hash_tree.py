"""IC hash trees as the canister builds them: nodes, root digests and the CBOR encoding of witnesses.

Nodes are lists in their CBOR shape: [0] empty, [1, left, right] fork, [2, label, subtree] labeled,
[3, value] leaf, [4, digest] pruned (the interface specification's HashTree). `fork` drops an empty
side (a fork of an empty and a tree is that tree), so an Empty node only ever stands for a whole empty
tree: agents (agent-js, agent-rs) answer Absent at an Empty fork child without looking further.
"""

import hashlib

EMPTY, FORK, LABELED, LEAF, PRUNED = 0, 1, 2, 3, 4


def _domain(name: str) -> bytes:
    raw = name.encode()
    return bytes([len(raw)]) + raw


_EMPTY_SEP = _domain("ic-hashtree-empty")
_FORK_SEP = _domain("ic-hashtree-fork")
_LABELED_SEP = _domain("ic-hashtree-labeled")
_LEAF_SEP = _domain("ic-hashtree-leaf")
EMPTY_DIGEST = hashlib.sha256(_EMPTY_SEP).digest()
EMPTY_NODE = [EMPTY]


def labeled_prefix(label: bytes) -> bytes:
    """What labeled_digest(label, d) hashes before d (for callers that hash the bytes themselves)."""
    return _LABELED_SEP + label


def fork_prefix() -> bytes:
    """What fork_digest(l, r) hashes before l + r."""
    return _FORK_SEP


def leaf_prefix() -> bytes:
    """What leaf_digest(v) hashes before v."""
    return _LEAF_SEP


def fork_digest(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_FORK_SEP + left + right).digest()


def labeled_digest(label: bytes, subtree_digest: bytes) -> bytes:
    return hashlib.sha256(_LABELED_SEP + label + subtree_digest).digest()


def leaf_digest(value: bytes) -> bytes:
    return hashlib.sha256(_LEAF_SEP + value).digest()


def digest(tree: list) -> bytes:
    """The root digest of a tree (the specification's `reconstruct`)."""
    kind = tree[0]
    if kind == EMPTY:
        return EMPTY_DIGEST
    if kind == FORK:
        return fork_digest(digest(tree[1]), digest(tree[2]))
    if kind == LABELED:
        return labeled_digest(tree[1], digest(tree[2]))
    if kind == LEAF:
        return leaf_digest(tree[1])
    return tree[1]


def fork(left: list, right: list) -> list:
    """A fork of two subtrees; an empty side is dropped (the other side is the result)."""
    if left[0] == EMPTY:
        return right
    if right[0] == EMPTY:
        return left
    return [FORK, left, right]


def balanced(nodes: list) -> list:
    """Nodes joined by forks into a balanced tree (left half, right half), in their order."""
    if not nodes:
        return EMPTY_NODE
    if len(nodes) == 1:
        return nodes[0]
    middle = len(nodes) // 2
    return fork(balanced(nodes[:middle]), balanced(nodes[middle:]))


def pruned(tree: list) -> list:
    """The tree replaced by its digest (an empty tree stays empty: that is smaller and proves absence)."""
    if tree[0] == EMPTY or tree[0] == PRUNED:
        return tree
    return [PRUNED, digest(tree)]


def _head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    if length < 256:
        return bytes([major << 5 | 24, length])
    if length < 65536:
        return bytes([major << 5 | 25]) + length.to_bytes(2, "big")
    return bytes([major << 5 | 26]) + length.to_bytes(4, "big")


def _encode(tree: list, out: list) -> None:
    out.append(_head(4, len(tree)))
    out.append(_head(0, tree[0]))
    for item in tree[1:]:
        if isinstance(item, list):
            _encode(item, out)
        else:
            raw = bytes(item)
            out.append(_head(2, len(raw)))
            out.append(raw)


def to_cbor(tree: list) -> bytes:
    """The tree as CBOR with the self-describe tag, as ic-certified-map serialises witnesses."""
    out = [b"\xd9\xd9\xf7"]
    _encode(tree, out)
    return b"".join(out)
