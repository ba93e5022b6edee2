"""The text of ordered-index nodes: cheap to write and to read under Kybra's RustPython, where JSON
costs millions of instructions per kilobyte.

A leaf is "L" followed by its entries; an inner node is "I", its separator entries, "\\x1c", and its
child numbers joined by ",". Entries are separated by "\\x1e"; an entry is a type tag ("s" text, "i"
int, "f" float, "t"/"u" true/false), the value, "\\x1f" and the entity id. Text escapes the three
separator characters (and the escape character "\\x1d") with "\\x1d" + a digit.
"""

_ENTRY = "\x1e"
_FIELD = "\x1f"
_CHILDREN = "\x1c"
_ESCAPE = "\x1d"
_ESCAPES = ((_ESCAPE, _ESCAPE + "0"), (_ENTRY, _ESCAPE + "1"), (_FIELD, _ESCAPE + "2"),
            (_CHILDREN, _ESCAPE + "3"))
_PLAIN_CHARS = 0x20       # separators are below: text without such characters needs no escaping
_PLAIN = chr(_PLAIN_CHARS)
ENTRY = _ENTRY            # between a node's entry texts
FIELD = _FIELD            # between an entry text's value and its id (or count)
PLAIN = _PLAIN            # text of characters from here up is stored as it is


def _escape(text: str) -> str:
    for raw, escaped in _ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


def _unescape(text: str) -> str:
    if _ESCAPE not in text:
        return text
    for raw, escaped in reversed(_ESCAPES):
        text = text.replace(escaped, raw)
    return text


def entry_text(value, entity_id: int) -> str:
    kind = type(value)
    if kind is str:
        if value and min(value) < _PLAIN:
            value = _escape(value)
        return f"s{value}\x1f{entity_id}"
    if kind is int:
        return f"i{value}\x1f{entity_id}"
    if kind is float:
        return f"f{value!r}\x1f{entity_id}"
    if kind is bool:
        return f"t\x1f{entity_id}" if value else f"u\x1f{entity_id}"
    raise TypeError(f"{kind.__name__} values cannot be indexed in order")


def _entries_text(entries: list) -> str:
    return _ENTRY.join([entry_text(value, eid) for value, eid in entries])


def _parse_entries(text: str) -> list:
    if not text:
        return []
    return [parse_entry(part) for part in text.split(_ENTRY)]


def parse_entry(part: str) -> list:
    """[value, id] of one entry's text."""
    cut = part.rindex(_FIELD)
    tag = part[0]
    raw = part[1:cut]
    if tag == "s":
        value = _unescape(raw)
    elif tag == "i":
        value = int(raw)
    elif tag == "f":
        value = float(raw)
    else:
        value = tag == "t"
    return [value, int(part[cut + 1:])]


def split_node(text: str) -> tuple:
    """(entry texts, child numbers as texts or None for a leaf) of a node, its entries left unparsed
    (a read that needs a few of them parses only those: see OrderedIndex.count_value)."""
    if text[0] == "L":
        children = None
        separators = text
    else:       # (the last "\x1c" is the only one: text escapes it; `rpartition` is the cheaper search)
        separators, _, children = text.rpartition(_CHILDREN)
        children = children.split(",")
    if len(separators) == 1:
        return [], children
    parts = separators.split(_ENTRY)    # (the tag cut from the first part, not by copying the text)
    parts[0] = parts[0][1:]
    return parts, children


def leaf_parts(text: str) -> list:
    """A leaf's entry texts (to splice one in or out without decoding the others)."""
    return text[1:].split(_ENTRY) if len(text) > 1 else []


def leaf_text(parts: list) -> str:
    return "L" + _ENTRY.join(parts)


def parts_text(parts: list, children) -> str:
    """The text of a node given as entry texts and, for an inner node, child numbers as texts (a leaf:
    None); what `encode` gives for the decoded node."""
    if children is None:
        return "L" + _ENTRY.join(parts)
    return "I" + _ENTRY.join(parts) + _CHILDREN + ",".join(children)


def value_prefixes(value) -> tuple:
    """The texts every entry of `value` starts with (its tag, value and field separator), one per stored
    form of an equal value: an integral number is found as Int and as Float (1 == 1.0, 0 == -0.0)."""
    kind = type(value)
    if kind is str or kind is bool:
        return (entry_text(value, ""),)
    if kind is float:
        if value != value or value in (_INF, -_INF):
            return ("f" + repr(value) + _FIELD,)
        if value.is_integer():
            return ("i" + str(int(value)) + _FIELD,) + _float_forms(value)
        return _float_forms(value)
    if kind is int:
        try:
            as_float = float(value)
        except OverflowError:
            return ("i" + str(value) + _FIELD,)
        return ("i" + str(value) + _FIELD,) + (_float_forms(as_float) if as_float == value else ())
    raise TypeError(f"{kind.__name__} values cannot be indexed in order")


_INF = float("inf")


def _float_forms(value: float) -> tuple:
    if value == 0:
        return ("f0.0" + _FIELD, "f-0.0" + _FIELD)
    return ("f" + repr(value) + _FIELD,)


def encode(node) -> str:
    """A leaf (list of [value, id]) or an inner node ({"s": separators, "c": children}) as text."""
    if type(node) is list:
        return "L" + _entries_text(node)
    return "I" + _entries_text(node["s"]) + _CHILDREN + ",".join([str(c) for c in node["c"]])


def decode(text: str):
    if text[0] == "L":
        return _parse_entries(text[1:])
    if text[0] != "I":
        raise ValueError("not an index node")
    separators, _, children = text[1:].partition(_CHILDREN)
    return {"s": _parse_entries(separators), "c": [int(c) for c in children.split(",")] if children else []}


def stored_size(text: str) -> int:
    """Bytes a text value takes in a node: UTF-8 plus one byte per escaped character."""
    size = 0
    for ch in text:
        code = ord(ch)
        if code < 0x80:
            size += 2 if code < _PLAIN_CHARS and ch in _ESCAPE + _ENTRY + _FIELD + _CHILDREN else 1
        elif code < 0x800:
            size += 2
        elif code < 0x10000:
            size += 3
        else:
            size += 4
    return size


def text_prefix(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` that takes at most `max_bytes` in a node. Each character's cost is
    fixed, so the prefix is monotone: a <= b implies prefix(a) <= prefix(b) (range bounds stay valid)."""
    if len(text) * 4 <= max_bytes:
        return text
    if len(text.encode("utf-8")) <= max_bytes and min(text) >= _PLAIN:
        return text             # no character needs escaping: its UTF-8 size is its stored size
    size = 0
    for i, ch in enumerate(text):
        size += stored_size(ch)
        if size > max_bytes:
            return text[:i]
    return text
