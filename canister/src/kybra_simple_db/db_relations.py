"""Relation declarations: `OneToOne`, `OneToMany`, `ManyToOne`, `ManyToMany`, always symmetric.

A relation names its target type (or, as kybra-simple-db allows, a list of several: see
relation_union.py) and the reverse relation on the target (declared there
automatically when the target does not declare it), and a delete policy applied to the entities it
links when its owner is deleted: `set_null` (default; unlink them), `cascade` (delete them too) or
`restrict` (refuse the delete while links exist).
"""

from .db_constants import DELETE_POLICIES, SET_NULL
from .db_errors import ValidationError

MAX_TARGETS = 16        # types one relation may list


class Relation:
    """Base descriptor for relations; to-one values live in the document, to-many in id buckets."""

    kind = "relation"
    to_many = False
    reverse_kind = None
    parts = ()          # a relation to several types: the names of its one-type parts (relation_union.py)
    union = None        # a part of such a relation: the declared relation's name

    def __init__(self, target, reverse: str = None, on_delete: str = SET_NULL):
        targets = [_target_name(t) for t in target] if isinstance(target, (list, tuple)) else [
            _target_name(target)]
        if not targets:
            raise ValidationError("relation target must be a type name or an entity class")
        if len(set(targets)) != len(targets):
            raise ValidationError(f"relation targets repeat a type: {targets}")
        if len(targets) > MAX_TARGETS:
            raise ValidationError(f"a relation links at most {MAX_TARGETS} types")
        target = targets[0] if len(targets) == 1 else None
        self.targets = targets if target is None else None
        if on_delete not in DELETE_POLICIES:
            raise ValidationError(f"on_delete must be one of {', '.join(DELETE_POLICIES)}")
        self.target = target
        self.reverse = reverse
        self.on_delete = on_delete
        self.name = None
        self.public = None      # the name hooks see: the declared relation's (a part's union)
        self.owner = None
        self.implicit = False
        self.target_cls = None

    def __set_name__(self, owner, name: str) -> None:
        self.name = name
        self.public = name

    def inherited_by(self, subclass) -> "Relation":
        """A copy of this declaration for a subclass (each class links through its own relation)."""
        copy = type(self)(self.targets or self.target, self.reverse, self.on_delete)
        copy.name = self.name
        copy.public = self.name
        copy.owner = subclass
        return copy

    def part(self, target: str, name: str) -> "Relation":
        """The one-type relation to `target` named `name` that a relation to several types links
        through (it mirrors the declared reverse name on `target`)."""
        part = type(self)(target, self.reverse, self.on_delete)
        part.name = name
        part.public = self.name
        part.union = self.name
        part.owner = self.owner
        return part

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return obj._get_relation(self.name)

    def __set__(self, obj, value) -> None:
        obj._set_relation(self.name, value)

    def reverse_relation(self):
        """The relation on the target that mirrors this one (after resolution)."""
        return self.target_cls.__relations__[self.reverse]

    def public_reverse(self) -> str:
        """The reverse relation's declared name (a part of a relation to several types on the target
        is named there as the declared relation)."""
        if self.target_cls is not None:
            rev = self.target_cls.__relations__.get(self.reverse)
            if rev is not None and rev.union is not None:
                return rev.union
        return self.reverse

    def describe(self) -> dict:
        if self.targets is not None:
            target = list(self.targets)
        else:
            target = self.target_cls.__type_name__ if self.target_cls is not None else self.target
        return {
            "name": self.name,
            "kind": self.kind,
            "target": target,
            "reverse": self.public_reverse(),
            "on_delete": self.on_delete,
            "implicit": self.implicit,
        }


def _target_name(target) -> str:
    if not isinstance(target, str):
        target = getattr(target, "__type_name__", None) or getattr(target, "__name__", None)
    if not target or not isinstance(target, str):
        raise ValidationError("relation target must be a type name or an entity class")
    return target


class OneToOne(Relation):
    """Each side links at most one entity of the other side."""

    kind = "OneToOne"
    reverse_kind = "OneToOne"


class ManyToOne(Relation):
    """Many of these link one target; the target sees them through a OneToMany."""

    kind = "ManyToOne"
    reverse_kind = "OneToMany"


class OneToMany(Relation):
    """One of these links many targets; each target sees it through a ManyToOne."""

    kind = "OneToMany"
    to_many = True
    reverse_kind = "ManyToOne"


class ManyToMany(Relation):
    """Both sides link any number of entities."""

    kind = "ManyToMany"
    to_many = True
    reverse_kind = "ManyToMany"


RELATION_KINDS = {"OneToOne": OneToOne, "ManyToOne": ManyToOne, "OneToMany": OneToMany,
                  "ManyToMany": ManyToMany}
