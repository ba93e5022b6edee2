"""Paged export of every entity as plain records, and the trusted restore that writes them back.

A record keeps everything needed to rebuild the entity exactly: id, field values, to-one links
(`refs`), many-to-many links (`links`, dumped from one side only), owner, creator, updater,
timestamps and version. After the last entity of a type comes `{"type", "max_id"}`, so ids of
deleted entities are not given out again after a restore. Restore is the only path that may set
those.

A page carries a bounded number of link ids whatever one entity holds: a record whose links do not fit
says `"more_links": true`, and the rest follow on the next pages in continuation records
`{"type", "links_of": id, "links"}` (the last one without `more_links`); the page's cursor
`tc:id:relation:after` points inside the entity's links. Restore takes a continuation only for an entity
restored from a record that announced it, and only past the links restored so far (`<tc>*<id>` keeps
that position until the last continuation).
"""


from . import delete_jobs, type_registry
from . import key_layout as keys
from .db_entity import doc_text, parse_document
from .db_errors import ConflictError, NotFoundError, StorageLimitError, ValidationError

MAX_RESTORE_RECORDS = 1000
"""Records per restore call: about 4M wasm instructions each under Kybra's RustPython
(docs/engine-benchmark.md), so one call stays far below the 40B per-message limit."""

MAX_RESTORE_LINK_IDS = 10_000
"""Many-to-many link ids per restore call: both sides are written for each, 0.5M (ids in few buckets)
to 0.9M (each in a bucket of its own) wasm instructions per id through the canister under Kybra's
RustPython (benchmarks/engine_wasm.py --dump-links), so a page at the cap takes under a quarter of 40B."""

MAX_DUMP_LINK_IDS = 5000
"""Link ids per dump page: a record whose links do not fit goes on in continuation records on the next
pages, so a page stays small to build, encode and restore however many links one entity has."""

MAX_DUMP_LINK_BUCKETS = 4000
"""Id buckets of links one dump page reads (each 2,048 ids wide, read even when empty: about 0.15M
wasm instructions each under Kybra's RustPython), so sparse links into a type with many ids page too."""


def _canonical_side(rel) -> bool:
    rev = rel.reverse_relation()
    return (rel.owner.__type_name__, rel.name) <= (rev.owner.__type_name__, rev.name)


def _dumped_relations(cls) -> list:
    """Names of the many-to-many relations whose links a record of `cls` lists (each pair from one
    side), in the order a dump walks them."""
    names = []
    for name, rel in cls.__relations__.items():
        if rel.to_many and rel.target_cls is not None:
            rev = rel.reverse_relation()
            if rev.to_many and _canonical_side(rel):
                names.append(name)
    return sorted(names)


class _Page:
    """The records of one dump page and what it may still carry: records, link ids, id-bucket reads."""

    def __init__(self, limit: int, stop=None, admit=None):
        self.records = []
        self.limit = limit
        self.ids = MAX_DUMP_LINK_IDS
        self.buckets = MAX_DUMP_LINK_BUCKETS
        self.stop = stop  # () -> bool: the caller's budget is used up (asked once a record is in)
        self.admit = admit  # (record) -> bool: whether it still fits (asked before each record goes in)

    def add(self, record: dict) -> bool:
        """Append `record` unless `admit` refuses it."""
        if self.admit is not None and not self.admit(record):
            return False
        self.records.append(record)
        return True

    def full(self) -> bool:
        return (len(self.records) >= self.limit or self.ids <= 0 or self.buckets <= 0
                or (self.stop is not None and bool(self.records) and self.stop()))


