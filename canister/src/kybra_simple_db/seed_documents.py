"""The original packages' document API of `Database`: `save`, `load`, `update`, `delete(type, id)`,
`get_all`, `register_entity_type`, `clear_registry`, `_entity_types`.

A mixin of `Database`. For a registered entity type these read and write the entity's stored form
(what the original keeps under "Type@id": `serialize()` plus `__version__`); `save` is a trusted
write like `restore` (no hooks; owner and creator are kept or set to the caller). Any other type
name is a plain JSON document kept under its own key, as in the original.
"""

import json
from typing import Optional

from . import key_layout as keys
from . import type_registry
from .db_errors import StorageLimitError, ValidationError

RAW_PREFIX = "$"
RAW_TYPE_MARK = "!r:"   # + type name: plain documents of this name exist (one read per type definition)


def _raw_key(type_name: str, entity_id) -> str:
    if not isinstance(type_name, str) or not type_name:
        raise ValidationError("type name must be non-empty text")
    return RAW_PREFIX + type_name + "@" + str(entity_id)


class AuditView:
    """Read-only `get(key)` over the audit log by sequence number (text), for the original's API."""

    def __init__(self, log):
        self.log = log

    def get(self, key: str) -> Optional[str]:
        if not isinstance(key, str) or not key.isdigit():
            return None
        entry = self.log.read(int(key))
        return None if entry is None else json.dumps(
            [entry["operation"], entry["time"] // 1_000_000, entry["type"] + "@" + str(entry["id"]),
             entry["changes"]])


