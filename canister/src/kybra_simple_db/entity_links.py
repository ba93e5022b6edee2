"""Relations of an entity: reading and assigning relation attributes, links and unlinks on both sides.

A mixin of `Entity`. To-one links live in the entity's document; to-many links in bucketed id sets
(one per entity, relation and target type). Every link change keeps the reverse side in step.
"""

from typing import Optional

from . import bitsets, type_registry
from . import key_layout as keys
from .db_constants import ACTION_CREATE, ACTION_DELETE, ACTION_MODIFY
from .db_errors import NotFoundError, PermissionDenied, ValidationError
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
        eid = self.id
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
        return rel.target_cls.load(target_id)

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
        target = rel.target_cls.load(value) if normalize_id(value) is not None else None
        if target is None:
            raise NotFoundError(f"{rel.target_cls.__type_name__}@{value} not found")
        return target

    def _set_relation(self, name: str, value) -> None:
        rel = self._relation(name)
        if self._state != "creating":
            self._check_live()
        with self._db.operation():
            if rel.to_many:
                if value is None:
                    value = []
                if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
                    raise ValidationError(f"{self._type}.{name} takes a list of entities")
                wanted = [self._resolve_target(rel, v) for v in value]
                wanted_ids = set(t.id for t in wanted)
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

    def link(self, relation: str, target) -> bool:
        """Link `target` (an entity or its id) through `relation`; False if it was already linked."""
        self._check_live()
        rel = self._relation(relation)
        with self._db.operation():
            return self._link(rel, self._resolve_target(rel, target))

    def unlink(self, relation: str, target) -> bool:
        """Remove the link to `target` (entity or id); False if there was none."""
        self._check_live()
        rel = self._relation(relation)
        tid = target.id if isinstance(target, EntityLinks) else normalize_id(target)
        if tid is None:
            raise ValidationError(f"invalid id {target!r}")
        with self._db.operation():
            return self._unlink(rel, tid)

    def links(self, relation: str, cursor: Optional[int] = None, limit: int = 100) -> tuple:
        """Ids linked through `relation` after `cursor`, ascending: (ids, next cursor or None)."""
        rel = self._relation(relation)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ValidationError("limit must be a positive integer")
        after = 0 if cursor is None else cursor
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValidationError("cursor must be a non-negative integer id")
        if not rel.to_many:
            tid = self._data.get(relation)
            return ([tid] if tid is not None and tid > after else []), None
        bucket = self._link_bucket(rel)
        if bucket is None:
            return [], None
        return self._db.bit_walk(bucket, after, self._target_upper(rel), limit, limit // 4 + 4)

    def has_link(self, relation: str, target) -> bool:
        rel = self._relation(relation)
        tid = target.id if isinstance(target, EntityLinks) else normalize_id(target)
        return tid is not None and self._has_link(rel, tid)

    def link_count(self, relation: str) -> int:
        """How many entities are linked through `relation` (reads one key per bucket of ids)."""
        rel = self._relation(relation)
        if not rel.to_many:
            return 0 if self._data.get(relation) is None else 1
        bucket = self._link_bucket(rel)
        if bucket is None:
            return 0
        return self._db.bit_count(bucket, self._target_upper(rel))

    def linked_ids(self, relation: str) -> list:
        """Every id linked through `relation`, ascending (whole-relation read)."""
        return self._linked_ids(self._relation(relation))

    def restore_links(self, relation: str, ids: list, both_sides: bool) -> None:
        """Trusted restore: set the to-many links to `ids` (and the reverse side's sets when
        `both_sides`), without hooks, audit or version changes."""
        rel = self._relation(relation)
        db = self._db
        bucket = self._link_bucket(rel, create=True)
        rev = rel.reverse_relation()
        for tid in ids:
            db.bit_update(bucket, tid, True)
            if both_sides and rev.to_many:
                target_tc = db.type_code(rel.target_cls.__type_name__, create=True)
                db.bit_update(lambda b, t=target_tc, v=tid: keys.link_key(t, v, rev.name, self._tc, b),
                              self._eid, True)

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
        if not rel.to_many:
            tid = self._data.get(rel.name)
            return [] if tid is None else [tid]
        db = self._db
        ttc = db.type_code(rel.target_cls.__type_name__)
        if ttc is None:
            return []
        upper = db.counters(ttc)[0]
        if upper < db.bucket_width:
            text = db.get(keys.link_key(self._tc, self._eid, rel.name, ttc, 0))
            return bitsets.members(bitsets.decode(text), 0, 1) if text else []
        ids, _ = db.bit_walk(self._link_bucket(rel), 0, upper, upper + 1, upper + 1)
        return ids

    def _linked_ids_upto(self, rel, limit: int) -> list:
        """At most `limit` linked ids of `rel`, ascending (reads the id buckets up to the last one
        returned)."""
        if not rel.to_many:
            tid = self._data.get(rel.name)
            return [] if tid is None else [tid]
        bucket = self._link_bucket(rel)
        if bucket is None:
            return []
        upper = self._target_upper(rel)
        return self._db.bit_walk(bucket, 0, upper, limit, upper // self._db.bucket_width + 1)[0]

    def clear_links(self, relation: str, limit: int = 500) -> int:
        """Unlink up to `limit` entities linked through `relation` (both sides, hooks run, as `unlink`)
        in one operation; returns how many. Call until it returns 0 to empty a large relation in
        bounded steps, e.g. before a delete that the delete budget refuses."""
        rel = self._relation(relation)
        self._check_live()
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ValidationError("limit must be a positive integer")
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
        return rel.target_cls.load(tid)

    def _guard(self, other: Optional["EntityLinks"]) -> None:
        """Refuse (PermissionDenied) a link change that would rewrite `other`'s document when the
        database's write guard does not let the caller modify it."""
        if other is not None and other is not self and not self._db.allows(other, ACTION_MODIFY):
            raise PermissionDenied(f"this change would rewrite {other._type}@{other._id}, which the "
                                   "caller may not modify")

    def _hook_link(self, rel, target, old, new, action: str) -> None:
        self._hook(rel.name, old, new, action)
        rev = rel.reverse_relation()
        if target is not self or rev is not rel:
            target._hook(rev.name, old and self, new and self, ACTION_MODIFY)

    def _link(self, rel, target) -> bool:
        db = self._db
        if target is not self and target == self:
            target = self
        rev = rel.reverse_relation()
        creating = self._state == "creating"
        action = ACTION_CREATE if creating else ACTION_MODIFY
        if rel.to_many:
            bucket = self._link_bucket(rel, create=True)
            if db.bit_test(bucket, target.id):
                return False
            if not rev.to_many:
                self._guard(target)
            self._hook_link(rel, target, None, target, action)
            db.bit_update(bucket, target.id, True)
            if rev.to_many:
                db.bit_update(target._link_bucket(rev, create=True), self.id, True)
                if not creating:
                    db.record("link", self._type, self.id, {rel.name: target.id})
            else:
                old_parent = target._data.get(rev.name)
                if old_parent is not None and old_parent != self.id:
                    ttc = db.type_code(self._type)
                    db.bit_update(lambda b: keys.link_key(ttc, old_parent, rel.name, target._tc, b),
                                  target.id, False)
                target._touch()
                target._data[rev.name] = self.id
                target._persist("link")
            return True
        old_id = self._data.get(rel.name)
        if old_id == target.id:
            return False
        old = self._load_linked(rel, old_id) if old_id is not None else None
        if not rev.to_many and (target is not self or rev is not rel):
            self._guard(target)
            partner = target._data.get(rev.name)
            if partner is not None and partner != self.id:
                self._guard(rev.target_cls.load(partner))
        self._hook_link(rel, target, old, target, action)
        if old is not None:
            self._detach(rel, old)
        if rev.to_many:
            db.bit_update(target._link_bucket(rev, create=True), self.id, True)
        elif target is not self or rev is not rel:
            partner = target._data.get(rev.name)
            if partner is not None and partner != self.id:
                previous = rev.target_cls.load(partner)
                if previous is not None:
                    previous._touch()
                    previous._data[rel.name] = None
                    previous._persist("unlink")
            if target is not self:
                target._touch()
                target._data[rev.name] = self.id
                target._persist("link")
        if not creating:
            self._touch()
        if target is self and rev is not rel:
            # an asymmetric self-link (next/prev): both sides are fields of this one document
            self._data[rev.name] = self.id
        self._data[rel.name] = target.id
        self._persist("link")
        return True

    def _detach(self, rel, other: "EntityLinks") -> None:
        """Remove this entity from `other`'s side of the relation (this side is updated by the caller)."""
        rev = rel.reverse_relation()
        if rev.to_many:
            bucket = other._link_bucket(rev)
            if bucket is not None:
                self._db.bit_update(bucket, self.id, False)
        elif other._data.get(rev.name) == self.id and (other is not self or rev is not rel):
            if self._state != "deleting":
                self._guard(other)          # a reference to an entity being deleted is cleared always
            other._touch()
            other._data[rev.name] = None
            if other is not self:
                other._persist("unlink")     # this entity's own document is written by the caller

    def _unlink(self, rel, tid: int) -> bool:
        db = self._db
        if not self._has_link(rel, tid):
            return False
        target = self._load_linked(rel, tid)
        if rel.to_many:
            if target is not None:
                self._hook_link(rel, target, target, None, ACTION_MODIFY)
            db.bit_update(self._link_bucket(rel), tid, False)
            if target is not None:
                rev = rel.reverse_relation()
                if rev.to_many:
                    self._detach(rel, target)
                    db.record("unlink", self._type, self.id, {rel.name: tid})
                elif target._data.get(rev.name) == self.id:
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
