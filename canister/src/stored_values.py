"""ICRC-3 `Value`s of stored data: the one encoding shared by audit blocks and certified entities.

A stored value becomes a one-entry Map named by its kind, so equal bytes of different kinds never hash
alike: {"Text": Text}, {"Int": Int}, {"Float": Blob (8 bytes, IEEE 754 big-endian)}, {"Bool": Nat 0/1},
{"Null": Array []}. Principals are stored (and hashed) as their text, timestamps as integers (ns).
"""

import codecs
import hashlib
import struct

import rep_hash


def stored_value(stored: object) -> dict:
    """The Value of one stored field value."""
    if stored is None:
        return {"Map": [("Null", {"Array": []})]}
    if stored is True or stored is False:
        return {"Map": [("Bool", {"Nat": 1 if stored else 0})]}
    if isinstance(stored, int):
        return {"Map": [("Int", {"Int": stored})]}
    if isinstance(stored, float):
        return {"Map": [("Float", {"Blob": struct.pack(">d", stored)})]}
    return {"Map": [("Text", {"Text": str(stored)})]}


def field_values(values: dict, keep_null: bool) -> dict:
    """A Map of field name -> stored_value; null values are left out unless `keep_null`."""
    items = []
    for name in values:
        stored = values[name]
        if stored is None and not keep_null:
            continue
        items.append((name, stored_value(stored)))
    return {"Map": items}


def _one_entry_hash(kind: str, value_hash: bytes) -> bytes:
    return hashlib.sha256(rep_hash.key_hash(kind) + value_hash).digest()


_NULL_HASH = _one_entry_hash("Null", hashlib.sha256(b"").digest())
_BOOL_HASHES = (_one_entry_hash("Bool", rep_hash.nat_hash(0)), _one_entry_hash("Bool", rep_hash.nat_hash(1)))


def stored_value_hash(stored: object) -> bytes:
    """rep_hash.value_hash(stored_value(stored)), without building the Value."""
    if stored is None:
        return _NULL_HASH
    if stored is True or stored is False:
        return _BOOL_HASHES[1 if stored else 0]
    if isinstance(stored, int):
        return _one_entry_hash("Int", rep_hash.int_hash(stored))
    if isinstance(stored, float):
        return _one_entry_hash("Float", hashlib.sha256(struct.pack(">d", stored)).digest())
    return _one_entry_hash("Text", rep_hash.text_hash(str(stored)))


_TEXT_KEY = rep_hash.key_hash("Text")
_INT_KEY = rep_hash.key_hash("Int")
_INFINITY = float("inf")
_KEY_HASHES = rep_hash.KEY_HASHES
_TIME_HASH = rep_hash.TIME_HASH
_BYTES, _MORE = rep_hash.BYTES, rep_hash.MORE
_sha256 = hashlib.sha256
_utf8 = codecs.utf_8_encode   # (s)[0] is s.encode("utf-8"), errors included, in half the instructions
_sleb128 = rep_hash.sleb128
_uleb128 = rep_hash.uleb128