class SeedDocuments:
    """Document-level operations by type name and id."""

    def save(self, type_name: str, entity_id, data: dict) -> None:
        """Store `data` as the document `type_name@entity_id` (see the module docstring)."""
        cls = type_registry.find(type_name)
        if cls is not None and not isinstance(data, dict):
            raise ValidationError("an entity document must be a dict")
        with self.operation():
            if cls is not None:
                cls.store_document(entity_id, data)
                return
            key = _raw_key(type_name, entity_id)
            if len(key.encode("utf-8")) > self.key_limit:
                raise StorageLimitError(f"document key {key[:40]!r} is too long for this storage")
            self.put_value(key, keys.compact(data), self.get(key))
            if not self.contains(RAW_TYPE_MARK + type_name):
                self.put(RAW_TYPE_MARK + type_name, "1")     # see adopt_documents
            changes = data if isinstance(data, dict) else {"value": data}
            self.record("save", type_name, str(entity_id), changes)

    def load(self, type_name: str, entity_id) -> Optional[dict]:
        """The stored document `type_name@entity_id`, or None."""
        cls = type_registry.find(type_name)
        if cls is not None:
            return cls.stored_document(entity_id)
        text = self.get_value(_raw_key(type_name, entity_id))
        return None if text is None else json.loads(text)

    def update(self, type_name: str, entity_id, field: str, value) -> None:
        """Set one field of a stored document (nothing happens when there is none)."""
        data = self.load(type_name, entity_id)
        if data is None:
            return
        data[field] = value
        with self.operation():
            self.save(type_name, entity_id, data)
            self.record("update", type_name, str(entity_id), {field: value})

    def delete(self, key_or_type: str, entity_id=None) -> None:
        """`delete(type, id)` removes a document (an entity is deleted as `entity.delete()` does);
        `delete(key)` removes one storage key inside the current operation (engine modules)."""
        if entity_id is None:
            self._data.delete(key_or_type, self._journal)
            return
        cls = type_registry.find(key_or_type)
        if cls is not None:
            entity = cls.load(entity_id)
            if entity is not None:
                entity.delete()
            return
        key = _raw_key(key_or_type, entity_id)
        with self.operation():
            head = self.get(key)
            if head is None:
                return
            self.delete_value(key, head)
            self.record("delete", key_or_type, str(entity_id), {})

    def get_all(self) -> dict:
        """Every document as {"Type@id": data}: plain documents and entities (whole-database read)."""
        out = {}
        for key in self._storage.keys():
            if key.startswith(RAW_PREFIX) and keys.CHUNK_MARK not in key:
                out[key[len(RAW_PREFIX):]] = json.loads(self.get_value(key))
        for type_name, entity_id, data in self.stored_documents():
            out[type_name + "@" + entity_id] = data
        return out

    def raw_documents(self) -> list:
        """(type name, id, data) of the plain documents (whole-map read)."""
        out = []
        for key in self._storage.keys():
            if key.startswith(RAW_PREFIX) and keys.CHUNK_MARK not in key:
                type_name, _, entity_id = key[len(RAW_PREFIX):].rpartition("@")
                out.append((type_name, entity_id, json.loads(self.get_value(key))))
        return out

    def stored_documents(self) -> list:
        """(type name, id, stored document) of every live entity of a registered type."""
        out = []
        for tc, name in self.stored_types():
            cls = type_registry.find(name)
            if cls is None:
                continue
            after = 0
            while after is not None:
                ids, after = self.live_walk(tc, after, 500)
                for eid in ids:
                    entity = cls.by_storage_id(eid)
                    if entity is not None:
                        out.append((name, entity._id, entity.stored_document(entity._id)))
        return out

    def adopt_documents(self, type_name: str) -> int:
        """When an entity class is defined under a name that plain documents were saved under (as
        the original allows: `db.save("Product", "1", {...})` before `class Product`), turn them into
        entities of that class. One read when there are none; a whole-map walk when there are."""
        mark = RAW_TYPE_MARK + type_name
        if not self.contains(mark):
            return 0
        cls = type_registry.find(type_name)
        prefix = RAW_PREFIX + type_name + "@"
        adopted = 0
        with self.operation():
            for key in list(self._storage.keys()):
                if key.startswith(prefix) and keys.CHUNK_MARK not in key:
                    data = json.loads(self.get_value(key))
                    self.delete_value(key, self.get(key))
                    if isinstance(data, dict):
                        cls.store_document(key[len(prefix):], data)
                        adopted += 1
            self.delete(mark)
        return adopted

    def max_id(self, type_name: str) -> int:
        """The highest id ever given to an entity of `type_name` (0 if none)."""
        cls = type_registry.find(type_name)
        return 0 if cls is None else cls.max_id()

    def load_page(self, type_name: str, from_id: int, count: int, max_id: Optional[int] = None) -> list:
        """ic-python-db's page of stored documents: up to `count` (id, document) pairs of live
        entities with id >= `from_id` (and <= `max_id` when given), in id order; O(count) reads."""
        if isinstance(from_id, bool) or not isinstance(from_id, int) or from_id < 1:
            raise ValidationError("from_id must be at least 1")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError("count must be at least 1")
        cls = type_registry.find(type_name)
        if cls is None:
            return []
        out = []
        for entity in cls.load_some(from_id, count):
            if max_id is not None and entity._eid > max_id:
                break
            out.append((entity._id, entity.stored_document(entity._id)))
        return out

    def register_entity_type(self, cls, type_name: Optional[str] = None) -> None:
        """Make `cls` the definition of its type (classes register themselves when defined; this
        re-registers a class after `clear_registry` or a redefinition)."""
        if type_registry.find(cls.__type_name__) is not cls:
            type_registry.register(cls)

    def clear_registry(self) -> None:
        """Forget the loaded objects: the next load of any entity reads storage again."""
        self.identity.clear()

    @property
    def _db_audit(self):
        """The original's audit map, read-only: `get(str(seq))` gives entry `seq` as stored (JSON
        text); None when audit is off."""
        return AuditView(self.audit) if self.audit_enabled else None

    @property
    def _entity_types(self) -> dict:
        """{type name: class} of the registered entity types (the original's registry)."""
        return {name: type_registry.find(name) for name in type_registry.all_types()}
