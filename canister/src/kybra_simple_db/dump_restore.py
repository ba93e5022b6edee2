"""Paged export of every entity as plain records, and the trusted restore that writes them back.

A record keeps everything needed to rebuild the entity exactly: id, field values, to-one links
(`refs`), many-to-many links (`links`, dumped from one side only), owner, creator, updater,
timestamps and version. After the last entity of a type comes `{"type", "max_id"}`, so ids of
deleted entities are not given out again after a restore. Restore is the only path that may set
those.
"""


from . import json_text, type_registry
from . import key_layout as keys
from .db_entity import doc_text
from .db_errors import ConflictError, StorageLimitError, ValidationError

MAX_RESTORE_RECORDS = 1000
"""Records per restore call: about 4M wasm instructions each under Kybra's RustPython
(docs/engine-benchmark.md), so one call stays far below the 40B per-message limit."""


MAX_DUMP_LINK_IDS = 5000
"""A dump page ends after the record that brings its many-to-many link ids to this many, so a page of
well-linked entities stays small to build and to encode (one entity's own links are not split)."""


def _canonical_side(rel) -> bool:
    rev = rel.reverse_relation()
    return (rel.owner.__type_name__, rel.name) <= (rev.owner.__type_name__, rev.name)


def _record(db, tc: int, type_name: str, eid: int, cls) -> dict:
    doc = json_text.decode_record(db.get_value(keys.doc_key(tc, eid)))
    stored = doc["f"]
    fields = {}
    refs = {}
    links = {}
    relations = cls.__relations__ if cls is not None else {}
    for name, value in stored.items():
        rel = relations.get(name)
        if rel is not None and not rel.to_many:
            refs[name] = value
        elif cls is None or name in cls.__fields__:
            fields[name] = value
    if cls is not None:
        entity = cls.load(eid)
        for name, rel in relations.items():
            if not rel.to_many or rel.target_cls is None:
                continue
            rev = rel.reverse_relation()
            if not rev.to_many or not _canonical_side(rel):
                continue
            ids = entity.linked_ids(name)
            if rel is rev or (rel.owner is rev.owner and rel.name == rev.name):
                ids = [i for i in ids if i >= eid]
            if ids:
                links[name] = ids
    return {"type": type_name, "id": eid, "fields": fields, "refs": refs, "links": links,
            "owner": doc["o"], "creator": doc["c"], "updater": doc["u"], "created": doc["tc"],
            "updated": doc["tu"], "version": doc["v"]}


def dump_page(db, cursor, limit: int) -> tuple:
    """(records, next cursor or None): entities in (type code, id) order after `cursor` ("tc:id")."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValidationError("limit must be a positive integer")
    start_tc, after = 1, 0
    if cursor:
        try:
            a, b = cursor.split(":")
            start_tc, after = int(a), int(b)
        except ValueError:
            raise ValidationError(f"invalid dump cursor {cursor!r}") from None
    records = []
    link_ids = 0
    for tc, name in db.stored_types():
        if tc < start_tc:
            continue
        if tc > start_tc:
            after = 0
        cls = type_registry.find(name)
        while True:
            ids, next_id = db.live_walk(tc, after, limit - len(records))
            for eid in ids:
                record = _record(db, tc, name, eid, cls)
                records.append(record)
                link_ids += sum(len(linked) for linked in record["links"].values())
                if link_ids >= MAX_DUMP_LINK_IDS and eid != ids[-1]:
                    return records, f"{tc}:{eid}"     # the rest of the batch on the next page
            if next_id is None:
                records.append({"type": name, "max_id": db.counters(tc)[0]})
                break
            after = next_id
            if len(records) >= limit:
                return records, f"{tc}:{after}"
        if len(records) >= limit:
            return records, f"{tc + 1}:0"
    return records, None


def _int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"restore: {what} must be a non-negative integer")
    return value


def _text(value, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"restore: {what} must be non-empty text")
    return value


def _restore_one(db, record: dict) -> None:
    if not isinstance(record, dict):
        raise ValidationError("restore: each record must be a dict")
    cls = type_registry.get(_text(record.get("type"), "type"))
    if "id" not in record and "max_id" in record:
        _restore_max_id(db, cls, _int(record["max_id"], "max_id"))
        return 0
    eid = _int(record.get("id"), "id")
    if eid == 0:
        raise ValidationError("restore: id must be positive")
    label = f"{cls.__type_name__}@{eid}"
    data = {}
    for name, prop in cls.__fields__.items():
        data[name] = prop.default
    fields = record.get("fields") or {}
    for name, value in fields.items():
        prop = cls.__fields__.get(name)
        if prop is None:
            raise ValidationError(f"restore: {cls.__type_name__} has no field {name!r}")
        data[name] = prop.validate(value, label + "." + name)
    for name, rel in cls.__relations__.items():
        if not rel.to_many:
            data[name] = None
    for name, value in (record.get("refs") or {}).items():
        rel = cls.__relations__.get(name)
        if rel is None or rel.to_many:
            raise ValidationError(f"restore: {cls.__type_name__} has no to-one relation {name!r}")
        data[name] = None if value is None else _int(value, label + "." + name)
    meta = {"o": _text(record.get("owner"), "owner"), "c": _text(record.get("creator"), "creator"),
            "u": _text(record.get("updater"), "updater"), "tc": _int(record.get("created"), "created"),
            "tu": _int(record.get("updated"), "updated"), "v": _int(record.get("version"), "version")}
    tc = db.type_code(cls.__type_name__, create=True)
    key = keys.doc_key(tc, eid)
    if db.get(key) is not None:
        raise ConflictError(f"restore: {label} already exists")
    max_id, count = db.counters(tc)
    if eid > max_id:
        db.mark_range_deleted(tc, max_id + 1, eid - 1)
        max_id = eid
    else:
        db.mark_deleted(tc, eid, False)
    db.set_counters(tc, max_id, count + 1)
    text = doc_text(data, meta)
    db.put_value(key, text)
    entity = cls.adopt_stored(db, tc, eid, text)
    entity.restore_reverse_links()
    for name, ids in (record.get("links") or {}).items():
        rel = cls.__relations__.get(name)
        if rel is None or not rel.to_many:
            raise ValidationError(f"restore: {cls.__type_name__} has no to-many relation {name!r}")
        if not isinstance(ids, list):
            raise ValidationError(f"restore: links of {label}.{name} must be a list")
        entity.restore_links(name, [_int(tid, label + "." + name) for tid in ids], True)
    db.record("restore", cls.__type_name__, eid, fields)
    return 1


def _restore_max_id(db, cls, max_id: int) -> None:
    """A type's end marker: ids up to `max_id` were assigned, so they are never given out again."""
    tc = db.type_code(cls.__type_name__, create=True)
    current, count = db.counters(tc)
    if max_id > current:
        db.mark_range_deleted(tc, current + 1, max_id)
        db.set_counters(tc, max_id, count)


def restore(db, records: list) -> int:
    """Write dumped records back (all or nothing); returns how many entities were restored."""
    if not isinstance(records, list):
        raise ValidationError("restore takes a list of records")
    if len(records) > MAX_RESTORE_RECORDS:
        raise StorageLimitError(f"restore takes at most {MAX_RESTORE_RECORDS} records per call "
                                f"(got {len(records)}): split the page")
    restored = 0
    with db.operation():
        for record in records:
            restored += _restore_one(db, record)
    return restored