def plain_values_hash(values: dict, keep_null: bool):
    """rep_hash.value_hash(field_values(values, keep_null)) when the names are texts and the values plain
    (str, int, bool, None or a finite float: what JSON gives back exactly), computed without building the
    Value (every audit block and certified entity passes here). On Kybra's RustPython every step counts:
    Text and short Int values are hashed inline (UTF-8 by the codec function: half of str.encode's cost;
    the SLEB128 of a natural number of up to 3 bytes from tables), key hashes come from the cache without
    a call, and up to three pairs are ordered by comparisons and joined by `+` (a list, its sort and
    bytes.join cost some 35,000 instructions); None for any other dict."""
    sha256 = _sha256
    first = second = third = rest = None
    for name in values:
        stored = values[name]
        kind = stored.__class__   # (a builtin type() call costs ~9,000 instructions on RustPython)
        if kind is str:
            value_hash = sha256(_TEXT_KEY + sha256(_utf8(stored)[0]).digest()).digest()
        elif kind is int:
            if stored < 0 or stored >= 0x100000:
                leb = _sleb128(stored)
            elif stored < 0x40:
                leb = _BYTES[stored]
            elif stored < 0x2000:
                leb = _MORE[stored & 0x7F] + _BYTES[stored >> 7]
            else:
                leb = _MORE[stored & 0x7F] + _MORE[stored >> 7 & 0x7F] + _BYTES[stored >> 14]
            value_hash = sha256(_INT_KEY + sha256(leb).digest()).digest()
        elif stored is None:
            if not keep_null:
                continue
            value_hash = _NULL_HASH
        elif kind is bool or (kind is float and -_INFINITY < stored < _INFINITY):
            value_hash = stored_value_hash(stored)
        else:
            return None
        try:
            pair = _KEY_HASHES[name] + value_hash
        except KeyError:
            if type(name) is not str:
                return None
            pair = rep_hash.key_hash(name) + value_hash
        if first is None:
            first = pair
        elif second is None:
            second = pair
        elif third is None:
            third = pair
        elif rest is None:
            rest = [first, second, third, pair]
        else:
            rest.append(pair)
    # a Map hashes its pairs sorted; distinct names have distinct key hashes, so no two pairs are equal
    if second is None:
        return sha256(b"" if first is None else first).digest()
    if rest is not None:
        rest.sort()
        return sha256(b"".join(rest)).digest()
    if second < first:
        first, second = second, first
    if third is None:
        return sha256(first + second).digest()
    if third < second:
        if third < first:
            return sha256(third + first + second).digest()
        return sha256(first + third + second).digest()
    return sha256(first + second + third).digest()


def field_values_hash(values: dict, keep_null: bool) -> bytes:
    """rep_hash.value_hash(field_values(values, keep_null)), without building the Value when the values
    are plain (see plain_values_hash)."""
    found = plain_values_hash(values, keep_null)
    return found if found is not None else rep_hash.value_hash(field_values(values, keep_null))


def entity_value(type_name: str, record: dict) -> dict:
    """The certified Value of an entity record (see engine_gateway): what a certified get proves."""
    refs = []
    for name in record["refs"]:
        target = record["refs"][name]
        if target is not None:
            refs.append((name, {"Nat": target}))
    return {
        "Map": [
            ("type_name", {"Text": type_name}),
            ("id", {"Nat": record["id"]}),
            ("fields", field_values(record["fields"], False)),
            ("refs", {"Map": refs}),
            ("owner", {"Text": record["owner"] or ""}),
            ("creator", {"Text": record["creator"] or ""}),
            ("updater", {"Text": record["updater"] or ""}),
            ("created_at", {"Nat": record["created_at"] or 0}),
            ("updated_at", {"Nat": record["updated_at"] or 0}),
            ("version", {"Nat": record["version"] or 0}),
        ]
    }


# An entity's Map pairs in the order of their keys' hashes (a Map's pairs sort by them: see audit_chain)
_UPDATER, _UPDATED_AT, _TYPE_NAME, _OWNER, _VERSION, _ID, _CREATOR, _FIELDS, _REFS, _CREATED_AT = (
    rep_hash.key_hash(name) for name in ("updater", "updated_at", "type_name", "owner", "version", "id",
                                         "creator", "fields", "refs", "created_at")
)
_EMPTY_MAP_HASH = hashlib.sha256(b"").digest()
_NO_REFS = {}   # (compared with, never changed)
_PEOPLE = {}    # owner/creator/updater text -> the hash of its Text (the same few principals recur)
_VERSIONS = {}  # version -> the hash of its Nat
_CACHED_HASHES = 256


def _person_hash(text: str) -> bytes:
    """The hash of a principal's text as a Text (UTF-8 encoded and hashed), remembered."""
    found = _sha256(_utf8(text)[0]).digest()
    if len(_PEOPLE) >= _CACHED_HASHES:
        _PEOPLE.clear()
    _PEOPLE[text] = found
    return found