def _walk_links(entity, cls, page: _Page, start, dumped: list) -> tuple:
    """The entity's dumped links (of the relations `dumped`, `_dumped_relations(cls)`) from `start`
    ((relation, link id after which to go on), or None for all) as far as the page allows: ({relation:
    ids}, None when they are all in, else where to go on)."""
    links = {}
    eid = entity._eid
    for name in dumped:
        after = 0
        if start is not None:
            if name < start[0]:
                continue
            if name == start[0]:
                after = start[1]
        rel = cls.__relations__[name]
        rev = rel.reverse_relation()
        if rel is rev or (rel.owner is rev.owner and rel.name == rev.name):
            after = max(after, eid - 1)     # a symmetric relation: each pair once, from its lower id
        while after is not None:
            if page.ids <= 0 or page.buckets <= 0:
                return links, (name, after)
            ids, after, reads = entity.link_walk(name, after, page.ids, page.buckets)
            page.ids -= len(ids)
            page.buckets -= reads
            if ids:
                links.setdefault(name, []).extend(ids)
    return links, None


def _record(db, tc: int, type_name: str, eid: int, cls, page: _Page, dumped: list) -> tuple:
    """(the entity's record, None or where its links go on when they do not all fit the page);
    `dumped`: `_dumped_relations(cls)` (worked out once per page and type)."""
    doc = parse_document(db.get_value(keys.doc_key(tc, eid)))
    stored = doc["f"]
    fields = {}
    refs = {}
    relations = cls.__relations__ if cls is not None else {}
    for name, value in stored.items():
        rel = relations.get(name)
        if rel is not None and not rel.to_many:
            refs[name] = value
        elif cls is None or name in cls.__fields__:
            fields[name] = value
    links, position = {}, None
    entity = cls.by_storage_id(eid) if dumped else None
    if entity is not None:
        links, position = _walk_links(entity, cls, page, None, dumped)
    record = {"type": type_name, "id": eid, "fields": fields, "refs": refs, "links": links,
              "owner": doc["o"], "creator": doc["c"], "updater": doc["u"], "created": doc["tc"],
              "updated": doc["tu"], "version": doc["v"]}
    if position is not None:
        record["more_links"] = True
    return record, position


def _continuation(type_name: str, cls, eid: int, start: tuple, page: _Page):
    """Append the record that goes on with entity `eid`'s links from `start`; None when they are all
    in, else where to go on. An entity deleted since the previous page ends its links here."""
    entity = cls.by_storage_id(eid)
    links, position = ({}, None) if entity is None else _walk_links(entity, cls, page, start,
                                                                    _dumped_relations(cls))
    record = {"type": type_name, "links_of": eid, "links": links}
    if position is not None:
        record["more_links"] = True
    if not page.add(record):  # the page's first record: only a caller's page with no room refuses it
        raise ValidationError("a dump page needs room for the record that goes on with links")
    return position


