"""How a change of an ordered index's leaves moves its values' entries out of or into their last leaf.

Count mode "t" (value_counts.py) stores, per value V whose entries span two or more leaves, nontail(V):
its entries in leaves other than its last one (the leaf holding its greatest entry). A change of one leaf
L (V's run there goes r0 -> r1) changes nontail(V) by r1 - r0 when the next leaf starts with V, else by
(r1 - r0) - (tail after - tail before), a tail being V's run in L or, without one, at the end of the
previous leaf P. A split or a merge moves the run of the value X that spans the two halves. The mixin
notes those changes in `tail_changes` as the B+tree (ordered_index.OrderedIndex) makes them, reading a
neighbouring leaf only when the separator beside L holds V (a separator bounds the next leaf's first
entry from below and the previous leaf's last from above).
"""

from typing import Optional

from . import index_nodes

_PLAIN = index_nodes.PLAIN
_FIELD = index_nodes.FIELD


def equal_values(held, value) -> bool:
    """Whether two indexed values are one in the index's order (1 == 1.0; True is not 1, "1" is not 1)."""
    return held == value and (type(held) is bool) == (type(value) is bool) and (
        type(held) is str) == (type(value) is str)


def same_value(part: str, value) -> bool:
    """Whether the entry text `part` holds `value` (see `equal_values`)."""
    if type(value) is str and (not value or min(value) >= _PLAIN):
        return part.startswith("s" + value + _FIELD)
    return equal_values(index_nodes.parse_entry(part)[0], value)


