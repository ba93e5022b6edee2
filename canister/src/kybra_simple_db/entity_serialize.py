"""`serialize` / `deserialize`: an entity as a plain dict and back (the seed API's format).

A mixin of `Entity`. Deserializing creates or updates; it never sets owner or creator (only the
trusted `Database.restore` may).
"""

from . import type_registry
from .context import get_caller_id
from .db_engine import Database
from .db_errors import PermissionDenied, ValidationError


class EntitySerialization:
    """Plain-dict form of an entity."""

    def serialize(self) -> dict:
        """A dict of the entity: metadata, `_type`, `_id`, fields, and relations as ids (text)."""
        m = self._meta
        out = {"timestamp_created": m.get("tc"), "timestamp_updated": m.get("tu"), "creator": m.get("c"),
               "updater": m.get("u"), "owner": m.get("o"), "_type": self._type, "_id": self._id,
               "_version": m.get("v")}
        for name in type(self).__fields__:
            out[name] = self._data.get(name)
        for name, rel in type(self).__relations__.items():
            if rel.target_cls is None:
                continue
            ids = self._linked_ids(rel)
            if not ids:
                continue
            out[name] = [str(i) for i in ids] if rel.to_many else str(ids[0])
        return out

    @classmethod
    def deserialize(cls, data: dict) -> "EntitySerialization":
        """Create or update (by `_id`, else alias) from a dict like `serialize()` gives. Owner and
        creator cannot be set this way (use Database.restore for trusted data)."""
        if not isinstance(data, dict):
            raise ValidationError("data must be a dict")
        type_name = data.get("_type")
        if type_name is None:
            raise ValidationError("data must contain '_type'")
        if cls.__type_name__ is None:     # Entity itself: the class named by the data
            return type_registry.get(type_name).deserialize(data)
        if type_name not in (cls.__type_name__, cls.__name__):
            raise ValidationError(f"type mismatch: {type_name} is not {cls.__type_name__}")
        existing = cls.load(data["_id"]) if data.get("_id") is not None else None
        if existing is None and cls.__alias__ is not None and data.get(cls.__alias__) is not None:
            existing = cls.by_alias(data[cls.__alias__])
        caller = get_caller_id()
        for meta_name in ("owner", "creator"):
            if meta_name in data:
                current = existing.meta()[meta_name] if existing is not None else caller
                if data[meta_name] != current:
                    raise PermissionDenied(f"deserialize cannot set {meta_name} (use Database.restore)")
        fields = {k: v for k, v in data.items() if k in cls.__fields__}
        relations = {k: v for k, v in data.items() if k in cls.__relations__}
        db = Database.get_instance()
        with db.operation():
            if existing is None:
                entity = cls(**fields)
            else:
                entity = existing.update_fields(fields)
            for name, value in relations.items():
                rel = entity._relation(name)
                if rel.to_many and not isinstance(value, list):
                    value = [value]
                entity._set_relation(name, value)
        return entity
