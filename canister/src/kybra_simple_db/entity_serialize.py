"""`serialize` / `deserialize`: an entity as a plain dict and back, in the original packages' format.

A mixin of `Entity`. `serialize()` gives `TimestampedMixin`'s fields first (only for classes with
the mixin), then `_type`, `_id`, the fields, undeclared attributes, and relations as ids (to-one:
the id; to-many: a list). `deserialize()` creates or updates (by `_id`, else alias), keeps the id it
is given, and never sets owner or creator (only the trusted `Database.restore` may). Relations whose
targets do not exist yet stay pending, stored with the entity, until `resolve_pending_relations()`.
"""

from . import key_layout as keys
from . import relation_union, type_registry
from .context import get_caller_id
from .db_engine import Database
from .db_errors import NotFoundError, PermissionDenied, ValidationError
from .system_time import SystemTime

MIXIN_FIELDS = ("timestamp_created", "timestamp_updated", "creator", "updater", "owner")

def _number_text(prop, value):
    """The original converts numeric text for Integer and Float fields ("42" -> 42) when data comes
    in as a dict; booleans are never converted."""
    if isinstance(value, str) and prop.kind in ("int", "float", "timestamp"):
        text = value.strip()
        try:
            return int(text) if prop.kind != "float" else float(text)
        except ValueError:
            return value
    return value

