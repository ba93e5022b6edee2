"""`Entity`: typed, persisted objects with aliases, indexes, symmetric relations, hooks and an audit trail.

One document key per entity holds its field values, to-one relation ids and metadata (owner, creator,
updater, timestamps, version). To-many relations and indexes are id sets in buckets (bitsets.py).
Every public method is one all-or-nothing operation of the database.
"""

import json
from typing import Optional

from . import json_text, relation_union, type_registry
from . import key_layout as keys
from .context import get_caller_id
from .db_constants import (
    ACTION_CREATE,
    ACTION_DELETE,
    ACTION_MODIFY,
    CASCADE,
    RESTRICT,
)
from .db_engine import Database
from .db_errors import (
    ConflictError,
    DuplicateIdError,
    HookRejected,
    NotFoundError,
    PermissionDenied,
    StorageLimitError,
    ValidationError,
)
from .db_fields import JSON_VALUE, Property
from .db_relations import Relation
from .entity_cascade import EntityCascade
from .entity_keys import IndexedKeys
from .entity_links import EntityLinks
from .entity_queries import EntityQueries
from .entity_serialize import EntitySerialization
from .entity_values import differs, normalize_id
from .staged_store import SETTLED

_MISSING = object()
_RAW_DECODE = json.JSONDecoder().raw_decode
_VERSION_PREFIX = '{"v":'
_CHUNK_MARK = keys.CHUNK_MARK   # (a module constant: one attribute read fewer per load)
META_FIELDS = ("owner", "creator", "updater", "timestamp_created", "timestamp_updated", "version")
MAX_NAME_LENGTH = 40
OPEN_NAMES = {"id", "owner"}     # usable as field names (as in the original); the engine reads `_eid`, meta
_NAMESPACE_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


OPTIONAL_META = ("i", "sv", "x", "p")   # text id, schema version (when not 1), ad-hoc and pending relations


_QUOTED = {}
"""JSON text of the owners, creators and updaters met (the same few callers recur in every document)."""
_QUOTED_MAX = 1024


def _quoted(value) -> str:
    """`value` as JSON text; a string's is kept in `_QUOTED` (while there is room)."""
    text = json_text.encode(value)
    if type(value) is str and len(_QUOTED) < _QUOTED_MAX and len(value) <= 128:
        _QUOTED[value] = text
    return text


def doc_text(data: dict, meta: dict, fields_text: Optional[str] = None) -> str:
    """The stored document: version first (so a version check needs no JSON parse), then fields
    and metadata (and the optional entries, only when present). `fields_text`: `data` as JSON text,
    when the caller has it already (used where json has no C encoder)."""
    if not keys.NATIVE_JSON:
        if fields_text is None:
            fields_text = json_text.encode_dict(data)
        owner, creator, updater, created, updated = meta["o"], meta["c"], meta["u"], meta["tc"], meta["tu"]
        quoted = _QUOTED
        try:    # one string built from cached pieces: each string made costs here
            owner, creator, updater = quoted[owner], quoted[creator], quoted[updater]
        except (KeyError, TypeError):
            owner, creator, updater = _quoted(owner), _quoted(creator), _quoted(updater)
        if created.__class__ is not int or updated.__class__ is not int:
            created, updated = json_text.encode(created), json_text.encode(updated)
        text = (f'{{"v":{int.__repr__(meta["v"])},"f":{fields_text},"o":{owner},"c":{creator},'
                f'"u":{updater},"tc":{created},"tu":{updated}}}')
        if len(meta) > 6:   # the optional entries go before the closing brace
            text = text[:-1]
            for name in OPTIONAL_META:
                if name in meta:
                    text += ',"' + name + '":' + json_text.encode(meta[name])
            text += "}"
        return text
    doc = {"v": meta["v"], "f": data, "o": meta["o"], "c": meta["c"], "u": meta["u"], "tc": meta["tc"],
           "tu": meta["tu"]}
    if len(meta) > 6:
        for name in OPTIONAL_META:
            if name in meta:
                doc[name] = meta[name]
    return keys.compact(doc)


def new_doc_text(fields_text: str, caller: str, now: int) -> str:
    """`doc_text` of a new entity's document (`fields_text`: its fields as JSON text) whose metadata is
    version 1, `caller` as owner, creator and updater, and `now` (an int) as both times: fewer steps."""
    try:
        quoted = _QUOTED[caller]
    except (KeyError, TypeError):
        quoted = _quoted(caller)
    return f'{{"v":1,"f":{fields_text},"o":{quoted},"c":{quoted},"u":{quoted},"tc":{now},"tu":{now}}}'


def _parse_doc(text: str) -> dict:
    """A stored document as a dict. The engine writes documents as compact JSON, so the scanner runs
    without `json.loads`' whitespace checks; any other text still goes through `json.loads`. Without
    json's C accelerators, json_text's flat-record decoder does the same in far fewer steps."""
    if not keys.NATIVE_JSON:
        return _read_document(text)
    try:
        doc, end = _RAW_DECODE(text)
    except ValueError:
        return json.loads(text)
    if end != len(text) or type(doc) is not dict:
        return json.loads(text)
    return doc


parse_document = _parse_doc
"""A stored document's text as a dict (what `json.loads` gives), in the fewest steps on each runtime."""


def _read_document(text: str) -> dict:
    """`json_text.decode_record(text)` in fewer steps for the layout `doc_text` writes without optional
    entries and with flat fields: the version, the fields and the five metadata entries are taken from
    the text split at its quotes, after checking its beginning and end are exactly that layout (any
    other text, or one with escapes, goes to `decode_record`)."""
    if "\\" in text:
        return json_text.decode_record(text)
    pieces = text.split('"')
    try:
        # the metadata's pieces in one step (a subscript each costs about 7,000 instructions on RustPython)
        (_, _, _, owner, _, _, _, creator, _, _, _, updater, _, _, created, _, updated) = pieces[-17:]
        created, updated, version = created[1:-1], updated[1:-1], pieces[2][1:-1]
        if (not (created + updated + version).isdigit() or created[0] == "0" or updated[0] == "0"
                or version[0] == "0" or not text.startswith(f'{{"v":{version},"f":{{') or not text.endswith(
                    f',"o":"{owner}","c":"{creator}","u":"{updater}","tc":{created},"tu":{updated}}}')):
            return json_text.decode_record(text)
        fields = {}
        index = 5
        last = len(pieces) - 16     # where "o" stands
        if pieces[4] != ":{":
            if pieces[4] != ":{}," or last != 5:
                return json_text.decode_record(text)
        else:
            while True:
                key = pieces[index]
                after = pieces[index + 1]
                if after == ":":    # a string
                    fields[key] = pieces[index + 2]
                    after = pieces[index + 3]
                    index += 4
                    if after == ",":
                        continue
                    if after == "}," and index == last:
                        break
                    return json_text.decode_record(text)
                index += 2
                if after[-1] != "," or after[0] != ":":    # a number or literal, then "," or "},"
                    return json_text.decode_record(text)
                token = after[1:-1]
                if token[-1] == "}":
                    if index != last:
                        return json_text.decode_record(text)
                    token = token[:-1]
                    fields[key] = (int(token) if token.isdigit() and token[0] != "0"
                                   else json_text.record_scalar(token))
                    break
                fields[key] = (int(token) if token.isdigit() and token[0] != "0"
                               else json_text.record_scalar(token))
        return {"v": int(version), "f": fields, "o": owner, "c": creator, "u": updater, "tc": int(created),
                "tu": int(updated)}
    except (ValueError, IndexError):
        return json_text.decode_record(text)


