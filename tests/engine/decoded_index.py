"""The ordered index's removal and the count tree's changes as they were made on decoded nodes (before
they moved to entry texts): the reference the text paths must store byte for byte alike."""

from bisect import bisect_left, bisect_right

from kybra_simple_db import index_nodes
from kybra_simple_db.ordered_index import OrderedIndex, half_cut, sort_key
from kybra_simple_db.value_counts import CountTree, rank


def _copy(node):
    if type(node) is list:
        return list(node)
    return {"s": list(node["s"]), "c": list(node["c"])}


class _Decoded:
    """Descent, split, merge and root upkeep on decoded nodes (mixed into an OrderedIndex)."""

    def _descend(self, header: dict, target: tuple) -> tuple:
        path = []
        nid = header["r"]
        node, node_keys = self.read_keyed(nid)
        while type(node) is dict:
            pos = bisect_right(node_keys, target)
            path.append((nid, node, pos))
            nid = node["c"][pos]
            node, node_keys = self.read_keyed(nid)
        return path, nid, node, node_keys, index_nodes.encode(node)

    def _store_decoded(self, header: dict, path: list, nid: int, node, text: str) -> None:
        if self._fits(text):
            self._write(nid, node, text)
            return
        text = None
        while text is None:
            inner = type(node) is dict
            entries = node["s"] if inner else node
            cut = half_cut([index_nodes.entry_text(v, i) for v, i in entries])
            if inner:
                left = {"s": entries[:cut], "c": node["c"][:cut + 1]}
                right = {"s": entries[cut + 1:], "c": node["c"][cut + 1:]}
            else:
                left, right = entries[:cut], entries[cut:]
            separator = entries[cut]
            right_nid = header["n"]
            header["n"] = right_nid + 1
            self._write(nid, left)
            self._write(right_nid, right)
            if not path:
                root = header["n"]
                header["n"] = root + 1
                header["r"] = root
                header["h"] += 1
                self._write(root, {"s": [separator], "c": [nid, right_nid]})
                self._put_header(header)
                return
            nid, node, pos = path.pop()
            node = _copy(node)
            node["s"].insert(pos, separator)
            node["c"].insert(pos + 1, right_nid)
            text = self._fitting(node)
            if text is not None:
                self._write(nid, node, text)
                self._put_header(header)
                return

    def _shrink_decoded(self, header: dict, path: list, nid: int, node, text) -> None:
        while True:
            empty = not node if type(node) is list else not node["c"]
            if not path:
                self._root_decoded(header, nid, node, empty, text)
                return
            parent_nid, parent, pos = path.pop()
            if empty:
                self.db.delete(self._node_key(nid))
                parent = _copy(parent)
                del parent["c"][pos]
                if parent["s"]:
                    del parent["s"][max(pos - 1, 0)]
                nid, node, text = parent_nid, parent, None
                continue
            if text is None:
                text = index_nodes.encode(node)
            if len(parent["c"]) > 1 and self._fits(text, 4):
                left_pos = pos - 1 if pos > 0 else pos
                left_nid = parent["c"][left_pos]
                right_nid = parent["c"][left_pos + 1]
                left = node if left_nid == nid else self.read(left_nid)
                right = node if right_nid == nid else self.read(right_nid)
                if type(left) is list:
                    merged = left + right
                else:
                    merged = {"s": left["s"] + [parent["s"][left_pos]] + right["s"],
                              "c": left["c"] + right["c"]}
                merged_text = index_nodes.encode(merged)
                if len(merged_text.encode("utf-8")) * 4 <= self.limit * 3:
                    self._write(left_nid, merged, merged_text)
                    self.db.delete(self._node_key(right_nid))
                    parent = _copy(parent)
                    del parent["c"][left_pos + 1]
                    del parent["s"][left_pos]
                    nid, node, text = parent_nid, parent, None
                    continue
            self._write(nid, node, text)
            return

    def _root_decoded(self, header: dict, nid: int, node, empty: bool, text) -> None:
        if empty:
            self.db.delete(self._node_key(nid))
            self.db.delete(self.prefix)
            return
        if type(node) is list or len(node["c"]) > 1:
            self._write(nid, node, text)
            return
        height = header["h"]
        while type(node) is dict and len(node["c"]) == 1:
            self.db.delete(self._node_key(nid))
            nid = node["c"][0]
            node = self.read(nid)
            height -= 1
        header["r"] = nid
        header["h"] = height
        self._put_header(header)


class DecodedIndex(_Decoded, OrderedIndex):
    """An ordered index whose removals decode the nodes they pass (inserts as OrderedIndex's)."""

    def remove(self, value, entity_id: int) -> bool:
        value = self.key(value)
        header = self.header()
        if not header["r"]:
            return False
        target = sort_key(value, entity_id)
        path, nid, leaf, entry_keys, _text = self._descend(header, target)
        pos = bisect_left(entry_keys, target)
        if pos >= len(entry_keys) or entry_keys[pos] != target:
            return False
        leaf = leaf[:pos] + leaf[pos + 1:]
        text = index_nodes.encode(leaf)
        if leaf and (not path or len(path[-1][1]["c"]) == 1 or not self._fits(text, 4)):
            self._write(nid, leaf, text)
        else:
            self._shrink_decoded(header, path, nid, leaf, text)
        self.touched = (text, entry_keys[:pos] + entry_keys[pos + 1:], None, None)
        self._path = None
        return True


class DecodedCounts(_Decoded, CountTree):
    """A count tree whose changes decode the nodes they pass."""

    def add(self, value, delta: int, floor: int) -> bool:
        found = self._found(value)
        if found is None or not found[-1]:
            return False
        after = found[3][found[5]][1] + delta
        self._set_found(found, value, after if after >= floor else None)
        return True

    def set(self, value, count) -> None:
        found = self._found(value)
        if found is None:
            if count is not None:
                self._put_header({"r": 1, "n": 2, "h": 1})
                self._write(1, [[value, count]])
            return
        self._set_found(found, value, count)

    def _found(self, value):
        header = self.header()
        if not header["r"]:
            return None
        target = (rank(value), value)
        path, nid, leaf, entry_keys, _text = self._descend(header, target)
        pos = bisect_left(entry_keys, target)
        return header, path, nid, leaf, entry_keys, pos, pos < len(entry_keys) and entry_keys[pos] == target

    def _set_found(self, found: tuple, value, count) -> None:
        header, path, nid, leaf, _keys, pos, present = found
        leaf = list(leaf)
        if count is None:
            if present:
                del leaf[pos]
                self._shrink_decoded(header, path, nid, leaf, index_nodes.encode(leaf))
            return
        if present:
            leaf[pos] = [value, count]
        else:
            leaf.insert(pos, [value, count])
        self._store_decoded(header, path, nid, leaf, index_nodes.encode(leaf))