def _number(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def _cursor(cursor) -> tuple:
    """(type code, id after which the page starts, None), or inside an entity's links (type code,
    entity id, (relation, link id after which they go on))."""
    if not cursor:
        return 1, 0, None
    parts = cursor.split(":") if isinstance(cursor, str) else ()
    try:
        if len(parts) == 2:
            return _number(parts[0]), _number(parts[1]), None
        if len(parts) == 4 and parts[2] and parts[1] != "0":
            return _number(parts[0]), _number(parts[1]), (parts[2], _number(parts[3]))
    except ValueError:
        pass
    raise ValidationError(f"invalid dump cursor {str(cursor)[:80]!r}")


def _position(tc: int, eid: int, position: tuple) -> str:
    return f"{tc}:{eid}:{position[0]}:{position[1]}"


def dump_page(db, cursor, limit: int, stop=None, admit=None) -> tuple:
    """(records, next cursor or None): entities in (type code, id) order after `cursor`, at most
    `limit` of them (and a type's end marker), MAX_DUMP_LINK_IDS link ids and MAX_DUMP_LINK_BUCKETS
    id-bucket reads; an entity whose links do not fit goes on in continuation records. `stop()` true
    ends the page after the record just read (a record can cost ~0.4B instructions to read);
    `admit(record)` false ends it before that record (the caller's size cap; a record that can go in
    no page is the caller's to refuse by raising)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        raise ValidationError("limit must be a positive integer")
    start_tc, after, resume = _cursor(cursor)
    page = _Page(limit, stop, admit)
    for tc, name in db.stored_types():
        if tc < start_tc:
            continue
        if tc > start_tc:
            after, resume = 0, None
        cls = type_registry.find(name)
        dumped = [] if cls is None else _dumped_relations(cls)
        if resume is not None and cls is not None:
            if resume[0] not in dumped:
                raise ValidationError(f"invalid dump cursor {cursor[:80]!r}: {name} has no such links")
            position = _continuation(name, cls, after, resume, page)
            if position is not None:
                return page.records, _position(tc, after, position)
        while True:
            if page.full():
                return page.records, f"{tc}:{after}"
            ids, next_id = db.live_walk(tc, after, limit - len(page.records))
            last = after  # the id after which the page goes on when the next record does not fit
            for eid in ids:
                record, position = _record(db, tc, name, eid, cls, page, dumped)
                if not page.add(record):
                    return page.records, f"{tc}:{last}"
                last = eid
                if position is not None:
                    return page.records, _position(tc, eid, position)
                if page.full() and (eid != ids[-1] or next_id is not None):
                    return page.records, f"{tc}:{eid}"
            if next_id is None:
                if not page.add({"type": name, "max_id": db.counters(tc)[0]}):
                    return page.records, f"{tc}:{last}"
                break
            after = next_id
        if page.full():
            return page.records, f"{tc + 1}:0"
    return page.records, None


def _int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(f"restore: {what} must be a non-negative integer")
    return value


def _text(value, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"restore: {what} must be non-empty text")
    return value


def _ids(ids, what: str) -> list:
    """A list of non-negative integer ids (the message is built only for a bad one)."""
    if not isinstance(ids, list):
        raise ValidationError(f"restore: links of {what} must be a list")
    for tid in ids:
        if type(tid) is not int or tid < 0:
            _int(tid, what)
    return ids


def _links(cls, record: dict, label: str) -> list:
    """The record's (relation, ids) pairs by relation name, each a to-many relation of `cls`."""
    links = record.get("links") or {}
    if not isinstance(links, dict):
        raise ValidationError(f"restore: links of {label} must be an object")
    pairs = []
    for name in sorted(links):
        rel = cls.__relations__.get(name)
        if rel is None or not rel.to_many:
            raise ValidationError(f"restore: {cls.__type_name__} has no to-many relation {name!r}")
        pairs.append((name, _ids(links[name], label + "." + name)))
    return pairs


def _more_links(record: dict) -> bool:
    more = record.get("more_links", False)
    if not isinstance(more, bool):
        raise ValidationError("restore: more_links must be true or false")
    return more


def _await_links(db, key: str, pairs: list, more: bool, position: str = None) -> None:
    """Keep (or drop, after the last continuation) how far an entity's restored links got."""
    if more:
        for name, ids in pairs:
            if ids:
                position = name + "," + str(ids[-1])
        db.put(key, position or ",0")
        return
    current = db.get(key)
    if current is not None:
        db.delete_value(key, current)


def _restore_one(db, record: dict, checked: bool) -> int:
    if not isinstance(record, dict):
        raise ValidationError("restore: each record must be a dict")
    cls = type_registry.get(_text(record.get("type"), "type"))
    if "links_of" in record:
        _restore_continuation(db, cls, record)
        return 0
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
        data[name] = value if checked else prop.validate(value, label + "." + name)
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
    pairs = _links(cls, record, label)
    more = _more_links(record)
    tc = db.type_code(cls.__type_name__, create=True)
    key = keys.doc_key(tc, eid)
    if db.get(key) is not None:
        raise ConflictError(f"restore: {label} already exists")
    if delete_jobs.held(db, cls.__type_name__, eid):
        raise ConflictError(f"restore: {label} is being deleted (its delete goes on); restore it after that")
    max_id, count = db.counters(tc)
    reused = eid <= max_id      # an id given out before: it may have awaited links then
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
    for name, ids in pairs:
        entity.restore_links(name, ids, True)
    if more or reused:
        _await_links(db, keys.awaited_links_key(tc, eid), pairs, more)
    db.record("restore", cls.__type_name__, eid, fields)
    return 1


def _restore_continuation(db, cls, record: dict) -> None:
    """More links of an entity restored from an earlier record that announced them (`more_links`),
    each past the links restored so far; anything else is refused."""
    unknown = set(record) - {"type", "links_of", "links", "more_links"}
    if unknown:
        raise ValidationError(f"restore: a continuation record holds only links, not {sorted(unknown)[0]!r}")
    eid = _int(record.get("links_of"), "links_of")
    label = f"{cls.__type_name__}@{eid}"
    pairs = _links(cls, record, label)
    more = _more_links(record)
    tc = db.type_code(cls.__type_name__)
    entity = None if tc is None or eid == 0 else cls.by_storage_id(eid)
    if entity is None:
        raise NotFoundError(f"restore: links continue {label}, which does not exist")
    key = keys.awaited_links_key(tc, eid)
    position = db.get(key)
    if position is None:
        raise ConflictError(f"restore: {label} awaits no more links (they were restored in full, or it "
                            "was not restored from a dump record with more_links)")
    done_name, _, done_id = position.partition(",")
    done_id = int(done_id)
    for name, ids in pairs:
        if not cls.__relations__[name].reverse_relation().to_many:
            raise ValidationError(f"restore: {cls.__type_name__}.{name} is not many-to-many: a continuation "
                                  "carries many-to-many links only")
        for index in range(1, len(ids)):
            if ids[index] <= ids[index - 1]:
                raise ValidationError(f"restore: links of {label}.{name} must be ascending")
        if ids and (name < done_name or (name == done_name and ids[0] <= done_id)):
            upto = str(done_id) if name == done_name else "the last"
            raise ConflictError(f"restore: links of {label}.{name} up to {upto} are restored already")
    for name, ids in pairs:
        entity.restore_links(name, ids, True)
    _await_links(db, key, pairs, more, position)


def _restore_max_id(db, cls, max_id: int) -> None:
    """A type's end marker: ids up to `max_id` were assigned, so they are never given out again."""
    tc = db.type_code(cls.__type_name__, create=True)
    current, count = db.counters(tc)
    if max_id > current:
        db.mark_range_deleted(tc, current + 1, max_id)
        db.set_counters(tc, max_id, count)


def link_ids(records: list) -> int:
    """How many many-to-many link ids the records carry (what MAX_RESTORE_LINK_IDS bounds)."""
    total = 0
    for record in records:
        links = record.get("links") if isinstance(record, dict) else None
        if isinstance(links, dict):
            for ids in links.values():
                if isinstance(ids, list):
                    total += len(ids)
    return total


def restore(db, records: list, checked: bool = False) -> int:
    """Write dumped records back (all or nothing); returns how many entities were restored. `checked`:
    the caller checked each field value as the field's validation would (the value kept; required
    fields given), so it is not validated again (~0.12M instructions a field on Kybra's RustPython)."""
    if not isinstance(records, list):
        raise ValidationError("restore takes a list of records")
    if len(records) > MAX_RESTORE_RECORDS:
        raise StorageLimitError(f"restore takes at most {MAX_RESTORE_RECORDS} records per call "
                                f"(got {len(records)}): split the page")
    count = link_ids(records)
    if count > MAX_RESTORE_LINK_IDS:
        raise StorageLimitError(f"restore takes at most {MAX_RESTORE_LINK_IDS} link ids per call "
                                f"(got {count}): split the page")
    restored = 0
    with db.operation():
        for record in records:
            restored += _restore_one(db, record, checked)
    return restored
