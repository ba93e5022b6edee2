"""Storage key names: short, prefix-free and bounded in size, so every lookup is one `get`.

`tc` is the per-type code (a small int) assigned when a type is first stored; user-supplied parts
(alias and indexed values) are hashed when they would make a key too long.
"""

import hashlib
import json
from json.encoder import encode_basestring as _encode_string

from . import json_text

META = "!meta"
TYPE_SEQ = "!types"
AUDIT_MIN = "_min"
CHUNK_MARK = "~"


def type_code_key(type_name: str) -> str:
    return "!t:" + type_name


def type_name_key(tc: int) -> str:
    return f"!n:{tc}"


def key_schema_key(tc: int) -> str:
    """The type's alias/index generations (see Database.sync_key_schema)."""
    return f"!k:{tc}"


def counter_key(tc: int) -> str:
    return f"{tc}#"


def doc_key(tc: int, entity_id: int) -> str:
    return f"{tc}:{entity_id}"


def chunk_key(key: str, index: int) -> str:
    return f"{key}{CHUNK_MARK}{index}"


def deleted_key(tc: int, bucket: int) -> str:
    return f"{tc}-{bucket}"


COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _unserializable(value):
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _fast_encoder():
    """CPython's C encoder built once (JSONEncoder.encode rebuilds it on every call); None where it is
    missing or behaves differently (e.g. another runtime), and then the standard encoder is used."""
    try:
        from json.encoder import c_make_encoder, encode_basestring
        encoder = c_make_encoder(None, _unserializable, encode_basestring, None, ":", ",", False, False,
                                 True)
        sample = {"k": [1, 2.5, None, True, "é\"\n"], "n": {}}
        if "".join(encoder(sample, 0)) != COMPACT.encode(sample):
            return None
        return encoder
    except Exception:
        return None


_FAST = _fast_encoder()


NATIVE_JSON = _FAST is not None
"""True where `json` has its C accelerators (CPython); elsewhere (Kybra's RustPython) the engine
encodes and decodes with json_text, which gives the same text and values in far fewer steps there."""


def compact(value) -> str:
    """Compact JSON text (no spaces, UTF-8 kept), as `COMPACT.encode` gives."""
    if _FAST is None:   # (a dict, the usual value, one call sooner)
        return json_text.encode_dict(value) if value.__class__ is dict else json_text.encode(value)
    return "".join(_FAST(value, 0))


def value_token(value) -> str:
    """A canonical text for a field value (typed: 1, "1" and true differ)."""
    if type(value) is str:
        return _encode_string(value)    # what CANONICAL.encode gives for a str (ensure_ascii=False)
    if _FAST is None:
        return json_text.encode(value, sort_keys=True)
    return CANONICAL.encode(value)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def fit(prefix: str, token: str, limit: int, reserve: int = 0) -> str:
    """`prefix=token`, or `prefix#hash(token)` when the plain form would exceed `limit - reserve` bytes."""
    plain = prefix + "=" + token
    if len(plain) * 4 + reserve <= limit or len(plain.encode("utf-8")) + reserve <= limit:
        return plain
    return prefix + "#" + digest(token)


def _generation(gen: int) -> str:
    # generation 0 keeps the original key names, so data stored before generations existed still reads
    return "!" + str(gen) if gen else ""


encode_string = _encode_string
"""A Text value's JSON string (what `value_token` gives for a str): the token of its alias key."""

_ALIAS_HEADS = {}     # (type code, field, generation) -> alias_head(...), for up to 1024 of them


def alias_head(tc: int, field: str, gen: int = 0) -> str:
    """The start of the alias keys of `field` that hold their value's token plainly: a plain Text value's key
    is this + encode_string(value) whenever that text has at most `limit // 4` characters (see `fit`)."""
    return str(tc) + "@" + field + _generation(gen) + "="


def alias_key(tc: int, field: str, value, limit: int, gen: int = 0) -> str:
    """Where the entity holding alias `value` is found: `fit` of its prefix and the value's token."""
    head = _ALIAS_HEADS.get((tc, field, gen))
    if head is None:
        head = alias_head(tc, field, gen)
        if len(_ALIAS_HEADS) < 1024:
            _ALIAS_HEADS[(tc, field, gen)] = head
    if value.__class__ is str:
        token = _encode_string(value)
        key = head + token
        if len(key) * 4 <= limit:     # (fit's first test, without its call)
            return key
    else:
        token = value_token(value)
    return fit(head[:-1], token, limit)


def pending_key(tc: int, bucket: int) -> str:
    """Ids of a type's entities that hold relations waiting for their targets (deserialize)."""
    return f"{tc}%{bucket}"


def text_id_key(tc: int, text_id: str, limit: int) -> str:
    """Where a caller-chosen text id (`Person(_id="peter")`) finds its storage id."""
    return fit(str(tc) + "$", _encode_string(text_id), limit)


def index_key(tc: int, field: str, value, bucket: int, limit: int, gen: int = 0) -> str:
    suffix = "/" + str(bucket)
    return fit(str(tc) + "?" + field + _generation(gen), value_token(value), limit, len(suffix) + 8) + suffix


def ordered_key(tc: int, field: str, gen: int = 0) -> str:
    """The ordered index of a field: header key; its nodes are this key + "." + node number."""
    return str(tc) + "^" + field + _generation(gen)


def value_count_key(tc: int, field: str, value, limit: int, gen: int = 0) -> str:
    """How many entities hold `value` in the ordered index of `field` (exact values: long ones hashed):
    every value of an index in the key schema's "c" list, only long Text values (that the index shortens)
    of one in its "v" or "t" list (see value_counts.py)."""
    return fit(str(tc) + "=" + field + _generation(gen), value_token(value), limit)


def value_counts_key(tc: int, field: str, gen: int = 0) -> str:
    """The per-field B+tree of counts of the values with many entries (see value_counts.py): header key;
    its nodes are this key + "." + node number."""
    return str(tc) + "+" + field + _generation(gen)


def link_key(tc: int, entity_id: int, relation: str, target_tc: int, bucket: int) -> str:
    return f"{tc}>{entity_id}.{relation}.{target_tc}/{bucket}"


def awaited_links_key(tc: int, entity_id: int) -> str:
    """An entity restored from a dump record whose links continue in later records: how far they got."""
    return f"{tc}*{entity_id}"


def audit_key(prefix: str, seq: int) -> str:
    return f"{prefix}{seq}"
