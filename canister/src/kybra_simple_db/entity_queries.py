"""Class-level queries of an entity type: id-ordered pages, index lookups, counts, whole-type lists.

A mixin of `Entity`; every page reads O(limit) keys (one per bucket of ids plus one per entity).
"""

from . import type_registry, value_counts
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
        return cls._page(cursor, limit, field, value, False)

    @classmethod
    def view_page(cls, cursor=None, limit: int = 100, field: str = None, value=None) -> tuple:
        """`page` as the entities' `view()`s: (views, next cursor or None). A page that keeps no objects
        need not make them: each view is read from the entity's document where `stored_view` can (an
        object's hydration and identity-map entry cost ~0.2M instructions on Kybra's RustPython)."""
        return cls._page(cursor, limit, field, value, True)

    @classmethod
    def _page(cls, cursor, limit: int, field: str, value, views: bool) -> tuple:
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
                query = cls.query().where(field, "==", value).order_by("id")
                items, next_cursor = query.id_page(after, limit)
                return ([entity.view() for entity in items] if views else items), next_cursor
            bucket = cls._probe(db, tc, field, value)
            if bucket is None:
                return [], None
            upper = db.counters(tc)[0]
            ids, next_cursor = db.bit_walk(bucket, after, upper, limit, limit // 4 + 4)
        items = []
        for eid in ids:
            if views:
                view = cls.stored_view(eid)
                if view is None:   # (an entity with a text id: `load` by its storage id gives none)
                    entity = cls._load_id(db, tc, eid)
                    if entity is None:
                        continue
                    view = entity.view()
                if field is None or not differs(view[1].get(field), value):
                    items.append(view)
                continue
            entity = cls._load_id(db, tc, eid)
            if entity is not None and (field is None or not differs(entity._data.get(field), value)):
                items.append(entity)
        return items, next_cursor

    @classmethod
    def stored_entity(cls, db: Database, tc: int, eid: int):
        """`by_storage_id(eid)` for a caller that has the database and the type's code at hand: a query
        loads each candidate so (two calls fewer each on Kybra's RustPython)."""
        return cls._load_id(db, tc, eid)

    @classmethod
    def query(cls) -> Query:
        """A query over this type: `Cls.query().where(age__gte=18).order_by("-age").page(limit=50)`."""
        return Query(cls)

    @classmethod
    def find_by(cls, field: str, value, from_id: int = 1, count: int = 50) -> tuple:
        """ic-python-db's paged equality lookup on an indexed field: up to `count` entities with id >=
        `from_id`, in id order, and the `from_id` of the next page (None at the end)."""
        from_id, count = _first_id(from_id), _count(count)
        items, cursor = cls.page(from_id - 1, count, field, value)
        return items, (None if cursor is None else cursor + 1)

    @classmethod
    def find_all_by(cls, field: str, value) -> list:
        """Every entity whose indexed `field` equals `value`, in id order (all pages)."""
        return drain(lambda cursor, size: cls.page(cursor, size, field, value), 500)

    @classmethod
    def find(cls, wanted: dict) -> list:
        """Entities (of this type and its subclasses) whose attributes equal every item of `wanted`
        (a whole-type scan, as in the original; use `find_by` or `query()` on indexed fields)."""
        if not isinstance(wanted, dict):
            raise ValidationError("find takes a dict of attribute values")
        return [e for e in cls.instances()
                if all(getattr(e, name, None) == value for name, value in wanted.items())]

    @classmethod
    def rebuild_field_index(cls, field: str, from_id: int = 1, batch: int = 200):
        """Re-create the index entries of `field` for one batch of entities from `from_id` on (after
        the field became indexed); returns the `from_id` of the next batch, None when done."""
        prop = cls.__fields__.get(field)
        if prop is None or not prop.indexed:
            raise ValidationError(f"{cls.__type_name__}.{field} is not an indexed field")
        cursor = cls.rebuild_keys(_first_id(from_id) - 1, _count(batch))
        return None if cursor is None else cursor + 1

    @classmethod
    def count_by(cls, field: str, value) -> int:
        """How many entities have indexed `field` == `value` in O(log n) reads: the value's stored count
        or, for a value with few entities, its entries in the ordered index (value_counts.py); an index
        stored before counts existed counts its entries, or reads one key per bucket of ids for an
        equality index of the older layout."""
        value = cls._indexed(field, value)
        db = Database.get_instance()
        tc = db.type_code(cls.__type_name__)
        if tc is None:
            return 0
        counted = db.value_count_generation(cls, tc, field)
        if counted is not None:
            gen, mode = counted
            return value_counts.count(db, tc, field, gen, value, mode)
        if field not in db.key_generations(cls, tc):
            return cls.query().where(field, "==", value).count()
        bucket = cls._probe(db, tc, field, value)
        return 0 if bucket is None else db.bit_count(bucket, db.counters(tc)[0])


    @classmethod
    def instances(cls) -> list:
        """Every live entity of this type and of its subclasses, by type then id (whole-type read)."""
        out = []
        for klass in type_registry.family(cls):
            out.extend(drain(klass.page, 500))
        return out

    @classmethod
    def load_some(cls, from_id: int, count: int = 10) -> list:
        """The original's page: up to `count` live entities with id >= `from_id`, in id order
        (0 counts as 1, as the seed README uses it). Reads O(count) keys."""
        from_id, count = _first_id(from_id), _count(count)
        db = Database.get_instance()
        tc = db.type_code(cls.__type_name__)
        out = []
        cursor = from_id - 1
        while cursor is not None and len(out) < count:
            ids, cursor = db.live_walk(tc, cursor, count - len(out))
            for eid in ids:
                entity = cls._load_id(db, tc, eid)
                if entity is not None:
                    out.append(entity)
        return out


def _first_id(from_id) -> int:
    if isinstance(from_id, bool) or not isinstance(from_id, int) or from_id < 0:
        raise ValidationError("from_id must be at least 1")
    return max(from_id, 1)


def _count(count) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValidationError("count must be at least 1")
    return count
