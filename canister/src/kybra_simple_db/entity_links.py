"""Relations of an entity: reading and assigning relation attributes, links and unlinks on both sides.

A mixin of `Entity`. To-one links live in the entity's document; to-many links in bucketed id sets
(one per entity, relation and target type). Every link change keeps the reverse side in step.
"""

from typing import Optional

from . import bitsets, relation_union, type_registry
from . import key_layout as keys
from .context import get_caller_id
from .db_constants import ACTION_CREATE, ACTION_DELETE, ACTION_MODIFY
from .db_errors import (
    NotFoundError,
    PermissionDenied,
    RelationValueError,
    UnknownTargetError,
    ValidationError,
)
from .entity_values import normalize_id
from .link_view import LinkSet


class EntityLinks:
    """Links of one entity through its declared (and implicit reverse) relations."""

    def _relation(self, name: str):
        return type_registry.resolved(type(self), name)

    def _link_bucket(self, rel, create: bool = False):
        db = self._db
        ttc = db.type_code(rel.target_cls.__type_name__, create=create)
        if ttc is None:
            return None
        tc = self._tc
        eid = self._eid
        name = rel.name
        return lambda bucket: keys.link_key(tc, eid, name, ttc, bucket)

    def _target_upper(self, rel) -> int:
        db = self._db
        return db.counters(db.type_code(rel.target_cls.__type_name__))[0]

    def _get_relation(self, name: str):
        rel = self._relation(name)
        if rel.to_many:
            return LinkSet(self, rel)
        target_id = self._data.get(name)
        if target_id is None:
            return None
        return rel.target_cls.by_storage_id(target_id)

    def _resolve_target(self, rel, value) -> "EntityLinks":
        if isinstance(value, EntityLinks):
            if value._type != rel.target_cls.__type_name__:
                raise ValidationError(f"{self._type}.{rel.name} links {rel.target_cls.__type_name__}, "
                                      f"not {value._type}")
            if value._state not in ("live", "creating"):
                raise NotFoundError(f"{value._type}@{value._id} is {value._state}")
            if value._state == "creating" and value is not self:
                raise ValidationError("cannot link an entity that is still being created")
            return value
        target = None
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            target = rel.target_cls[value]      # an id, a caller-chosen text id or an alias value
        if target is None:
            raise UnknownTargetError(f"No entity of types ['{rel.target_cls.__type_name__}'] found with ID "
                                     f"or name '{value}'")
        return target

    def _set_relation(self, name: str, value) -> None:
        rel = self._relation(name)
        if self._state != "creating":
            self._check_live()
        with self._db.operation():
            if rel.to_many:
                if value is None:
                    value = []
                elif isinstance(value, (EntityLinks, str, int)) and not isinstance(value, bool):
                    value = [value]     # one entity (or its id or alias) for a to-many relation
                if isinstance(value, (bytes, dict)) or not hasattr(value, "__iter__"):
                    raise RelationValueError(
                        f"{self._type}.{name} must be set to an entity or list of entities")
                wanted = [self._resolve_target(rel, v) for v in value]
                wanted_ids = set(t._eid for t in wanted)
                if self._state != "creating":
                    for tid in self._linked_ids(rel):
                        if tid not in wanted_ids:
                            self._unlink(rel, tid)
                for target in wanted:
                    self._link(rel, target)
            elif value is None:
                current = self._data.get(name)
                if current is not None:
                    self._unlink(rel, current)
            else:
                self._link(rel, self._resolve_target(rel, value))

    def _set_any_relation(self, name: str, value) -> None:
        """Assign the relation `name`, declared for one type or several (a create's, a restore's)."""
        union = type(self).__unions__.get(name)
        if union is not None:
            relation_union.assign(self, union, value)
        else:
            self._set_relation(name, value)

    def link(self, relation: str, target) -> bool:
        """Link `target` (an entity or its id) through `relation`; False if it was already linked."""
        rel = self._relation(relation)
        if rel.parts:
            self._check_live()
            return relation_union.link(self, rel, target)
        return self.link_through(rel, target)

    def link_through(self, rel, target) -> bool:
        """`link` through the resolved one-type relation `rel` (a `LinkSet` holds it)."""
        self._check_live()
        db = self._db
        mark = db.begin()   # (what `with db.operation()` does, without its object: ~0.1M fewer on RustPython)
        try:
            linked = self._link(rel, self._resolve_target(rel, target))
        except BaseException:
            db.end(mark, False)
            raise
        db.end(mark, True)
        return linked

    def unlink(self, relation: str, target) -> bool:
        """Remove the link to `target` (entity or id); False if there was none."""
        rel = self._relation(relation)
        if rel.parts:
            self._check_live()
            return relation_union.unlink(self, rel, target)
        return self.unlink_through(rel, target)

    def unlink_through(self, rel, target) -> bool:
        """`unlink` through the resolved one-type relation `rel` (a `LinkSet` holds it)."""
        self._check_live()
        tid = target._eid if isinstance(target, EntityLinks) else normalize_id(target)
        if tid is None:
            raise ValidationError(f"invalid id {target!r}")
        db = self._db
        mark = db.begin()   # (as in `link_through`)
        try:
            unlinked = self._unlink(rel, tid)
        except BaseException:
            db.end(mark, False)
            raise
        db.end(mark, True)
        return unlinked

    def links(self, relation: str, cursor: Optional[int] = None, limit: int = 100) -> tuple:
        """Ids linked through `relation` after `cursor`, ascending: (ids, next cursor or None)."""
        rel = self._relation(relation)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ValidationError("limit must be a positive integer")
        after = 0 if cursor is None else cursor
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValidationError("cursor must be a non-negative integer id")
        if rel.parts:
            return relation_union.links(self, rel, cursor, limit)
        if not rel.to_many:
            tid = self._data.get(relation)
            return ([tid] if tid is not None and tid > after else []), None
        bucket = self._link_bucket(rel)
        if bucket is None:
            return [], None
        return self._db.bit_walk(bucket, after, self._target_upper(rel), limit, limit // 4 + 4)

    def has_link(self, relation: str, target) -> bool:
        rel = self._relation(relation)
        if rel.parts:
            return relation_union.has_link(self, rel, target)
        tid = target._eid if isinstance(target, EntityLinks) else normalize_id(target)
        return tid is not None and self._has_link(rel, tid)

    # ----- the original's relation API ---------------------------------------------------------------

    def add_relation(self, from_rel: str, to_rel: str, other: "EntityLinks") -> None:
        """Link `other`: through the declared relation `from_rel` if there is one, else as an ad-hoc
        relation named `from_rel` here and `to_rel` on `other` (kept in both documents)."""
        if from_rel in type(self).__relations__ or from_rel in type(self).__unions__:
            self.link(from_rel, other)
            return
        self._adhoc(from_rel, to_rel, other, True)

    def remove_relation(self, from_rel: str, to_rel: str, other: "EntityLinks") -> None:
        """Undo `add_relation`."""
        if from_rel in type(self).__relations__ or from_rel in type(self).__unions__:
            self.unlink(from_rel, other)
            return
        self._adhoc(from_rel, to_rel, other, False)

    def get_relations(self, relation_name: str, entity_type: Optional[str] = None) -> list:
        """Entities linked through `relation_name` (declared or ad-hoc), optionally of one type."""
        cls = type(self)
        rel = cls.__relations__.get(relation_name) or cls.__unions__.get(relation_name)
        if rel is not None:
            value = getattr(self, relation_name)
            found = list(value) if rel.to_many else ([] if value is None else [value])
        else:
            found = []
            for type_name, text_id in (self._meta.get("x") or {}).get(relation_name, []):
                cls = type_registry.find(type_name)
                target = cls.load(text_id) if cls is not None else None
                if target is not None:
                    found.append(target)
        if entity_type is not None:
            found = [e for e in found if e._type == entity_type or type(e).__name__ == entity_type]
        return found

    def _adhoc(self, from_rel: str, to_rel: str, other, present: bool) -> None:
        if not isinstance(other, EntityLinks):
            raise ValidationError("add_relation links an entity")
        for name in (from_rel, to_rel):
            if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
                raise ValidationError(f"invalid relation name {name!r}")
        self._check_live()
        other._check_live()
        self._guard(other)      # the link is kept in the other entity's document too
        with self._db.operation():
            self._hook(from_rel, None if present else other, other if present else None, ACTION_MODIFY)
            if other is not self:
                other._hook(to_rel, None if present else self, self if present else None, ACTION_MODIFY)
            self._adhoc_side(from_rel, [other._type, other._id], present)
            other._adhoc_side(to_rel, [self._type, self._id], present)

    def _adhoc_side(self, name: str, ref: list, present: bool) -> None:
        refs = dict(self._meta.get("x") or {})
        current = list(refs.get(name) or [])
        if (ref in current) == present:
            return
        self._touch()
        if present:
            current.append(ref)
        else:
            current.remove(ref)
        if current:
            refs[name] = current
        else:
            refs.pop(name, None)
        if refs:
            self._meta["x"] = refs
        else:
            self._meta.pop("x", None)
        self._persist("link" if present else "unlink", {name: ref})

    @property
    def _relations(self) -> dict:
        """The original's view of an entity's relations: {name: [linked entities]} (reads them)."""
        out = {}
        names = [rel.name for rel in relation_union.declared(type(self))]
        for name in names + list(self._meta.get("x") or {}):
            found = self.get_relations(name)
            if found:
                out[name] = found
        return out

    def link_count(self, relation: str) -> int:
        """How many entities are linked through `relation` (reads one key per bucket of ids)."""
        rel = self._relation(relation)
        if rel.parts:
            return relation_union.link_count(self, rel)
        if not rel.to_many:
            return 0 if self._data.get(relation) is None else 1
        bucket = self._link_bucket(rel)
        if bucket is None:
            return 0
        return self._db.bit_count(bucket, self._target_upper(rel))

    def linked_ids(self, relation: str) -> list:
        """Every id linked through `relation`, ascending (whole-relation read)."""
        rel = self._relation(relation)
        if rel.parts:
            return relation_union.linked_ids(self, rel)
        return self._linked_ids(rel)

    def restore_links(self, relation: str, ids: list, both_sides: bool) -> None:
        """Trusted restore: set the to-many links to `ids` (and the reverse side's sets when
        `both_sides`), without hooks, audit or version changes."""
        rel = self._relation(relation)
        db = self._db
        db.bit_add_all(self._link_bucket(rel, create=True), ids)
        rev = rel.reverse_relation()
        if not (both_sides and rev.to_many):
            return
        target_tc = db.type_code(rel.target_cls.__type_name__, create=True)
        tc, eid, name = self._tc, self._eid, rev.name
        bucket, offset = divmod(eid, db.bucket_width)
        for tid in ids:
            db.bit_set(keys.link_key(target_tc, tid, name, tc, bucket), offset, True)

    def link_walk(self, relation: str, after: int, limit: int, max_buckets: int) -> tuple:
        """Ids linked through the to-many `relation` after `after`, ascending: at most `limit`, reading
        at most `max_buckets` id buckets; (ids, next cursor or None at the end, buckets read)."""
        rel = self._relation(relation)
        bucket = self._link_bucket(rel)
        if bucket is None:
            return [], None, 0
        reads = [0]

        def counted(number: int) -> str:
            reads[0] += 1
            return bucket(number)

        ids, after = self._db.bit_walk(counted, after, self._target_upper(rel), limit, max_buckets)
        return ids, after, reads[0]

    def restore_reverse_links(self) -> None:
        """Trusted restore: add this entity to the to-many reverse sets of its to-one links."""
        db = self._db
        for name, rel in type(self).__relations__.items():
            value = self._data.get(name)
            if rel.to_many or value is None:
                continue
            rel = self._relation(name)
            rev = rel.reverse_relation()
            if rev.to_many:
                owner_tc = db.type_code(rel.target_cls.__type_name__, create=True)
                db.bit_update(lambda b, t=owner_tc, v=value, n=rev.name: keys.link_key(t, v, n, self._tc, b),
                              self._eid, True)

    def _has_link(self, rel, tid: int) -> bool:
        if not rel.to_many:
            return self._data.get(rel.name) == tid
        bucket = self._link_bucket(rel)
        return bucket is not None and self._db.bit_test(bucket, tid)

    def _linked_ids(self, rel) -> list:
        return self._linked_ids_upto(rel, None)

    def _linked_ids_upto(self, rel, limit: Optional[int]) -> list:
        """At most `limit` (None: all) linked ids of `rel`, ascending (reads the id buckets up to the
        last one returned; one read when the target type's ids all fit in the first bucket)."""
        if not rel.to_many:
            tid = self._data.get(rel.name)
            return [] if tid is None else [tid]
        db = self._db
        ttc = db.type_code(rel.target_cls.__type_name__)
        if ttc is None:
            return []
        upper = db.counters(ttc)[0]
        width = db.bucket_width
        if upper < width:
            text = db.get(keys.link_key(self._tc, self._eid, rel.name, ttc, 0))
            if not text:
                return []
            bits = bitsets.decode(text)
            if limit is None:
                return bitsets.members(bits, 0, 1)
            if limit > 0:
                return bitsets.members(bits, 0, 1, limit)     # (lists no more than it returns)
            return bitsets.members(bits, 0, 1)[:limit]
        if limit is None:
            return db.bit_walk(self._link_bucket(rel), 0, upper, upper + 1, upper + 1)[0]
        return db.bit_walk(self._link_bucket(rel), 0, upper, limit, upper // width + 1)[0]

    def clear_links(self, relation: str, limit: int = 500) -> int:
        """Unlink up to `limit` entities linked through `relation` (both sides, hooks run, as `unlink`)
        in one operation; returns how many. Call until it returns 0 to empty a large relation in
        bounded steps, e.g. before a delete that the delete budget refuses."""
        rel = self._relation(relation)
        self._check_live()
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ValidationError("limit must be a positive integer")
        if rel.parts:
            return relation_union.bounded(self, rel, "clear_links", limit)
        with self._db.operation():
            ids = self._linked_ids_upto(rel, limit)
            for tid in ids:
                self._unlink(rel, tid)
        return len(ids)

    def delete_linked(self, relation: str, limit: int = 100) -> int:
        """Delete up to `limit` entities linked through `relation` (each with its own delete policies
        and cascades) in one operation; returns how many. Call until it returns 0 to delete a large
        cascade in bounded steps."""
        rel = self._relation(relation)
        self._check_live()
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ValidationError("limit must be a positive integer")
        if rel.parts:
            return relation_union.bounded(self, rel, "delete_linked", limit)
        deleted = 0
        with self._db.operation():
            for tid in self._linked_ids_upto(rel, limit):
                target = self._load_linked(rel, tid)
                if target is not None and target is not self:
                    if not self._db.allows(target, ACTION_DELETE):
                        raise PermissionDenied(f"not allowed to delete {target._type}@{target._id}")
                    target.delete()
                    deleted += 1
        return deleted

    def _load_linked(self, rel, tid: int) -> Optional["EntityLinks"]:
        """The entity `tid` of `rel`'s target type; this very object when the link points to itself
        (so a self-link changes one document once, whatever the identity map holds)."""
        if tid == self._eid and rel.target_cls.__type_name__ == self._type:
            return self
        return rel.target_cls.by_storage_id(tid)

    def _guard(self, other: Optional["EntityLinks"]) -> None:
        """Refuse (PermissionDenied) a link change that would rewrite `other`'s document when the
        database's write guard does not let the caller modify it."""
        if other is not None and other is not self and not self._db.allows(other, ACTION_MODIFY):
            raise PermissionDenied(f"this change would rewrite {other._type}@{other._id}, which the "
                                   "caller may not modify")

    def _hook_link(self, rel, target, old, new, action: str) -> None:
        if self.__class__.on_event is None and target.__class__.on_event is None:
            return      # (no hook on either side: what the two `_hook` calls would do, without them)
        self._hook(rel.public, old, new, action)
        rev = rel.reverse_relation()
        if target is not self or rev is not rel:
            target._hook(rev.public, old and self, new and self, ACTION_MODIFY)

    def _link(self, rel, target) -> bool:
        db = self._db
        if target is not self and target == self:
            target = self
        rev = rel.reverse_relation()
        creating = self._state == "creating"
        action = ACTION_CREATE if creating else ACTION_MODIFY
        if rel.to_many:
            bucket = self._link_bucket(rel, create=True)
            if db.bit_test(bucket, target._eid):
                return False
            if not rev.to_many:
                self._guard(target)
            self._hook_link(rel, target, None, target, action)
            db.bit_update(bucket, target._eid, True)
            if rev.to_many:
                db.bit_update(target._link_bucket(rev, create=True), self._eid, True)
                if not creating:
                    db.audit.append("link", self._type, self._eid, {rel.name: target._eid}, db.now(),
                                    get_caller_id())
            else:
                if rev.union is not None:
                    relation_union.leave_others(target, rev)
                old_parent = target._data.get(rev.name)
                if old_parent is not None and old_parent != self._eid:
                    ttc = db.type_code(self._type)
                    db.bit_update(lambda b: keys.link_key(ttc, old_parent, rel.name, target._tc, b),
                                  target._eid, False)
                target._touch()
                target._data[rev.name] = self._eid
                target._persist("link")
            return True
        old_id = self._data.get(rel.name)
        if old_id == target._eid:
            return False
        old = self._load_linked(rel, old_id) if old_id is not None else None
        if not rev.to_many and (target is not self or rev is not rel):
            self._guard(target)
            partner = target._data.get(rev.name)
            if partner is not None and partner != self._eid:
                self._guard(rev.target_cls.by_storage_id(partner))
        self._hook_link(rel, target, old, target, action)
        if old is not None:
            self._detach(rel, old)
        if rev.to_many:
            db.bit_update(target._link_bucket(rev, create=True), self._eid, True)
        elif target is not self or rev is not rel:
            if rev.union is not None:
                relation_union.leave_others(target, rev)
            partner = target._data.get(rev.name)
            if partner is not None and partner != self._eid:
                previous = rev.target_cls.by_storage_id(partner)
                if previous is not None:
                    previous._touch()
                    previous._data[rel.name] = None
                    previous._persist("unlink")
            if target is not self:
                target._touch()
                target._data[rev.name] = self._eid
                target._persist("link")
        if not creating:
            self._touch()
        if target is self and rev is not rel:
            # an asymmetric self-link (next/prev): both sides are fields of this one document
            self._data[rev.name] = self._eid
        self._data[rel.name] = target._eid
        self._persist("link")
        return True

    def _detach(self, rel, other: "EntityLinks") -> None:
        """Remove this entity from `other`'s side of the relation (this side is updated by the caller)."""
        rev = rel.reverse_relation()
        if rev.to_many:
            bucket = other._link_bucket(rev)
            if bucket is not None:
                self._db.bit_update(bucket, self._eid, False)
        elif other._data.get(rev.name) == self._eid and (other is not self or rev is not rel):
            if self._state != "deleting":
                self._guard(other)          # a reference to an entity being deleted is cleared always
            other._touch()
            other._data[rev.name] = None
            if other is not self:
                other._persist("unlink")     # this entity's own document is written by the caller

    def _unlink(self, rel, tid: int) -> bool:
        db = self._db
        if rel.to_many:     # (what `_has_link` does, keeping the bucket keys for the update below)
            bucket = self._link_bucket(rel)
            if bucket is None or not db.bit_test(bucket, tid):
                return False
        elif not self._has_link(rel, tid):
            return False
        target = self._load_linked(rel, tid)
        if rel.to_many:
            if target is not None:
                self._hook_link(rel, target, target, None, ACTION_MODIFY)
            db.bit_update(bucket, tid, False)
            if target is not None:
                rev = rel.reverse_relation()
                if rev.to_many:
                    self._detach(rel, target)
                    db.audit.append("unlink", self._type, self._eid, {rel.name: tid}, db.now(),
                                    get_caller_id())
                elif target._data.get(rev.name) == self._eid:
                    self._guard(target)
                    target._touch()
                    target._data[rev.name] = None
                    target._persist("unlink")
            return True
        if target is not None:
            self._hook_link(rel, target, target, None, ACTION_MODIFY)
            self._detach(rel, target)
        self._touch()
        self._data[rel.name] = None
        self._persist("unlink")
        return True
