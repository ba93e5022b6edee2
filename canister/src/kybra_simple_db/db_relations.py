"""Relation declarations: `OneToOne`, `OneToMany`, `ManyToOne`, `ManyToMany`, always symmetric.

A relation names its target type and the reverse relation on the target (declared there
automatically when the target does not declare it), and a delete policy applied to the entities it
links when its owner is deleted: `set_null` (default; unlink them), `cascade` (delete them too) or
`restrict` (refuse the delete while links exist).
"""

from .db_constants import DELETE_POLICIES, SET_NULL
from .db_errors import ValidationError


class Relation:
    """Base descriptor for relations; to-one values live in the document, to-many in id buckets."""

    kind = "relation"
    to_many = False
    reverse_kind = None

    def __init__(self, target, reverse: str = None, on_delete: str = SET_NULL):
        if isinstance(target, (list, tuple)):
            if len(target) != 1:
                raise ValidationError("a relation has exactly one target type")
            target = target[0]      # the original's list form, e.g. OneToOne(["Profile"], "person")
        if not isinstance(target, str):
            target = getattr(target, "__type_name__", None) or getattr(target, "__name__", None)
        if not target:
            raise ValidationError("relation target must be a type name or an entity class")
        if on_delete not in DELETE_POLICIES:
            raise ValidationError(f"on_delete must be one of {', '.join(DELETE_POLICIES)}")
        self.target = target
        self.reverse = reverse
        self.on_delete = on_delete
        self.name = None
        self.owner = None
        self.implicit = False
        self.target_cls = None

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def inherited_by(self, subclass) -> "Relation":
        """A copy of this declaration for a subclass (each class links through its own relation)."""
        copy = type(self)(self.target, self.reverse, self.on_delete)
        copy.name = self.name
        copy.owner = subclass
        return copy

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return obj._get_relation(self.name)

    def __set__(self, obj, value) -> None:
        obj._set_relation(self.name, value)

    def reverse_relation(self):
        """The relation on the target that mirrors this one (after resolution)."""
        return self.target_cls.__relations__[self.reverse]

    def describe(self) -> dict:
        target = self.target_cls.__type_name__ if self.target_cls is not None else self.target
        return {
            "name": self.name,
            "kind": self.kind,
            "target": target,
            "reverse": self.reverse,
            "on_delete": self.on_delete,
            "implicit": self.implicit,
        }


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
