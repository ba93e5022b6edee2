"""JSON text in linear time and few steps on Kybra's RustPython; the same results as the `json` module.

There `json` runs its pure-Python encoder (no C accelerator) and its decoder is quadratic: every string
is scanned from an index, and indexing into text costs time proportional to the index. These
functions touch text only through whole-string operations (`split`, `translate`, `join`) and small
pieces, so their cost grows linearly with the text. `encode` equals `json.dumps(value,
separators=(",", ":"), ensure_ascii=False)` (with `sort_keys` on request) and `decode` equals
`json.loads(text)`, including which texts are refused (JSONDecodeError, a ValueError); anything
outside the common cases (non-str keys, subclasses, very deep nesting) is handed to `json` itself.
"""

import json
from json.decoder import scanstring as _scanstring
from typing import Optional

_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)
_encode_string = json.encoder.encode_basestring
_MAX_DEPTH = 32
_INFINITY = float("inf")
NATIVE = json.encoder.c_make_encoder is not None
"""True where `json` runs on its C accelerators (CPython): there `loads`/`dumps` below use it."""


def loads(text: str):
    """`json.loads(text)` in linear time on every runtime (json itself where it is native)."""
    return json.loads(text) if NATIVE else decode(text)


def dumps(value, sort_keys: bool = False) -> str:
    """Compact `json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)`."""
    if NATIVE:
        return (_CANONICAL if sort_keys else _COMPACT).encode(value)
    return _encode(value, sort_keys, 0)