class TailRuns:
    """The nontail upkeep of an OrderedIndex (a mixin: it walks the tree with the index's own reads)."""

    tails_counted = False   # True: the index keeps count mode "t" (set by ordered_keys.tree)
    tail_changes = None     # [(value, change of its nontail)] of the last insert or remove ("t" only)

    def _note_tail(self, value, delta: int) -> None:
        if delta:
            self.tail_changes.append((value, delta))

    def _beside(self, path: list, step: int) -> Optional[tuple]:
        """(separator between the leaf at the end of `path` and the one after (step 1) or before (-1) it,
        the cache entry of the inner node holding it, the neighbour's place there), None at the tree's
        edge. `path`: the (nid, cache entry, child position) of the inner nodes above the leaf, as `_locate`
        gives them."""
        for level in range(len(path) - 1, -1, -1):
            cached, pos = path[level][1], path[level][2]
            if 0 <= pos + step < len(cached[4]):
                return cached[3][pos if step > 0 else pos - 1], cached, pos + step
        return None

    def _leaf_under(self, children: list, pos: int, step: int) -> str:
        """The text of the first (step 1) or last (-1) leaf under child `pos` of `children`."""
        nid = int(children[pos])
        text = self._cached(nid)[0]
        while text[0] == "I":
            children = self._entry(nid)[4]
            nid = int(children[0 if step > 0 else -1])
            text = self._cached(nid)[0]
        return text

    def _continues(self, path: list, value) -> bool:
        """Whether the leaf after the one at the end of `path` starts with an entry of `value` (read only
        when the separator between them holds `value`)."""
        beside = self._beside(path, 1)
        if beside is None or not same_value(beside[0], value):
            return False
        return self._text_run(self._leaf_under(beside[1][4], beside[2], 1), value, False, 1)[1]

    def _run_before(self, path: list, value) -> int:
        """The run of `value`'s entries at the end of the leaf before the one at the end of `path` (read
        only when the separator between them holds `value`; called when the run of `value` would begin
        the leaf, so the separator's value is not greater)."""
        beside = self._beside(path, -1)
        if beside is None or not same_value(beside[0], value):
            return 0
        return self._text_run(self._leaf_under(beside[1][4], beside[2], -1), value, False, -1)[0]

    def _tail_moved(self, path: list, value, delta: int, at_end: bool, alone: bool, at_head: bool) -> None:
        """Note how one entry of `value` inserted (delta 1) into or removed (-1) from the leaf at the end of
        `path` changes nontail(value): `at_end`, the value's run (with the entry) ends the leaf; `alone`,
        the entry is the only one of its value in the leaf; `at_head`, it begins the leaf."""
        if at_end and self._continues(path, value):
            self._note_tail(value, delta)
        elif alone and at_head:     # its last leaf moves between the leaf and the one before
            self._note_tail(value, delta * self._run_before(path, value))

    def _tail_inserted(self, path: list, parts: list, pos: int, value) -> None:
        """`_tail_moved` of an entry of `value` inserted at `pos` among the leaf's entry texts `parts`."""
        after = pos < len(parts) and same_value(parts[pos], value)
        alone = not after and not (pos and same_value(parts[pos - 1], value))
        at_end = pos == len(parts) or (after and same_value(parts[-1], value))
        self._tail_moved(path, value, 1, at_end, alone, pos == 0)

    def _tail_removed(self, path: list, parts: list, pos: int, value) -> None:
        """`_tail_moved` of the entry at `pos` among the leaf's entry texts `parts` (before its removal)."""
        after = pos + 1 < len(parts) and same_value(parts[pos + 1], value)
        alone = not after and not (pos and same_value(parts[pos - 1], value))
        at_end = pos + 1 == len(parts) or (after and same_value(parts[-1], value))
        self._tail_moved(path, value, -1, at_end, alone, pos == 0)

    def _tail_split(self, path: list, left: list, right: list) -> None:
        """Note a leaf (at the end of `path`) split into the entry texts `left` | `right`: the value whose
        entries span the cut, when the leaf was its last, keeps its entries in `left` out of its tail."""
        if not left or not right or not same_value(left[-1], index_nodes.parse_entry(right[0])[0]):
            return
        value = index_nodes.parse_entry(right[0])[0]
        if same_value(right[-1], value) and self._continues(path, value):
            return
        self._note_tail(value, self._text_run(index_nodes.leaf_text(left), value, False, -1)[0])

    def _tail_merged(self, right_path: list, left: list, right: list) -> None:
        """Note two neighbouring leaves merged (`left` and `right`: their entry texts; `right_path`: the
        inner nodes above the right one): the value whose entries span them, when the right one was its
        last, has its entries in `left` in its tail now."""
        if not left or not right or not same_value(left[-1], index_nodes.parse_entry(right[0])[0]):
            return
        value = index_nodes.parse_entry(right[0])[0]
        if same_value(right[-1], value) and self._continues(right_path, value):
            return
        self._note_tail(value, -self._text_run(index_nodes.leaf_text(left), value, False, -1)[0])

    def tail_run(self, value) -> tuple:
        """(how many entries `value` (in indexed form) has in its last leaf, whether it may have entries in
        leaves before it: its run begins the leaf and the separator before that holds `value`; when False
        its nontail is 0). One descent to the end of its entries, its run counted in the leaf's text (see
        `_text_run`: nothing parsed) and, when the leaf has none and the separator before it holds
        `value`, in the leaf before it (count mode "t": a count is this run and the value's stored
        nontail)."""
        header = self.header()
        if not header["r"]:
            return 0, False
        high = (self._entry_key(value, 0)[0], value, 1 << 64)
        stack = []
        nid = header["r"]
        text = self._cached(nid)[0]
        while text[0] == "I":
            view = self._node_view(nid)
            pos = self._position(view, high, 0, True)
            stack.append((view, pos))
            nid = int(view[2][pos])
            text = self._cached(nid)[0]
        run, head, _tail = self._text_run(text, value)
        if run and not head:
            return run, False
        for inner, pos in reversed(stack):
            if pos:
                if not equal_values(self.entry_at(inner, pos - 1)[0], value):
                    return run, False
                if run:
                    return run, True
                # none here: the leaf's entries all follow the value's, which end the leaf before it
                return self._text_run(self._leaf_under(inner[2], pos - 1, -1), value, False, -1)[:2]
        return run, False
