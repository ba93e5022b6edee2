"""Class-level queries of an entity type: id-ordered pages, index lookups, counts, whole-type lists.

A mixin of `Entity`; every page reads O(limit) keys (one per bucket of ids plus one per entity).
"""

from . import key_layout as keys
from .db_engine import Database
from .db_errors import ValidationError
from .entity_query import Query
from .entity_values import differs
from .link_view import drain


class EntityQueries:
    """`page`, `find_by`, `count_by`, `instances`, `load_some` of an entity class."""

    @classmethod
    def _indexed(cls, field: str, value):
        prop = cls.__fields__.get(field)
        if prop is None:
            raise ValidationError(f"{cls.__type_name__} has no field {field!r}")
        if not prop.indexed:
            raise ValidationError(f"{cls.__type_name__}.{field} is not indexed")
        if value is None:
            raise ValidationError("cannot look up None in an index")
        return prop.validate(value, cls.__type_name__ + "." + field)

    @classmethod
    def page(cls, cursor=None, limit: int = 100, field: str = None, value=None) -> tuple:
        """Up to `limit` entities with id > `cursor`, in id order, optionally where indexed `field` ==
        `value`; returns (entities, next cursor or None). Reads O(limit) keys, never writes."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ValidationError("limit must be a positive integer")
        after = 0 if cursor is None else cursor
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValidationError("cursor must be a non-negative integer id")
        db = Database.get_instance()
        tc = db.type_code(cls.__type_name__)
        if tc is None:
            return [], None
        if field is None:
            ids, next_cursor = db.live_walk(tc, after, limit)
        else:
            value = cls._indexed(field, value)
            if field not in db.key_generations(cls, tc):
                # no equality index of the older layout: the ordered index (or a bounded scan)
                return cls.query().where(field, "==", value).order_by("id").id_page(after, limit)
            bucket = cls._probe(db, tc, field, value)
            if bucket is None:
                return [], None
            upper = db.counters(tc)[0]
            ids, next_cursor = db.bit_walk(bucket, after, upper, limit, limit // 4 + 4)
        items = []
        for eid in ids:
            entity = cls._load_id(db, tc, eid)
            if entity is not None and (field is None or not differs(entity._data.get(field), value)):
                items.append(entity)
        return items, next_cursor


    @classmethod
    def query(cls) -> Query:
        """A query over this type: `Cls.query().where(age__gte=18).order_by("-age").page(limit=50)`."""
        return Query(cls)

    @classmethod
    def find_by(cls, field: str, value) -> list:
        """Every entity whose indexed `field` equals `value`, in id order."""
        return drain(lambda cursor, size: cls.page(cursor, size, field, value), 500)

    @classmethod
    def count_by(cls, field: str, value) -> int:
        """How many entities have indexed `field` == `value`: one read of the value's count kept beside
        the ordered index (an index stored before counts existed counts its entries, or reads one key per
        bucket of ids for an equality index of the older layout)."""
        value = cls._indexed(field, value)
        db = Database.get_instance()
        tc = db.type_code(cls.__type_name__)
        if tc is None:
            return 0
        gen = db.value_count_generation(cls, tc, field)
        if gen is not None:
            text = db.get(keys.value_count_key(tc, field, value, db.key_limit, gen))
            return int(text) if text else 0
        if field not in db.key_generations(cls, tc):
            return cls.query().where(field, "==", value).count()
        bucket = cls._probe(db, tc, field, value)
        return 0 if bucket is None else db.bit_count(bucket, db.counters(tc)[0])


    @classmethod
    def instances(cls) -> list:
        """Every live entity of this type, in id order (whole-type operation)."""
        return drain(cls.page, 500)

    @classmethod
    def load_some(cls, from_id: int, count: int = 10) -> list:
        """Seed API: `count` live entities after skipping `from_id` of them (offset paging;
        O(from_id + count) reads: prefer `page(cursor, limit)` for large offsets)."""
        if isinstance(from_id, bool) or not isinstance(from_id, int) or from_id < 0:
            raise ValidationError("from_id must be a non-negative integer")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError("count must be at least 1")
        db = Database.get_instance()
        tc = db.type_code(cls.__type_name__)
        wanted = []
        skipped = 0
        cursor = 0
        while cursor is not None and len(wanted) < count:
            ids, cursor = db.live_walk(tc, cursor, 500)
            for eid in ids:
                if skipped < from_id:
                    skipped += 1
                elif len(wanted) < count:
                    wanted.append(eid)
        out = []
        for eid in wanted:
            entity = cls._load_id(db, tc, eid)
            if entity is not None:
                out.append(entity)
        return out