def _check_name(owner: str, name: str, what: str) -> None:
    if not name.isidentifier() or name.startswith("_") or len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"{owner}: {what} name {name!r} must be an identifier of at most "
                              f"{MAX_NAME_LENGTH} characters not starting with '_'")
    if name in _reserved_names():
        raise ValidationError(f"{owner}: {what} name {name!r} is reserved")


_RESERVED = []


def _extra_property(cls, name: str) -> Property:
    """The validator of an undeclared attribute (only open classes have them; see `__strict__`). A
    relation's name is not one: its value is a link, kept with its reverse side (assign the relation)."""
    if not cls.__open__ or name in _reserved_names() or name.startswith("_"):
        raise ValidationError(f"{cls.__type_name__} has no field {name!r}")
    if name in cls.__relations__ or name in cls.__unions__:
        raise ValidationError(f"{cls.__type_name__}.{name} is a relation, not a field: assign it, or use "
                              "add_relation / remove_relation")
    return JSON_VALUE


def _reserved_names() -> set:
    if not _RESERVED:
        names = set(dir(Entity)) | set(META_FIELDS) | {"set_owner", "check_ownership"}
        _RESERVED.append(names - OPEN_NAMES)
    return _RESERVED[0]


class Entity(EntityLinks, EntityCascade, IndexedKeys, EntityQueries, EntitySerialization):
    """Base class of stored entity types; subclass it (or build a class with `type(...)`) to define one.

    `__strict__`: True refuses attributes that are not declared fields; False accepts them (stored
    with the entity, JSON values, seen by hooks). The default: strict when the class declares any
    field or relation, open when it declares none (as the original's schemaless entities).
    `__version__` / `migrate(obj, from_version, to_version)`: schema versions, migrated on load.
    """

    __namespace__ = None
    __strict__ = None
    __version__ = 1
    __alias__ = None
    __type_name__ = None
    __fields__ = {}
    __indexed__ = []
    __relations__ = {}
    __unions__ = {}         # relations to several types (relation_union.py), by declared name
    __stored_names__ = []   # fields, then to-one relations: a document's "f" keys as the class writes them
    __field_defaults__ = {}     # field name -> its default, in the fields' order (what a create starts from)
    __new_data__ = {}   # the defaults, then each to-one relation's None: a create's data before its values
    __required_fields__ = ()    # the names of the required fields, in the fields' order
    on_event = None     # a class's hook (on_event(entity, field, old, new, action)), if it defines one

    # ----- class definition ------------------------------------------------------------------------

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        namespace = getattr(cls, "__namespace__", None)
        if namespace is not None:
            if not isinstance(namespace, str) or not namespace or not set(namespace) <= _NAMESPACE_CHARS:
                raise ValidationError(f"invalid namespace {namespace!r} for {cls.__name__}")
        if not cls.__name__.isidentifier():
            raise ValidationError(f"invalid entity class name {cls.__name__!r}")
        cls.__type_name__ = namespace + "::" + cls.__name__ if namespace else cls.__name__
        fields = {}
        relations = {}
        for klass in reversed(cls.__mro__):
            for name, value in list(klass.__dict__.items()):
                if isinstance(value, relation_union.UnionAttribute):
                    value = value.relation      # a base class's relation to several types
                if isinstance(value, Property):
                    fields[name] = value
                    relations.pop(name, None)
                elif isinstance(value, Relation) and not value.implicit:
                    if klass is not cls:
                        if name in cls.__dict__:
                            continue
                        value = value.inherited_by(cls)     # a subclass links through its own copy
                        setattr(cls, name, value)
                    relations[name] = value
                    fields.pop(name, None)
        for name in list(fields) + list(relations):
            _check_name(cls.__type_name__, name, "field")
        for rel in relations.values():
            if rel.reverse is None:
                rel.reverse = rel.name + "_of_" + cls.__name__.lower()
            if not rel.reverse.isidentifier() or rel.reverse.startswith("_"):
                raise ValidationError(f"{cls.__type_name__}.{rel.name}: invalid reverse name {rel.reverse!r}")
            rel.owner = cls
        unions = relation_union.expand(relations)
        alias = getattr(cls, "__alias__", None)
        if alias is not None and alias not in fields:
            raise ValidationError(f"{cls.__type_name__}: __alias__ {alias!r} is not a field")
        cls.__fields__ = fields
        cls.__indexed__ = [name for name, prop in fields.items() if prop.indexed]
        cls.__field_defaults__ = {name: prop.default for name, prop in fields.items()}
        cls.__required_fields__ = tuple([name for name, prop in fields.items() if prop.required])
        cls.__relations__ = relations
        cls.__unions__ = unions
        cls._relations_changed()
        for name, rel in unions.items():
            setattr(cls, name, relation_union.UnionAttribute(rel))
        strict = cls.__dict__.get("__strict__")
        if strict is None:
            strict = bool(fields or relations) or any(
                getattr(k, "__open__", None) is False for k in cls.__mro__[1:])
        cls.__open__ = not strict
        cls.__owned__ = any(k.__dict__.get("__owns_entities__") for k in cls.__mro__)
        cls.__special__ = cls.__open__ or cls.__version__ != 1
        type_registry.register(cls)

    @classmethod
    def get_full_type_name(cls) -> str:
        """The qualified type name ("namespace::Name" or "Name")."""
        return cls.__type_name__

    @classmethod
    def db(cls) -> Database:
        return Database.get_instance()

    @classmethod
    def describe(cls) -> dict:
        """The type's schema: name, namespace, alias, fields (with constraints) and relations."""
        type_registry.resolve_all()
        return {
            "name": cls.__type_name__,
            "namespace": cls.__namespace__,
            "alias": cls.__alias__,
            "fields": [prop.describe() for prop in cls.__fields__.values()],
            "relations": [rel.describe() for rel in relation_union.declared(cls)],
        }

    # ----- instance state ----------------------------------------------------------------------------

    @classmethod
    def _relations_changed(cls) -> None:
        """Derive what follows from the class's fields and relations: the names a document's fields hold,
        in order, when this class writes it (see _hydrate). Called again when a reverse relation is added
        to the class after its definition (type_registry)."""
        cls.__stored_names__ = list(cls.__fields__) + [
            name for name, rel in cls.__relations__.items() if not rel.to_many]
        new_data = dict(cls.__field_defaults__)     # a new entity's data before its values are set
        for name, rel in cls.__relations__.items():
            if not rel.to_many:
                new_data[name] = None
        cls.__new_data__ = new_data

    def __setattr__(self, name, value):
        cls = type(self)
        if name in cls.__fields__:
            self._set_field(name, value)        # what the field's descriptor does, one call sooner
        elif name.startswith("_") or name in cls.__relations__ or name in cls.__unions__:
            object.__setattr__(self, name, value)
        elif cls.__open__ and name not in _reserved_names():
            self._set_field(name, value)
        else:
            raise ValidationError(f"{cls.__type_name__} has no field {name!r}")

    def __getattr__(self, name):
        """Undeclared attributes of open classes (see `__strict__`)."""
        if not name.startswith("_"):
            data = self.__dict__.get("_data")
            if data is not None and name in data:
                return data[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def _type(self) -> str:
        return type(self).__type_name__

    @property
    def id(self) -> int:
        """The entity's id as an int (`_id` is the same id as text, as in the seed API)."""
        return self._eid

    @property
    def version(self) -> int:
        """1 after create, +1 per change of the entity's document (fields, to-one links, owner)."""
        return self._meta.get("v", 0)

    @property
    def _owner(self):
        return self._meta.get("o")

    @property
    def _creator(self):
        return self._meta.get("c")

    @property
    def _updater(self):
        return self._meta.get("u")

    @property
    def _timestamp_created(self):
        """Creation time in milliseconds (the original's unit; `meta()` gives nanoseconds)."""
        created = self._meta.get("tc")
        return None if created is None else created // 1_000_000

    @property
    def _timestamp_updated(self):
        """Last update time in milliseconds."""
        updated = self._meta.get("tu")
        return None if updated is None else updated // 1_000_000

    def meta(self) -> dict:
        """Owner, creator, updater, created/updated times (ns) and version."""
        m = self._meta
        try:    # (a stored entity has every entry: subscripts cost a third of `get` on Kybra's RustPython)
            return {"owner": m["o"], "creator": m["c"], "updater": m["u"], "created": m["tc"],
                    "updated": m["tu"], "version": m["v"]}
        except KeyError:    # an entity being created
            return {"owner": m.get("o"), "creator": m.get("c"), "updater": m.get("u"),
                    "created": m.get("tc"), "updated": m.get("tu"), "version": m.get("v")}

    def stored_meta(self) -> dict:
        """The metadata document as `view()` gives it ("o", "c", "u", "tc", "tu", "v"; a key may be absent),
        without building `meta()`'s dict (a third of its cost on RustPython). Read it, do not change it."""
        return self._meta

    def values(self) -> dict:
        """The declared fields' current values."""
        return {name: self._data.get(name) for name in type(self).__fields__}

    def refs(self) -> dict:
        """To-one relations: relation name -> linked id or None."""
        cls = type(self)
        out = {name: self._data.get(name) for name, rel in cls.__relations__.items() if not rel.to_many}
        return relation_union.public_refs(self, out) if cls.__unions__ else out

    def view(self) -> tuple:
        """(id, field values, to-one relation ids, metadata document) in one call: `id`, `values()`,
        `refs()` and the stored "v", "o", "c", "u", "tc", "tu" (read them, do not change them)."""
        d = self.__dict__     # (one attribute read: each costs about as much as a call on RustPython)
        data = d["_data"]
        cls = self.__class__
        values = {}
        for name in cls.__fields__:
            values[name] = data.get(name)
        refs = {}
        for name, rel in cls.__relations__.items():
            if not rel.to_many:
                refs[name] = data.get(name)
        if cls.__unions__:
            refs = relation_union.public_refs(self, refs)
        return d["_eid"], values, refs, d["_meta"]

    def live_view(self) -> tuple:
        """`view()` without its copies, for a reader that looks up declared field names in its values and
        to-one relation names in its refs: both are the entity's live data (read it, do not change it; it
        holds other entries too). A class with relation unions gets `view()` (its refs are rewritten)."""
        d = self.__dict__
        if self.__class__.__unions__:
            return self.view()
        data = d["_data"]
        return d["_eid"], data, data, d["_meta"]

    def is_live(self) -> bool:
        return self._state == "live"

    def _check_live(self) -> None:
        if self._state != "live":
            raise NotFoundError(f"{self._type}@{self._id} is {self._state}")

    def _touch(self) -> None:
        """Remember the in-memory state, restored if the current operation rolls back."""
        self._db.on_rollback_call(self._restore, (dict(self._data), self._stored, dict(self._meta),
                                                  self._state))

    def _restore(self, data: dict, stored: dict, meta: dict, state: str) -> None:
        d = self.__dict__
        d["_data"], d["_stored"], d["_meta"], d["_state"] = data, stored, meta, state

    def __eq__(self, other) -> bool:
        if not isinstance(other, Entity):
            return NotImplemented
        return self._type == other._type and self._id == other._id

    def __hash__(self) -> int:
        return hash((self._type, self._id))

    def __repr__(self) -> str:
        return f"<{self._type}@{self._id}>"

    # ----- hooks ---------------------------------------------------------------------------------------

    def _hook(self, field, old, new, action):
        """Run the class's `on_event`; returns the value to use or raises (fail closed)."""
        hook = self.__class__.on_event
        if hook is None:
            return new
        guard = (field, action)
        hooking = self._hooking
        if hooking is None:     # (a loaded object gets its set when a hook first runs)
            hooking = self.__dict__["_hooking"] = set()
        if guard in hooking:
            return new
        hooking.add(guard)
        try:
            result = hook(self, field, old, new, action)
        finally:
            hooking.discard(guard)
        if result is True:
            return new
        if isinstance(result, tuple) and len(result) == 2 and result[0] is True:
            return result[1]
        if action == ACTION_DELETE:
            raise PermissionDenied(f"Hook rejected deletion of {self._type}@{self._id}")
        raise HookRejected(f"Hook rejected {action} of {self._type}.{field}")

    # ----- fields --------------------------------------------------------------------------------------

    def _get_field(self, name):
        return self._data.get(name)

    def _assign(self, values: dict, action: str, skip=()) -> None:
        """Validate each value (field name -> value), pass it through the hook, validate it again and
        set it in memory (no write); names in `skip` (the relations, at create) are left out."""
        cls = type(self)
        fields = cls.__fields__
        type_name = cls.__type_name__
        hooked = cls.on_event is not None
        data = self._data
        for name, value in values.items():
            if name in skip:
                continue
            prop = fields.get(name)
            if prop is None:
                prop = _extra_property(cls, name)
            label = type_name + "." + name
            value = prop.validate(value, label)
            if hooked:
                value = prop.validate(self._hook(name, data.get(name), value, action), label)
            data[name] = value

    def _set_field(self, name: str, value) -> None:
        if self._state != "live":
            if self._state == "creating":
                self._assign({name: value}, ACTION_CREATE)
                return
            if not self._do_not_save:
                self._check_live()
        if self._do_not_save:
            self._assign({name: value}, ACTION_MODIFY)
            self.__dict__["_dirty"] = True      # written by the next save, with every other change
            return
        db = self._db
        mark = db.begin()
        try:
            # what _touch and _assign do, inline: this is the hot path of every field update
            data = self._data
            stored = self._stored
            db.on_rollback_call(self._restore, (dict(data), stored, dict(self._meta), "live"))
            cls = self.__class__
            prop = cls.__fields__.get(name)
            if prop is None:
                prop = _extra_property(cls, name)
            label = cls.__type_name__ + "." + name
            new = prop.validate(value, label)
            if cls.on_event is not None:
                new = prop.validate(self._hook(name, data.get(name), new, ACTION_MODIFY), label)
            data[name] = new
            if self._dirty:
                self._persist("update")
            else:   # only this field can differ from storage
                old = stored.get(name, _MISSING)
                if old.__class__ is not new.__class__ or old != new:
                    self._write_document("update", {name: new})
        except BaseException:
            db.end(mark, False)
            raise
        db.end(mark, True)

    def update_fields(self, values: dict, expected_version: Optional[int] = None) -> "Entity":
        """Set several fields in one change (one version step); refuses a stale `expected_version`."""
        d = self.__dict__     # (entity attributes read from it: each attribute read costs about a call)
        if d["_state"] != "live":
            self._check_live()
        cls = self.__class__
        fields = cls.__fields__
        for name in values:
            if name not in fields and not (cls.__open__ and name not in _reserved_names()
                                           and not name.startswith("_")):
                raise ValidationError(f"{cls.__type_name__} has no field {name!r}")
        db = d["_db"]
        mark = db.begin()
        try:
            # what `with operation()`, _touch and _persist do, inline: the hot path of every update
            if expected_version is not None and expected_version != self.version:
                raise ConflictError(f"{self._type}@{self._id} is at version {self.version}, "
                                    f"not {expected_version}")
            db.on_rollback_call(self._restore,
                                (dict(d["_data"]), d["_stored"], dict(d["_meta"]), d["_state"]))
            self._assign(values, ACTION_MODIFY)
            self._write_changed(d)
        except BaseException:
            db.end(mark, False)
            raise
        db.end(mark, True)
        return self

    def update_checked(self, values: dict) -> "Entity":
        """`update_fields(values)` for a caller that checked every value against its field as the field's
        validation would (same value kept) and runs this inside its own open unit (`db.begin()` or a
        transaction), rolled back as a whole if this raises: no second validation (a hook's values are
        validated), no nested unit. The canister's gateway uses it: its service checked the values
        against the same type definition, and its message is one unit (about 0.25M instructions fewer
        per update on Kybra's RustPython)."""
        d = self.__dict__
        if d["_state"] != "live":
            self._check_live()
        db = d["_db"]
        if not db.depth:   # (`in_operation()` without its call)
            raise RuntimeError("update_checked runs inside an open unit (db.begin() or a transaction)")
        cls = self.__class__
        fields = cls.__fields__
        for name in values:
            if name not in fields:      # (the checked values are declared fields only)
                raise ValidationError(f"{cls.__type_name__} has no field {name!r}")
        data = d["_data"]
        db.on_rollback_call(self._restore, (dict(data), d["_stored"], dict(d["_meta"]), "live"))
        if cls.on_event is None:     # (an attribute: a failing getattr costs a raise on RustPython)
            data.update(values)
        else:
            self._assign(values, ACTION_MODIFY)
        self._write_changed(d)
        return self

    def _write_changed(self, d: dict) -> None:
        """Write the document if a field differs from storage (`d`: this object's `__dict__`)."""
        if d["_state"] != "creating":
            data = d["_data"]
            stored = d["_stored"]   # (a hook's own change may have written the document)
            changes = {}
            try:    # (a subscript costs a third of `get` on Kybra's RustPython)
                for name, value in data.items():
                    old = stored[name]
                    # (`type(x)` is a builtin call: `__class__` costs a quarter of it on RustPython)
                    if old.__class__ is not value.__class__ or old != value:
                        changes[name] = value
            except KeyError:    # a field its stored document lacks (declared since it was written)
                changes = self._changes()
            if changes:
                self._write_document("update", changes)
                if d["_dirty"]:
                    d["_dirty"] = False

    # ----- persistence -----------------------------------------------------------------------------

    def _changes(self) -> dict:
        stored = self._stored
        out = {}
        for k, v in self._data.items():
            old = stored.get(k, _MISSING)
            if type(old) is not type(v) or old != v:
                out[k] = v
        return out

    def _persist(self, operation: str, extra: Optional[dict] = None, changes: Optional[dict] = None) -> None:
        """Write the document if anything changed (`changes`, when the caller knows them, else
        compared field by field): version +1, updater, time, alias/index keys, audit."""
        if self._state == "creating":
            return
        if changes is None:
            changes = self._changes()
        if extra:
            changes.update(extra)
        if changes:
            self._write_document(operation, changes)
            if self._dirty:
                self.__dict__["_dirty"] = False

    def _write_document(self, operation: str, changes: dict) -> None:
        """Write the changed document (`changes`: the fields that differ from storage, not empty; for
        "update" the entries of `_data` that do): version +1, updater and time, the audit entry, then
        alias and index keys. A caller that may write unsaved changes (`_dirty`) clears that flag after it."""
        cls = self.__class__
        if cls.__owned__ and operation != "transfer":
            self._check_owner()
        d = self.__dict__     # (entity attributes read from it: each attribute read costs about a call)
        db = d["_db"]
        tc = d["_tc"]
        eid = d["_eid"]
        try:    # (subscripts: a third of get() on Kybra's RustPython; a new object has neither yet)
            key, loaded = d["_key"], d["_loaded"]
        except KeyError:
            key = loaded = None
        if key is None:
            key = keys.doc_key(tc, eid)
        head = db.get_known(key, loaded)    # the document as loaded, if unchanged since
        if head is None:
            raise NotFoundError(f"{self._type}@{self._id} no longer exists")
        meta = d["_meta"]
        version = meta["v"]
        if not head.startswith(f'{{"v":{version},'):   # else parse it: a conflict or chunks
            text = head if head.startswith(_VERSION_PREFIX) else db.get_value(key, head)
            if text.startswith(_VERSION_PREFIX):    # documents are written version first (doc_text)
                stored_version = int(text[5:text.index(",", 5)])
            else:
                stored_version = json.loads(text)["v"]
            if stored_version != version:
                raise ConflictError(f"{self._type}@{self._id} changed since it was loaded")
        now = db.now()
        caller = get_caller_id()
        meta["v"] = version + 1
        meta["u"] = caller
        meta["tu"] = now
        data = d["_data"]
        if keys.NATIVE_JSON:
            db.put_value(key, doc_text(data, meta), head)
            db.audit.append(operation, cls.__type_name__, eid, changes, now, caller)
        else:   # each value encoded once, for the document and an update's entry (its changes are fields)
            fields, changed = json_text.encode_with_part(data, changes if operation == "update" else None)
            db.put_value(key, doc_text(data, meta, fields), head)
            db.audit.append(operation, cls.__type_name__, eid, changes, now, caller, None, changed)
        if not db.keyed_fields(cls, tc).isdisjoint(changes):
            self._sync_keys(d["_stored"], data, changes)
        d["_stored"] = dict(data)

    def _check_owner(self) -> None:
        """TimestampedMixin entities change only by their owner's hand (as in the original)."""
        owner = self._meta.get("o")
        if owner != get_caller_id():
            raise PermissionDenied(f"Only the owner can update this entity. Current owner: {owner}")

    def _save(self) -> "Entity":
        """The original's explicit save: fields set with `_do_not_save` are written, and the entity is
        touched (updater and update time) even when nothing else changed."""
        self._check_live()
        with self._db.operation():
            self._touch()
            self._persist("update", {} if self._changes() else {"_touched": True})
        return self

    # ----- create ------------------------------------------------------------------------------------

    def __init__(self, **kwargs):
        cls = type(self)
        if cls is Entity:
            raise ValidationError("define a subclass of Entity")
        db = Database.get_instance()
        custom_id = kwargs.pop("_id", None) if "_id" in kwargs else None
        kwargs.pop("_loaded", None)
        fields = cls.__fields__
        relations = cls.__relations__
        linked = []     # relations given: set once the entity has its id
        if not kwargs.keys() <= fields.keys():      # (one native test for the usual fields-only create)
            for name in kwargs:
                if name in relations:
                    linked.append(name)
                elif name not in fields:
                    if name in cls.__unions__:
                        linked.append(name)     # a relation to several types (an open class's too)
                    elif not (cls.__open__ and name not in _reserved_names() and not name.startswith("_")):
                        raise ValidationError(f"{cls.__type_name__} has no field {name!r}")
        # what `with db.operation():` does, without its object and calls (the hot path of every create)
        mark = db.begin()
        try:
            self._create(db, kwargs, custom_id, linked, False)
        except BaseException:
            db.end(mark, False)
            raise
        db.end(mark, True)

    @classmethod
    def create_checked(cls, values: dict, db: Optional[Database] = None, view: bool = False):
        """`create(values)` for a caller that checked every value against its field as the field's
        validation would (same value kept; required fields given), gave declared fields only (no
        relations or id), and runs this inside its own open unit (`db.begin()` or a transaction), rolled
        back as a whole if this raises: no second validation (a hook's values are validated), no nested
        unit. The canister's gateway uses it, as `update_checked` (its service checked the values against
        the same type definition, and its message is one unit), passing its database (`db`: the current
        one by default). With `view`, returns the new entity's `live_view()` instead of the entity (the
        gateway's: one call fewer)."""
        if db is None:
            db = Database.get_instance()
        if not db.depth:   # (`in_operation()` without its call)
            raise RuntimeError("create_checked runs inside an open unit (db.begin() or a transaction)")
        if cls is Entity:
            raise ValidationError("define a subclass of Entity")
        if not values.keys() <= cls.__fields__.keys():
            for name in values:
                if name not in cls.__fields__:
                    raise ValidationError(f"{cls.__type_name__} has no field {name!r}")
        entity = cls.__new__(cls)
        entity._create(db, values, None, (), True)
        if view:   # (what live_view() gives, without its call: ~15,000 instructions on Kybra's RustPython)
            if cls.__unions__:
                return entity.view()
            d = entity.__dict__
            data = d["_data"]
            return d["_eid"], data, data, d["_meta"]
        return entity

    def _create(self, db: Database, kwargs: dict, custom_id, linked, checked: bool) -> None:
        """Give this new object its state and store it as a new entity (inside an open unit) from `kwargs`,
        its fields and relations (`linked`: the relations' names); `checked`: the values were checked
        already (see `create_checked`)."""
        cls = self.__class__    # (a builtin type() call costs ~9,000 instructions on Kybra's RustPython)
        type_name = cls.__type_name__
        tc, max_id, count, now = db.creation_state(type_name)
        caller = get_caller_id()
        meta = {"o": caller, "c": caller, "u": caller, "tc": now, "tu": now, "v": 1}
        if custom_id is None:
            eid = max_id + 1
            text_id = str(eid)
        else:
            eid, text_id, max_id = self._claim_id(db, tc, custom_id, max_id)
            if text_id != str(eid):
                meta["i"] = text_id
        if cls.__version__ != 1:
            meta["sv"] = cls.__version__
        # (one call instead of a step per field and relation; `copy()`: half of a dict() call on RustPython)
        data = cls.__new_data__.copy()
        # the object's whole state, set at once (its hook guard set is made when a hook first runs: `_hook`)
        d = {"_db": db, "_state": "creating", "_data": data, "_stored": {}, "_meta": meta, "_hooking": None,
             "_do_not_save": False, "_dirty": False, "_id": text_id, "_eid": eid, "_tc": tc}
        if checked:   # a bare object (create_checked's): the dict as its dict, as `_hydrate` does (fewer
            object.__setattr__(self, "__dict__", d)   # steps than a store per attribute on RustPython)
        else:   # (a subclass's __init__ may have set attributes of its own first)
            self.__dict__.update(d)
            d = self.__dict__
        if checked and cls.on_event is None:
            data.update(kwargs)
        else:
            self._assign(kwargs, ACTION_CREATE, linked)
        for name in cls.__required_fields__:
            if data.get(name) is None:
                raise ValidationError(f"{type_name}.{name} is required")
        if eid > max_id:
            max_id = eid
        if linked:  # the links are made once the entity is counted and in the identity map
            db.set_counters(tc, max_id, count + 1, self, eid, self._creation_failed)
            for name in linked:
                self._set_any_relation(name, kwargs[name])
        # without json's C encoder the fields are encoded once, for the document and the audit entry
        if keys.NATIVE_JSON:
            fields_text = None
            text = doc_text(data, meta)
        else:
            fields_text = json_text.encode_dict(data)
            text = (new_doc_text(fields_text, caller, now) if len(meta) == 6 and now.__class__ is int
                    else doc_text(data, meta, fields_text))
        key = keys.doc_key(tc, eid)
        if linked:
            db.put_value(key, text)
        else:   # counted, registered and its document staged in one call
            db.set_counters(tc, max_id, count + 1, self, eid, self._creation_failed, key, text)
        self._add_keys(data, db, cls, tc, eid)
        changes = data.copy()
        for name in linked:
            rel = cls.__relations__.get(name)
            if rel is None:     # a relation to several types: its parts' links
                changes.update(relation_union.link_changes(self, cls.__unions__[name]))
                fields_text = None
            elif rel.to_many:
                changes[name] = self._linked_ids(rel)
                fields_text = None      # the entry holds more than the document's fields
        db.audit.append("create", type_name, eid, changes, now, caller, None, fields_text)
        # without links the entry's changes are a copy of the data: the stored values from now on (neither
        # the log nor its listener changes them, and `_stored` is only ever replaced, never changed)
        d["_stored"] = dict(data) if linked else changes
        d["_state"] = "live"

    def _creation_failed(self) -> None:
        """The create rolled back: the object is no longer the entity's (it never existed)."""
        self._db.identity.drop((self._tc, self._eid))
        self.__dict__["_state"] = "failed"

    @classmethod
    def _claim_id(cls, db: Database, tc: int, custom_id, max_id: int) -> tuple:
        """(storage id, text id, max id) for a caller-chosen id: a number is the storage id itself
        (ids it skips are never handed out later); any other text takes the next storage id and
        is found through its own key. A taken id is refused."""
        type_name = cls.__type_name__
        if isinstance(custom_id, bool) or not isinstance(custom_id, (str, int)) or custom_id == "":
            raise ValidationError(f"invalid id {custom_id!r}")
        text_id = str(custom_id)
        eid = normalize_id(custom_id)
        if eid is not None and text_id == str(eid):
            if db.get(keys.doc_key(tc, eid)) is not None:
                raise DuplicateIdError(f"Entity {type_name}@{text_id} already exists")
            if eid > max_id:
                db.mark_range_deleted(tc, max_id + 1, eid - 1)
                return eid, text_id, eid
            db.mark_deleted(tc, eid, False)
            return eid, text_id, max_id
        key = keys.text_id_key(tc, text_id, db.key_limit)
        if db.get(key) is not None:
            raise DuplicateIdError(f"Entity {type_name}@{text_id} already exists")
        eid = max_id + 1
        db.put(key, str(eid))
        return eid, text_id, eid

    @classmethod
    def create(cls, values: dict) -> "Entity":
        """Create an entity from a dict of field (and relation) values."""
        return cls(**values)

    @classmethod
    def new(cls, **kwargs) -> "Entity":
        return cls(**kwargs)

    # ----- load and query ------------------------------------------------------------------------

    @classmethod
    def _hydrate(cls, db: Database, tc: int, eid: int, text: str, head: Optional[str] = None,
                 key: Optional[str] = None) -> "Entity":
        """The object of the document `text` (`head`: the value read from storage under `key`, when it
        is `text`)."""
        doc = _parse_doc(text) if keys.NATIVE_JSON else _read_document(text)
        obj = cls.__new__(cls)
        stored = doc.pop("f")
        if len(doc) > 6 or cls.__special__:     # optional entries, or an open or versioned class
            version = cls.__version__
            if doc.get("sv", 1) != version:
                stored = cls._migrated(stored, doc, eid)
            data = dict(stored) if cls.__open__ else {}
        elif list(stored) == cls.__stored_names__:
            data = None     # written by this class: a copy is what the loops below give
        else:
            data = {}
        if data is None:
            data = dict(stored)
        else:
            for name, prop in cls.__fields__.items():
                data[name] = stored.get(name, prop.default)
            for name, rel in cls.__relations__.items():
                if not rel.to_many:
                    data[name] = stored.get(name)
        # the new object's attributes as its whole dict (20K fewer than `__dict__.update` on RustPython)
        object.__setattr__(obj, "__dict__", {"_db": db, "_state": "live", "_data": data, "_stored": stored,
                                             "_meta": doc, "_hooking": None, "_do_not_save": False,
                                             "_dirty": False, "_id": doc.get("i") or f"{eid}", "_eid": eid,
                                             "_tc": tc, "_key": key,
                                             "_loaded": None if head is None else (head, SETTLED[0])})
        return obj

    @classmethod
    def migrate(cls, obj: dict, from_version: int, to_version: int) -> dict:
        """Override to convert a stored entity (a dict like `serialize()` gives) written by schema
        version `from_version` to `to_version` (the class's `__version__`); returns the dict."""
        return obj

    @classmethod
    def _migrated(cls, stored: dict, meta: dict, eid: int) -> dict:
        """Fields of a document written under another `__version__`, passed through `migrate`."""
        from_version = meta.get("sv", 1)
        obj = dict(stored)
        obj.update({"_type": cls.__type_name__, "_id": meta.get("i") or str(eid),
                    "__version__": from_version})
        obj = cls.migrate(obj, from_version, cls.__version__)
        if not isinstance(obj, dict):
            raise ValidationError(f"{cls.__type_name__}.migrate must return a dict")
        meta["sv"] = cls.__version__
        out = {}
        for name, value in obj.items():
            if name.startswith("_"):
                continue
            prop = cls.__fields__.get(name)
            out[name] = value if prop is None else prop.validate(value, cls.__type_name__ + "." + name)
        return out

    @classmethod
    def adopt_stored(cls, db: Database, tc: int, eid: int, text: str) -> "Entity":
        """Trusted restore: the object for a document just written under `eid`, with its alias and
        index entries added (no hooks, audit or version change)."""
        db.identity.drop((tc, eid))
        entity = cls._hydrate(db, tc, eid, text)
        entity._add_keys(entity._data, db, cls, tc, eid)   # (what _sync_keys({}, data) does, by its steps)
        return entity

    @classmethod
    def _load_id(cls, db: Database, tc: int, eid: int) -> Optional["Entity"]:
        identity = db.identity
        ident = (tc, eid)
        entity = identity.get(ident)
        if entity is not None and type(entity) is cls and entity._state == "live":
            return entity
        key = keys.doc_key(tc, eid)
        head = db.get(key)
        if head is None:
            return None
        if head.startswith(_CHUNK_MARK):
            entity = cls._hydrate(db, tc, eid, db.get_value(key, head))
        else:   # stored whole: a write of this object may skip reading it again (_write_document)
            entity = cls._hydrate(db, tc, eid, head, head, key)
        identity.put(ident, entity)
        return entity

    @classmethod
    def load(cls, entity_id, level: int = None) -> Optional["Entity"]:
        """The entity with this id (3 or "3" give the same object; a caller-chosen text id such as
        "peter" works too), or None. Never writes."""
        eid = entity_id if entity_id.__class__ is int and entity_id > 0 else normalize_id(entity_id)
        db = Database.get_instance()
        tc = db.type_code(cls.__type_name__)
        if tc is None:
            return None
        if eid is None:
            if type(entity_id) is not str or not entity_id:
                return None
            holder = db.get(keys.text_id_key(tc, entity_id, db.key_limit))
            if holder is None:
                return None
            entity = cls._load_id(db, tc, int(holder))
            return entity if entity is not None and entity._id == entity_id else None
        entity = cls._load_id(db, tc, eid)
        if entity is not None and "i" in entity._meta:
            return None     # this storage id belongs to an entity with a text id
        return entity

    @classmethod
    def stored_view(cls, entity_id) -> Optional[tuple]:
        """The `view()` of the entity `load(entity_id)` gives, or None. A read that keeps no object need
        not make one: an int id not in the identity map is read from its document alone."""
        db = Database.get_instance()
        tc = db.type_code(cls.__type_name__)
        if (tc is not None and entity_id.__class__ is int and entity_id > 0 and not cls.__special__
                and not cls.__unions__ and db.identity.get((tc, entity_id)) is None):
            text = db.get_value(keys.doc_key(tc, entity_id))
            if text is None:
                return None
            doc = _parse_doc(text)
            if len(doc) == 7:       # no optional entries (a text id, a schema version...)
                stored = doc["f"]
                values = {}
                for name, prop in cls.__fields__.items():
                    values[name] = stored.get(name, prop.default)
                refs = {}
                for name, rel in cls.__relations__.items():
                    if not rel.to_many:
                        refs[name] = stored.get(name)
                return entity_id, values, refs, doc
        entity = cls.load(entity_id)
        return None if entity is None else entity.view()

    @classmethod
    def by_storage_id(cls, eid: int) -> Optional["Entity"]:
        """The entity stored under storage id `eid` (also one with a caller-chosen text id)."""
        db = Database.get_instance()
        tc = db.type_code(cls.__type_name__)
        return None if tc is None else cls._load_id(db, tc, eid)

    @classmethod
    def stored_document(cls, entity_id) -> Optional[dict]:
        """The entity as the original stores it: `serialize()` of the stored values (before any
        migration) plus `__version__`; None when there is no such entity."""
        entity = cls.load(entity_id)
        if entity is None:
            return None
        db = entity._db
        doc = _parse_doc(db.get_value(keys.doc_key(entity._tc, entity._eid)))
        out = entity.serialize()
        stored = doc["f"]
        for name in list(out):
            if not name.startswith("_") and name in stored and name not in cls.__relations__:
                out[name] = stored[name]
        out["__version__"] = doc.get("sv", 1)
        return out

    @classmethod
    def store_document(cls, entity_id, data: dict) -> "Entity":
        """Trusted write of a stored document (`Database.save`): fields as given (no hooks; a later
        `__version__` load migrates them), owner and creator kept (the caller's for a new one)."""
        from .entity_serialize import MIXIN_FIELDS
        db = Database.get_instance()
        with db.operation():
            tc = db.type_code(cls.__type_name__, create=True)
            fields = {}
            for name, value in data.items():
                if name.startswith("_") or name in MIXIN_FIELDS:
                    continue
                rel = cls.__relations__.get(name)
                if rel is None:
                    fields[name] = value        # kept as given, as the original stores it
                elif not rel.to_many:
                    fields[name] = normalize_id(value)
            version = data.get("__version__", 1)
            existing = cls.load(entity_id)
            now = db.now()
            caller = get_caller_id()
            if existing is None:
                max_id, count = db.counters(tc)
                eid, text_id, max_id = cls._claim_id(db, tc, entity_id, max_id)
                meta = {"o": caller, "c": caller, "u": caller, "tc": now, "tu": now, "v": 1}
                if text_id != str(eid):
                    meta["i"] = text_id
                db.set_counters(tc, max_id, count + 1)
                head = None
            else:
                eid = existing._eid
                existing._drop_keys(existing._stored)
                meta = dict(existing._meta)
                meta.update({"u": caller, "tu": now, "v": meta["v"] + 1})
                head = db.get(keys.doc_key(tc, eid))
            meta.pop("sv", None)
            if version != 1:
                meta["sv"] = version
            text = doc_text(fields, meta)
            db.put_value(keys.doc_key(tc, eid), text, head)
            entity = cls.adopt_stored(db, tc, eid, text)
            db.record("save", cls.__type_name__, eid, fields, now, caller)
        return entity

    @classmethod
    def _alias_key(cls) -> str:
        """The original's name for a type's alias lookup ("Type_alias")."""
        return cls.__type_name__ + "_alias"

    @classmethod
    def get(cls, entity_id) -> "Entity":
        """Like `load` but raises NotFoundError."""
        entity = cls.load(entity_id)
        if entity is None:
            raise NotFoundError(f"{cls.__type_name__}@{entity_id} not found")
        return entity

    @classmethod
    def by_alias(cls, value) -> Optional["Entity"]:
        """The entity whose alias field equals `value`, or None."""
        alias = cls.__alias__
        if alias is None:
            raise ValidationError(f"{cls.__type_name__} has no __alias__")
        db = Database.get_instance()
        tc = db.type_code(cls.__type_name__)
        if tc is None or value is None:
            return None
        gen = db.key_generations(cls, tc).get("@" + alias)
        if gen is None:
            return None
        holder = db.get(keys.alias_key(tc, alias, value, db.key_limit, gen))
        if holder is None:
            return None
        entity = cls._load_id(db, tc, int(holder))
        if entity is None or differs(entity._data.get(alias), value):
            return None
        return entity

    def __class_getitem__(cls, key):
        """`Cls[id]`, `Cls[alias value]` or `Cls["field", value]` (the alias field, as the original
        keeps a lookup only for it); None when nothing matches."""
        if isinstance(key, tuple):
            if len(key) != 2 or not isinstance(key[0], str) or not key[0]:
                raise TypeError("Cls[field, value] needs a non-empty field name and a value")
            field, value = key
            if field != cls.__alias__:
                return None
            return cls.by_alias(value)
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            return cls.by_alias(key) if cls.__alias__ is not None and key is not None else None
        if cls.__alias__ is not None and normalize_id(key) is None:
            # text that is not a number: the alias first (one read), then a caller-chosen text id
            return cls.by_alias(key) or cls.load(key)
        entity = cls.load(key)
        if entity is None and cls.__alias__ is not None:
            entity = cls.by_alias(key)
        return entity

    @classmethod
    def count(cls) -> int:
        """Live entities of this type and its subclasses (O(1) per type)."""
        db = Database.get_instance()
        return sum(db.counters(db.type_code(k.__type_name__))[1] for k in type_registry.family(cls))

    @classmethod
    def max_id(cls) -> int:
        """The highest id ever assigned to this type."""
        db = Database.get_instance()
        return db.counters(db.type_code(cls.__type_name__))[0]

    # ----- ownership -----------------------------------------------------------------------------

    def set_owner(self, new_owner: str) -> None:
        """Give the entity to `new_owner` (recorded as a "transfer"; hooks see field "owner")."""
        if not isinstance(new_owner, str) or not new_owner:
            raise ValidationError("owner must be a non-empty string")
        self._check_live()
        with self._db.operation():
            self._touch()
            if type(self).__owned__:
                self._check_owner()
            new_owner = self._hook("owner", self._meta["o"], new_owner, ACTION_MODIFY)
            if not isinstance(new_owner, str) or not new_owner:
                raise ValidationError("owner must be a non-empty string")
            if new_owner == self._meta["o"]:
                return
            self._meta["o"] = new_owner
            self._persist("transfer", {"owner": new_owner})

    def check_ownership(self, caller_id: str) -> bool:
        """True if `caller_id` owns this entity."""
        return self._meta.get("o") == caller_id

    # ----- delete ----------------------------------------------------------------------------------

    def delete(self) -> None:
        """Delete the entity, applying each relation's delete policy; all or nothing. Cascades run
        iteratively (any depth); a delete that would touch more linked entities than the database's
        delete budget is refused with StorageLimitError and changes nothing (see docs/engine.md)."""
        if self._state != "live":
            self._check_live()
        db = self._db
        mark = db.begin()
        try:
            self._delete_reached(DeleteBudget(db, self))
        except BaseException:
            db.end(mark, False)
            raise
        db.end(mark, True)

    def _delete_reached(self, budget: "DeleteBudget") -> None:
        """Delete this entity and what its Cascade relations reach, depth first without recursion:
        each entity's steps are a generator that yields the entities to delete before it goes on."""
        visiting = set()
        steps = self._delete_steps(visiting, budget)
        child = next(steps, None)
        if child is None:   # nothing to cascade (the common case): done, without the stack
            return
        stack = [steps, child._delete_steps(visiting, budget)]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
            else:
                stack.append(child._delete_steps(visiting, budget))

    def _delete_steps(self, visiting: set, budget: "DeleteBudget"):
        db = self._db
        cls = self.__class__
        tc = self._tc
        eid = self._eid
        visiting.add((tc, eid))
        if cls.on_event is not None:
            self._hook(None, self, None, ACTION_DELETE)
        d = self.__dict__
        key = d.get("_key") or keys.doc_key(tc, eid)
        head = db.get(key)
        if head is None:
            raise NotFoundError(f"{cls.__type_name__}@{eid} no longer exists")
        # a delete changes only the state of this object
        db.on_rollback_call(d.__setitem__, ("_state", "live"))
        d["_state"] = "deleting"
        for name, rel in list(cls.__relations__.items()):
            if rel.target_cls is None:
                continue
            linked = self._linked_ids_upto(rel, budget.left() + 2)
            if not linked:
                continue
            ttc = db.type_code(rel.target_cls.__type_name__)
            if rel.on_delete == RESTRICT and (ttc != tc or linked != [eid]):
                # a link to itself goes with the entity; only links to others restrict
                raise ConflictError(f"{self._type}@{self._id} still has {name} links (restrict)")
            pending = [tid for tid in linked if (ttc, tid) not in visiting]
            budget.take(len(pending))     # refuses before any work when the relation holds too many
            rev = rel.reverse_relation()
            for tid in pending:
                budget.tick()
                if (ttc, tid) in visiting:
                    continue
                target = rel.target_cls.by_storage_id(tid)     # text-id entities too
                if target is None:
                    continue
                if rel.on_delete == CASCADE and db.allows(target, ACTION_DELETE):
                    yield target
                else:
                    target._hook(rev.public, self, None, ACTION_MODIFY)
                    self._detach(rel, target)
            if rel.to_many:
                db.bit_clear_all(self._link_bucket(rel), self._target_upper(rel))
        self._erase(key, head)

    def _erase(self, key: str, head: str) -> None:
        """Remove the entity's document (under `key`; `head`: its stored first value), alias, index and
        text id keys, count it out of its type and record the delete; its links are the caller's business."""
        db = self._db
        tc = self._tc
        eid = self._eid
        self._drop_keys(self._stored)
        text_id = self._meta.get("i")
        if text_id is not None:
            db.delete(keys.text_id_key(tc, text_id, db.key_limit))
        db.delete_value(key, head)
        db.count_deleted(tc, eid)
        db.audit.append("delete", self.__class__.__type_name__, eid, {}, db.now(), get_caller_id())
        self.__dict__["_state"] = "deleted"     # the identity map ignores objects that are not live


class DeleteBudget:
    """How much one delete may do: at most `db.delete_budget` linked entities (unlinked or deleted by
    a cascade), and, where the database has an instruction meter (the canister passes
    `ic.performance_counter`), no more than `db.meter_limit` instructions in the message."""

    def __init__(self, db: Database, root):
        self.db = db
        self.root = root
        self.used = 0

    def left(self) -> int:
        return max(self.db.delete_budget - self.used, 0)

    def take(self, count: int) -> None:
        """Count `count` more linked entities; StorageLimitError (the delete rolls back) past the budget."""
        self.used += count
        if self.used > self.db.delete_budget:
            self._refuse(f"would touch more than {self.db.delete_budget} linked entities")
        self.tick()

    def tick(self) -> None:
        """Refuse once the message has used more instructions than the meter allows."""
        db = self.db
        if db.meter is not None and db.meter() > db.meter_limit:
            self._refuse(f"would take more than {db.meter_limit:,} instructions")

    def _refuse(self, why: str) -> None:
        root = self.root
        raise StorageLimitError(
            f"deleting {root._type}@{root._id} {why} in one operation (the limit): unlink or delete "
            "linked entities in pages first (Entity.clear_links / delete_linked, or batches of "
            "unlink/delete calls), then delete it; or delete it in steps (Entity.delete_in_steps)")