class EntitySerialization:
    """Plain-dict form of an entity."""

    def serialize(self) -> dict:
        """The entity as the original packages give it (see the module docstring)."""
        cls = type(self)
        out = {}
        if cls.__owned__:
            m = self._meta
            out["timestamp_created"] = SystemTime.format_timestamp(m["tc"] // 1_000_000)
            out["timestamp_updated"] = SystemTime.format_timestamp(m["tu"] // 1_000_000)
            out["creator"] = m.get("c")
            out["updater"] = m.get("u")
            out["owner"] = m.get("o")
        out["_type"] = self._type
        out["_id"] = self._id
        data = self._data
        for name in cls.__fields__:
            out[name] = data.get(name)
        if cls.__open__:
            for name, value in data.items():
                if name not in cls.__fields__ and name not in cls.__relations__:
                    out[name] = value
        for name, rel in cls.__relations__.items():
            if rel.target_cls is None:
                continue
            ids = self._linked_ids(rel)
            if not ids:
                continue
            if rel.union is None:
                out[name] = [str(i) for i in ids] if rel.to_many else str(ids[0])
            elif rel.to_many:
                out[rel.union] = out.get(rel.union, []) + [str(i) for i in ids]
            else:
                out[rel.union] = str(ids[0])    # a relation to several types, as declared
        for name, refs in (self._meta.get("x") or {}).items():
            if refs:
                out[name] = [ref[1] for ref in refs]
        return out

    @classmethod
    def deserialize(cls, data: dict) -> "EntitySerialization":
        """Create or update (by `_id`, else alias) from a dict like `serialize()` gives."""
        if not isinstance(data, dict):
            raise ValidationError("Data must be a dictionary")
        type_name = data.get("_type")
        if type_name is None:
            raise ValidationError("Serialized data must contain '_type' field")
        if cls.__type_name__ is None:     # Entity itself: the class named by the data
            target = type_registry.find(type_name) or type_registry.lookup(str(type_name), None)
            if target is None:
                type_registry.get(str(type_name))     # raises "Unknown entity type"
            return target.deserialize(data)
        if type_name not in (cls.__type_name__, cls.__name__):
            raise ValidationError(f"Entity type mismatch: expected {cls.__type_name__} or {cls.__name__}, "
                                  f"got {type_name}")
        version = data.get("__version__", 1)
        if version != cls.__version__:
            data = cls.migrate(dict(data), version, cls.__version__)
        entity_id = data.get("_id")
        existing = cls.load(str(entity_id)) if entity_id not in (None, "") else None
        if existing is None and cls.__alias__ is not None and data.get(cls.__alias__) is not None:
            existing = cls.by_alias(data[cls.__alias__])
        caller = get_caller_id()
        for meta_name in ("owner", "creator"):
            if meta_name in data and meta_name not in cls.__fields__ and meta_name not in cls.__relations__ \
                    and meta_name not in cls.__unions__:
                current = existing.meta()[meta_name] if existing is not None else caller
                if data[meta_name] != current:
                    raise PermissionDenied(f"deserialize cannot set {meta_name} (use Database.restore)")
        fields = {}
        relations = {}
        for name, value in data.items():
            if name.startswith("_") or name in cls.__relations__ or name in cls.__unions__:
                if (name in cls.__relations__ or name in cls.__unions__) and value is not None:
                    relations[name] = value
                continue
            prop = cls.__fields__.get(name)
            if prop is not None:
                fields[name] = _number_text(prop, value)
            elif cls.__open__ and name not in MIXIN_FIELDS:
                fields[name] = value
        db = Database.get_instance()
        with db.operation():
            if existing is None:
                if entity_id not in (None, ""):
                    entity = cls(_id=entity_id, **fields)
                else:
                    entity = cls(**fields)
            else:
                entity = existing.update_fields(fields)
            entity._take_relations(relations)
        return entity

    # ----- pending relations -----------------------------------------------------------------------

    def _take_relations(self, relations: dict) -> None:
        """Apply the relations whose targets all exist; keep the others pending with the entity."""
        self.__dict__["_pending_relations"] = dict(relations)
        waiting = dict(self._meta.get("p") or {})
        for name, value in relations.items():
            if self._relation_ready(name, value):
                self._set_any_relation(name, value)
                waiting.pop(name, None)
            else:
                waiting[name] = value
        self._store_pending(waiting)

    def _relation_ready(self, name: str, value) -> bool:
        rel = self._relation(name)
        if rel.parts:
            return relation_union.ready(self, rel, value)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, EntitySerialization) and rel.target_cls[item] is None:
                return False
        return True

    def _store_pending(self, waiting: dict) -> None:
        current = self._meta.get("p") or {}
        if waiting == current:
            return
        self._touch()
        if waiting:
            self._meta["p"] = waiting
        else:
            self._meta.pop("p", None)
        db = self._db
        db.bit_update(lambda b: keys.pending_key(self._tc, b), self._eid, bool(waiting))
        if self._state == "live":
            self._persist("pending", {"_pending": waiting})

    @classmethod
    def resolve_pending_relations(cls) -> int:
        """Link every pending relation whose targets exist now (all types when called on Entity, or
        this type); returns how many relations were linked. Reads one key per bucket of ids per
        type plus the entities that wait."""
        db = Database.get_instance()
        classes = type_registry.family(cls) if cls.__type_name__ is not None else [
            type_registry.find(name) for name in type_registry.all_types()]
        linked = 0
        with db.operation():
            for klass in classes:
                tc = db.type_code(klass.__type_name__)
                if tc is None:
                    continue
                upper = db.counters(tc)[0]
                ids, _ = db.bit_walk(lambda b, t=tc: keys.pending_key(t, b), 0, upper, upper + 1, upper + 1)
                for eid in ids:
                    entity = klass._load_id(db, tc, eid)
                    if entity is None:
                        db.bit_update(lambda b, t=tc: keys.pending_key(t, b), eid, False)
                        continue
                    waiting = dict(entity._meta.get("p") or {})
                    for name, value in list(waiting.items()):
                        try:
                            ready = entity._relation_ready(name, value)
                        except NotFoundError:
                            ready = False
                        if ready:
                            entity._set_any_relation(name, value)
                            del waiting[name]
                            linked += 1
                    entity._store_pending(waiting)
                    entity.__dict__["_pending_relations"] = {}
        return linked

    @property
    def _pending(self) -> dict:
        """Relations of this entity that wait for their targets (see `resolve_pending_relations`)."""
        return dict(self._meta.get("p") or {})
