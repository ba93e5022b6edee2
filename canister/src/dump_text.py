"""The JSON text of a dump record: compact, keys sorted, non-ASCII escaped, as `json` writes it.

Under Kybra's RustPython `json` has no C encoder: its Python one takes ~1.1M instructions for a small
record. Here the common values (text, ints, the records' dicts and lists of ids) are written in a few
whole-string steps, text by json's own (native) `encode_basestring_ascii`; anything else (floats, other
classes, keys that are not text) is written by the encoder itself, so the text is always the same.
"""

import json
import json.encoder

DUMP_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True)
_quote = json.encoder.encode_basestring_ascii


_HEADS = {}
"""`"key":` of the text keys met (record keys, field and relation names recur in every record)."""
_HEADS_MAX = 1024


class _Unusual(Exception):
    """A key the fast path does not write: the encoder writes the whole record."""


def record_text(record: dict) -> str:
    """`"".join(DUMP_JSON.iterencode(record))` of a dict."""
    try:
        return _dict(record)
    except (_Unusual, TypeError):
        return "".join(DUMP_JSON.iterencode(record))


def _dict(value: dict) -> str:
    pieces = []
    heads = _HEADS
    for key in sorted(value):
        try:
            head = heads[key]   # (a subscript: a third of get() on RustPython)
        except KeyError:
            head = _head(key)
        item = value[key]
        kind = item.__class__   # (a quarter of a type() call on RustPython; subclasses go to the encoder)
        if kind is str:
            text = _quote(item)
        elif kind is int:
            text = int.__repr__(item)
        elif kind is dict:
            text = _dict(item) if item else "{}"
        elif kind is list:
            text = _ids(item)
        elif item is None:
            text = "null"
        elif item is True:
            text = "true"
        elif item is False:
            text = "false"
        else:
            text = DUMP_JSON.encode(item)
        pieces += (head + text,)   # (fewer instructions than a call of append)
    return "{" + ",".join(pieces) + "}"


def _head(key) -> str:
    """`"key":` of a text key, kept while there is room (a key of another class is unusual)."""
    if key.__class__ is not str:
        raise _Unusual()
    head = _quote(key) + ":"
    if len(_HEADS) < _HEADS_MAX and len(key) <= 64:
        _HEADS[key] = head
    return head


def _ids(items: list) -> str:
    """A list's text: of non-negative ints (a record's link ids) from its repr in one step, checked to
    hold nothing but digits between the commas; any other list by the encoder."""
    if not items:
        return "[]"
    text = str(items).replace(", ", ",")
    if text[1:-1].replace(",", "").isdigit() and text.isascii():
        return text
    return DUMP_JSON.encode(items)