def _version_hash(version: int) -> bytes:
    """The hash of a version's Nat (its LEB128 hashed), remembered."""
    found = _sha256(_uleb128(version)).digest()
    if len(_VERSIONS) >= _CACHED_HASHES:
        _VERSIONS.clear()
    _VERSIONS[version] = found
    return found


def entity_hash(type_name: str, record: dict) -> bytes:
    """rep_hash.value_hash(entity_value(type_name, record)), without building the Value when its parts
    are plain (texts, natural numbers, plain field values): every certified change hashes its entity."""
    sha256 = _sha256
    owner, creator, updater = record["owner"] or "", record["creator"] or "", record["updater"] or ""
    entity_id, version = record["id"], record["version"] or 0
    created, updated = record["created_at"] or 0, record["updated_at"] or 0
    if (owner.__class__ is not str or creator.__class__ is not str or updater.__class__ is not str
            or type_name.__class__ is not str):
        return _value_hash(type_name, record)
    if (entity_id.__class__ is not int or version.__class__ is not int or created.__class__ is not int
            or updated.__class__ is not int or entity_id < 0 or version < 0 or created < 0 or updated < 0):
        return _value_hash(type_name, record)
    fields = plain_values_hash(record["fields"], False)
    refs = record["refs"]
    refs = _EMPTY_MAP_HASH if refs == _NO_REFS else _refs_hash(refs)   # (most types have no relations)
    if fields is None or refs is None:
        return _value_hash(type_name, record)
    people = _PEOPLE   # (the hashes of the texts seen: a subscript in a try, no call)
    try:
        owner_hash = people[owner]
    except KeyError:
        owner_hash = _person_hash(owner)
    if creator == owner:
        creator_hash = owner_hash
    else:
        try:
            creator_hash = people[creator]
        except KeyError:
            creator_hash = _person_hash(creator)
    if updater == owner:
        updater_hash = owner_hash
    else:
        try:
            updater_hash = people[updater]
        except KeyError:
            updater_hash = _person_hash(updater)
    last = _TIME_HASH   # (the message's time and its hash, as its audit block hashed it: see rep_hash)
    updated_hash = last[1] if updated == last[0] else sha256(_uleb128(updated)).digest()
    if created == updated:
        created_hash = updated_hash
    else:
        created_hash = last[1] if created == last[0] else sha256(_uleb128(created)).digest()
    try:
        version_hash = _VERSIONS[version]
    except KeyError:
        version_hash = _version_hash(version)
    # (the LEB128 of an id below 2**14 joined inline: no call)
    if entity_id < 0x80:
        id_leb = _BYTES[entity_id]
    elif entity_id < 0x4000:
        id_leb = _MORE[entity_id & 0x7F] + _BYTES[entity_id >> 7]
    else:
        id_leb = _uleb128(entity_id)
    try:
        type_hash = _KEY_HASHES[type_name]
    except KeyError:
        type_hash = rep_hash.key_hash(type_name)
    return sha256(b"".join((   # (one join: 19 `+` would copy the growing bytes 19 times)
        _UPDATER, updater_hash, _UPDATED_AT, updated_hash, _TYPE_NAME, type_hash, _OWNER, owner_hash,
        _VERSION, version_hash, _ID, sha256(id_leb).digest(),
        _CREATOR, creator_hash, _FIELDS, fields, _REFS, refs, _CREATED_AT, created_hash,
    ))).digest()


def _value_hash(type_name: str, record: dict) -> bytes:
    """entity_hash of a record with parts that are not plain: the hash of its Value, built."""
    return rep_hash.value_hash(entity_value(type_name, record))


def _refs_hash(refs: dict):
    """The hash of the refs Map (name -> Nat of each set target), or None for an odd target."""
    pairs = []
    for name in refs:
        target = refs[name]
        if target is None:
            continue
        if target.__class__ is not int or target < 0 or name.__class__ is not str:
            return None
        pairs.append(rep_hash.key_hash(name) + hashlib.sha256(_uleb128(target)).digest())
    if not pairs:
        return _EMPTY_MAP_HASH
    pairs.sort()
    return hashlib.sha256(b"".join(pairs)).digest()