# ----- encoding ----------------------------------------------------------------------------------------


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _encode(value, sort_keys: bool, depth: int) -> str:
    kind = type(value)
    if kind is str:
        return _encode_string(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is float:
        return _float(value)
    if depth < _MAX_DEPTH:
        if kind is dict:
            return encode_dict(value, sort_keys, depth)
        if kind is list or kind is tuple:
            return "[" + ",".join([_encode(item, sort_keys, depth + 1) for item in value]) + "]"
    return (_CANONICAL if sort_keys else _COMPACT).encode(value)


_KEY_HEADS = {}
"""`"key":` of the keys met (field names recur in every document and audit entry)."""
_KEY_PIECES = {}
"""`,"key":` of the same keys (what `encode_dict` joins)."""
_KEY_HEADS_MAX = 1024


def _key_head(key: str) -> str:
    """`"key":` of a text key, kept in `_KEY_HEADS` (and `,"key":` in `_KEY_PIECES`) while there is room."""
    head = _encode_string(key) + ":"
    if len(_KEY_HEADS) < _KEY_HEADS_MAX and len(key) <= 64:
        _KEY_HEADS[key] = head
        _KEY_PIECES[key] = "," + head
    return head


def encode_with_part(value: dict, part: Optional[dict]) -> tuple:
    """(`encode_dict(value)`, `encode_dict(part)`) where `part` holds some of the items of `value` (the same
    values: an update's changed fields of its document), each value encoded once; the second is None
    when `part` is None or holds another key. Keys other than text go to `encode_dict`."""
    heads = _KEY_HEADS
    pieces = {}     # key -> `"key":value`
    try:
        for key, item in value.items():
            head = heads[key]   # (a subscript costs a third of `get` on Kybra's RustPython)
            kind = item.__class__
            pieces[key] = (head + _encode_string(item) if kind is str else f"{head}{item}" if kind is int
                           else head + "null" if item is None else head + _encode(item, False, 1))
    except KeyError:    # a key not met before (or not text: none are kept)
        return encode_dict(value), None if part is None else encode_dict(part)
    text = "{" + ",".join(pieces.values()) + "}"
    if part is None:
        return text, None
    try:
        (key,) = part   # one item (most updates): without a comprehension, a call on Kybra's RustPython
    except ValueError:
        key = _NO_KEY
    try:
        if key is not _NO_KEY:
            return text, "{" + pieces[key] + "}"
        return text, "{" + ",".join([pieces[key] for key in part]) + "}"
    except KeyError:
        return text, None


_NO_KEY = object()


_SHORT = 16
"""Items of a dict that `encode_dict` joins into one growing text (more would be copied too often)."""


def encode_dict(value: dict, sort_keys: bool = False, depth: int = 0) -> str:
    """`encode(value)` of a dict (one call fewer where the caller knows it has one); keys other than
    text go to json itself."""
    if not sort_keys and len(value) <= _SHORT:  # (a few items, keys met before: a third fewer steps)
        pieces = _KEY_PIECES
        text = ""
        try:
            for key, item in value.items():
                kind = item.__class__
                text += (pieces[key] + _encode_string(item) if kind is str else f"{pieces[key]}{item}"
                         if kind is int else pieces[key] + "null" if item is None
                         else pieces[key] + _encode(item, False, depth + 1))
            return "{" + text[1:] + "}"
        except KeyError:    # a key not met before (or not text: none are kept)
            pass
    parts = []
    items = value.items()
    if sort_keys:
        for key in value:
            if type(key) is not str:
                return _CANONICAL.encode(value)
        items = sorted(items)
    heads = _KEY_HEADS
    for key, item in items:
        head = heads.get(key)   # (only text keys are kept)
        if head is None:
            if type(key) is not str:
                return (_CANONICAL if sort_keys else _COMPACT).encode(value)
            head = _key_head(key)
        kind = item.__class__   # (what type(item) gives, without a builtin call: cheaper on RustPython)
        if kind is str:     # the common values without a further call
            parts.append(head + _encode_string(item))
        elif kind is int:
            parts.append(head + int.__repr__(item))
        elif item is None:
            parts.append(head + "null")
        else:
            parts.append(head + _encode(item, sort_keys, depth + 1))
    return "{" + ",".join(parts) + "}"


def encode(value, sort_keys: bool = False) -> str:
    """Compact JSON text of `value` (no spaces, UTF-8 kept); keys sorted if `sort_keys`."""
    kind = value.__class__
    if kind is str:     # text and ints (most document entries) without a further call
        return _encode_string(value)
    if kind is int:
        return int.__repr__(value)
    if kind is dict:
        return encode_dict(value, sort_keys, 0)
    return _encode(value, sort_keys, 0)


# ----- decoding ----------------------------------------------------------------------------------------

_LITERALS = {"true": True, "false": False, "null": None, "NaN": float("nan"), "Infinity": _INFINITY,
             "-Infinity": -_INFINITY}
_DIGITS = "0123456789"
_QUOTE = '"'
_KEY_COLON = '":'   # a key and its colon, one token (see `_tokens`)
_NEXT_KEY = ',":'   # a comma, a key and its colon, one token

# parser states
_VALUE, _FIRST_VALUE, _KEY, _FIRST_KEY, _COLON, _NEXT, _END = range(7)


def _fail(text: str, what: str):
    raise json.JSONDecodeError(what, text, 0)


# Stand-ins for an escaped backslash and an escaped quote while text is split at its quotes: raw control
# characters are never valid JSON, so text that holds one takes the step-by-step way instead.
_BACKSLASH = "\x00"
_QUOTED = "\x01"
# the escapes decoded by whole-string replaces (an escaped backslash is split out before them)
_SIMPLE_ESCAPES = (("\\n", "\n"), ("\\t", "\t"), ("\\r", "\r"), ("\\/", "/"), ("\\b", "\b"),
                   ("\\f", "\f"))
# the \\u escapes `encode` writes (control characters but NUL), decoded the same way
_CONTROL_ESCAPES = tuple((f"\\u{code:04x}", chr(code)) for code in range(1, 32)
                         if chr(code) not in "\b\f\n\r\t")


def _split_strings(text: str) -> tuple:
    """(pieces, marked): `text` split at the quotes that delimit strings, outside parts at even, string
    bodies at odd positions; `marked` when escaped backslashes and quotes in the bodies stand as
    _BACKSLASH and _QUOTED (whole-string replaces: linear in the text however many escapes it holds)."""
    if "\\" not in text:
        return text.split('"'), False
    if _BACKSLASH not in text and _QUOTED not in text:
        return text.replace("\\\\", _BACKSLASH).replace('\\"', _QUOTED).split('"'), True
    pieces = text.split('"')
    out = []
    count = len(pieces)
    index = 0
    while index < count:
        out.append(pieces[index])
        index += 1
        if index == count:
            break
        inside = pieces[index]
        index += 1
        while inside.endswith("\\") and (len(inside) - len(inside.rstrip("\\"))) % 2 == 1:
            if index == count:
                _fail(text, "unterminated string")
            inside = inside + '"' + pieces[index]
            index += 1
        out.append(inside)
    return out, False


def _unmarked(body: str) -> str:
    """A marked string body as it stands in the text."""
    return body.replace(_BACKSLASH, "\\\\").replace(_QUOTED, '\\"')


def _unescape(body: str) -> str:
    """The value of a marked string body (printable, or trusted), as `scanstring` gives it. Every
    backslash left in a marked body starts an escape, so the escapes `encode` writes are replaced whole,
    in a few steps however many there are; a body with others (\\u of other characters, or an invalid
    escape) goes to `scanstring`."""
    value = body.replace(_QUOTED, '"')
    if "\\" in value:
        for escape, char in _SIMPLE_ESCAPES:
            value = value.replace(escape, char)
        if "\\u" in value:
            for escape, char in _CONTROL_ESCAPES:
                value = value.replace(escape, char)
        nul = value.count("\\u0000")  # a NUL would read as a marker: put in as the markers go
        if value.count("\\") != nul:
            return _scanstring('"' + _unmarked(body) + '"', 1)[0]
        if nul:
            return "\x00".join([part.replace(_BACKSLASH, "\\") for part in value.split("\\u0000")])
    return value.replace(_BACKSLASH, "\\")


_ASCII_CONTROLS = tuple(chr(code) for code in range(32)) + ("\x7f",)
"""The ASCII characters `str.isprintable` refuses."""


def _printable(text: str) -> bool:
    """`text.isprintable()`: for ASCII text, whether it holds none of the ASCII control characters (an
    `in` test each: far fewer steps on Kybra's RustPython, where isprintable costs ~1,000 instructions
    per character)."""
    if not text.isascii():
        return text.isprintable()
    for char in _ASCII_CONTROLS:
        if char in text:
            return False
    return True


def _tokens(text: str, trusted: bool) -> tuple:
    """(tokens, strings): the structural tokens and literals in order, a '"' token where a string
    stands, and the decoded strings in order. `trusted` text (written by `encode`) skips the checks
    for control characters, which cost a step per character here."""
    pieces, marked = _split_strings(text)
    if len(pieces) % 2 == 0:
        _fail(text, "unterminated string")
    strings = pieces[1::2]
    outside = '"'.join(pieces[0::2])
    if not outside.isascii():
        _fail(text, "unexpected character outside a string")
    plain = trusted or _printable(text)
    if not plain:
        outside = outside.replace("\t", " ").replace("\n", " ").replace("\r", " ")
        if not outside.isprintable():
            _fail(text, "unexpected control character")
    if not plain or "\\" in text:
        for index, body in enumerate(strings):
            if not (plain or body.isprintable()):
                strings[index] = _scanstring('"' + (_unmarked(body) if marked else body) + '"', 1)[0]
            elif marked:
                if "\\" in body or _BACKSLASH in body or _QUOTED in body:
                    strings[index] = _unescape(body)
            elif "\\" in body:
                strings[index] = _scanstring('"' + body + '"', 1)[0]
    spaced = (outside.replace("{", " { ").replace("}", " } ").replace("[", " [ ").replace("]", " ] ")
              .replace(",", " , ").replace(":", " : ").replace('"', ' " '))
    # a key and its colon as one token (`":`), with the comma before it (`,":`) where nothing stands
    # between them: compact text has a third fewer tokens to step through
    return spaced.replace(' ,  "  : ', " ,\": ").replace(' "  : ', ' ": ').split(), strings


def _number(text: str, token: str):
    if token.isdigit():
        if token[0] != "0" or len(token) == 1:
            return int(token)
    elif token[0] == "-" and token[1:].isdigit():
        if token[1] != "0" or len(token) == 2:
            return int(token)
    else:
        body = token[1:] if token[0] == "-" else token
        mantissa, mark, exponent = body.replace("E", "e").partition("e")
        whole, dot, fraction = mantissa.partition(".")
        if mark and exponent[:1] in ("+", "-"):
            exponent = exponent[1:]
        if (whole.isdigit() and (whole[0] != "0" or len(whole) == 1) and (not dot or fraction.isdigit())
                and (not mark or exponent.isdigit()) and (dot or mark)):
            return float(token)
    return _fail(text, "invalid value " + token[:20])


def _scalar(text: str, token: str):
    value = _LITERALS.get(token, _fail)
    if value is not _fail:
        return value
    if token[0] in _DIGITS or token[0] == "-":
        return _number(text, token)
    return _fail(text, "expected a value, not " + repr(token[:20]))


def decode(text: str, trusted: bool = False):
    """The value of JSON `text`, as `json.loads(text)` gives it (same errors: JSONDecodeError), except
    that nesting deeper than the recursion limit decodes instead of raising RecursionError. A container
    goes into its parent as it opens (the same place and value as when it closes: nothing comes between),
    so a value needs no stack of pending keys, and the innermost container's kind is a flag, not a
    type() call: a few steps per token on Kybra's RustPython."""
    if type(text) is not str:
        return json.loads(text)
    tokens, strings = _tokens(text, trusted)
    # the states and the quote token as locals (a global's lookup costs more, in every token's step)
    VALUE, FIRST_VALUE, KEY, FIRST_KEY, COLON, NEXT, END, QUOTE = (_VALUE, _FIRST_VALUE, _KEY, _FIRST_KEY,
                                                                   _COLON, _NEXT, _END, _QUOTE)
    KEY_COLON, NEXT_KEY = _KEY_COLON, _NEXT_KEY
    stack = []          # (container, whether it is a dict) of the open containers around `top`
    top = None          # the innermost open container
    in_dict = False     # whether `top` is a dict
    key = None          # the key the next value of `top` (a dict) goes under
    next_string = 0
    state = VALUE
    result = None
    for token in tokens:
        if state == NEXT:
            if token == NEXT_KEY:   # `,"key":` (only in a dict)
                if not in_dict:
                    return _fail(text, "expected ',' or the end of a container")
                key = strings[next_string]
                next_string += 1
                state = VALUE
                continue
            if token == ",":
                state = KEY if in_dict else VALUE
                continue
            if token != ("}" if in_dict else "]"):
                return _fail(text, "expected ',' or the end of a container")
        elif state == COLON:
            if token != ":":
                return _fail(text, "expected ':'")
            state = VALUE
            continue
        elif state <= FIRST_VALUE:
            if token == QUOTE:
                value = strings[next_string]
                next_string += 1
            elif token == "{" or token == "[":
                new = {} if token == "{" else []
                if top is None:
                    result = new
                elif in_dict:
                    top[key] = new
                else:
                    top += (new,)   # (extends the list in place: fewer steps than a call of append)
                stack += ((top, in_dict),)
                top = new
                in_dict = token == "{"
                state = FIRST_KEY if in_dict else FIRST_VALUE
                continue
            elif token == "]" and state == FIRST_VALUE:
                top, in_dict = stack.pop()     # an empty list closes
                state = NEXT if top is not None else END
                continue
            else:
                value = _scalar(text, token)
            if top is None:
                result = value
                state = END
            else:
                if in_dict:
                    top[key] = value
                else:
                    top += (value,)
                state = NEXT
            continue
        elif state <= FIRST_KEY:
            if token == KEY_COLON:   # `"key":`
                key = strings[next_string]
                next_string += 1
                state = VALUE
                continue
            if token == QUOTE:
                key = strings[next_string]
                next_string += 1
                state = COLON
                continue
            if token != "}" or state != FIRST_KEY:
                return _fail(text, "expected a key")
        else:
            return _fail(text, "extra data")
        # `top` closes (its closer after a value, or an empty dict's)
        top, in_dict = stack.pop()
        state = NEXT if top is not None else END
    if state != END:
        _fail(text, "unexpected end of text")
    return result


class _Shape(Exception):
    """The text is not a flat record: decode it the general way."""


def record_scalar(token: str):
    """The value of a number or literal token of text `encode` wrote (ValueError or IndexError if none)."""
    if token.isdigit() and (token[0] != "0" or len(token) == 1):
        return int(token)
    value = _LITERALS.get(token, _fail)
    if value is not _fail:
        return value
    return _number(token, token)


def decode_record(text: str) -> dict:
    """`decode(text, trusted=True)` for text `encode` wrote from a dict whose values are scalars or
    dicts of scalars (the engine's documents), in a few steps per entry; other text goes through
    `decode`."""
    if "\\" in text or not text.startswith('{"'):
        return decode(text, True)
    pieces = text.split('"')
    try:
        return _flat(pieces, len(pieces))
    except (_Shape, IndexError, ValueError):
        return decode(text, True)


def _flat(pieces: list, count: int) -> dict:
    out = {}
    target = out
    index = 1
    while True:
        key = pieces[index]
        after = pieces[index + 1]
        if after == ":":
            target[key] = pieces[index + 2]
            after = pieces[index + 3]
            index += 4
        elif after == ":{":
            if target is not out:
                raise _Shape()
            inner = {}
            target[key] = inner
            target = inner
            index += 2
            continue
        else:
            token = after.rstrip(",}")
            if token[:1] != ":":
                raise _Shape()
            target[key] = record_scalar(token[1:])
            after = after[len(token):]
            index += 2
        if after == ",":
            continue
        if after == "},":
            if target is out:
                raise _Shape()
            target = out
            continue
        if after == "}" and target is out or after == "}}" and target is not out:
            if index != count:
                raise _Shape()
            return out
        raise _Shape()
