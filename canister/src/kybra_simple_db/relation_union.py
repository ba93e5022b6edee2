"""Relations to several types, as kybra-simple-db declares them: `ManyToOne(["User", "Organization"],
"assets")`. The declared relation is a union of one-type parts, one per listed type (named
`<relation>__<Type>`), each an ordinary relation with its own links, the declared reverse name on its
target type, and the declared delete policy; so storage, cascades, deletes and dumps see only
one-type relations. The entity presents the declared relation: a to-one links one entity over all its
parts, a to-many is the union of its parts' links, and a value (an entity, an id or an alias) goes to
the part of its type (ids and aliases are tried against the listed types in order).
"""

from . import type_registry
from .db_errors import NotFoundError, RelationValueError, UnknownTargetError, ValidationError
from .entity_values import normalize_id


class UnionAttribute:
    """The class attribute of a relation to several types: reads and assignments go to its parts."""

    def __init__(self, relation):
        self.relation = relation

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self.relation
        return get(obj, self.relation)

    def __set__(self, obj, value) -> None:
        assign(obj, self.relation, value)


# a part's name goes into its link keys ("<tc>><id>.<name>.<tc>/<bucket>"): at most 60 characters keeps
# them within the 100 bytes of a StableBTreeMap key, as the 40-character limit of a declared name does
MAX_PART_NAME = 60


def expand(relations: dict) -> dict:
    """Replace each relation to several types in `relations` (in place, keeping the order) by its
    parts; returns the declared relations so replaced, by name."""
    unions = {}
    if all(rel.targets is None for rel in relations.values()):
        return unions
    items = list(relations.items())
    relations.clear()
    for name, rel in items:
        if rel.targets is None:
            relations[name] = rel
            continue
        names = []
        for target in rel.targets:
            part_name = name + "__" + target.replace("::", "__")
            if len(part_name) > MAX_PART_NAME:
                raise ValidationError(f"relation {name}: the name {part_name!r} of its part linking {target} "
                                      f"is longer than {MAX_PART_NAME} characters (shorten the names)")
            if part_name in relations or part_name in dict(items):
                raise ValidationError(f"relation {name}: the name {part_name!r} of its part linking "
                                      f"{target} is taken")
            relations[part_name] = rel.part(target, part_name)
            names.append(part_name)
        rel.parts = tuple(names)
        unions[name] = rel
    return unions


def declared(cls) -> list:
    """The relations of `cls` as declared: each relation to several types once, in place of its parts."""
    out = []
    for rel in cls.__relations__.values():
        if rel.union is None:
            out.append(rel)
        else:
            union = cls.__unions__[rel.union]
            if rel.name == union.parts[0]:
                out.append(union)
    return out


def link_changes(entity, union) -> dict:
    """The to-many parts' linked ids (part name -> ids), as a create's audit entry lists them."""
    return dict((part.name, entity._linked_ids(part)) for part in parts(entity, union) if part.to_many)


def public_refs(entity, refs: dict) -> dict:
    """`refs` (to-one relation name -> linked id) with each to-one relation to several types under
    its declared name instead of its parts' names."""
    for name, union in type(entity).__unions__.items():
        if union.to_many:
            continue
        linked = [refs.pop(part_name, None) for part_name in union.parts]
        refs[name] = next((tid for tid in linked if tid is not None), None)
    return refs


def parts(entity, union) -> list:
    """The parts of `union` whose target type is defined."""
    cls = type(entity)
    out = []
    for name in union.parts:
        try:
            out.append(type_registry.resolved(cls, name))
        except NotFoundError:
            continue
    return out


def find(entity, union, value):
    """(part, target) for an id or alias value, trying the listed types in order; None if none has it."""
    for part in parts(entity, union):
        target = part.target_cls[value]
        if target is not None:
            return part, target
    return None


def resolve(entity, union, value) -> tuple:
    """(part, target entity) for an assigned value: an entity of a listed type, its id or an alias."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        found = find(entity, union, value)
        if found is None:
            raise UnknownTargetError(f"No entity of types {list(union.targets)} found with ID or name "
                                     f"'{value}'")
        return found
    type_name = getattr(value, "_type", None)
    if type_name is not None:
        for part in parts(entity, union):
            if part.target_cls.__type_name__ == type_name:
                return part, entity._resolve_target(part, value)
    raise RelationValueError(f"{entity._type}.{union.name} links an entity of the types "
                             f"{', '.join(union.targets)}, not {type_name or type(value).__name__}")


def get(entity, union):
    """The attribute's value: the linked entity (or None) for a to-one, a live view for a to-many."""
    if union.to_many:
        from .link_view import UnionLinks
        return UnionLinks(entity, union, parts(entity, union))
    data = entity._data
    for part in parts(entity, union):
        if data.get(part.name) is not None:
            return entity._get_relation(part.name)
    return None


def _clear_others(entity, union, keep) -> None:
    """A to-one links one entity in total: unlink the parts other than `keep` (None: all)."""
    for part in parts(entity, union):
        if part is not keep and entity._data.get(part.name) is not None:
            entity._set_relation(part.name, None)


def leave_others(entity, part) -> None:
    """`entity` is being linked through its `part` from the other side: a to-one relation to several
    types links one entity in total, so its other parts are unlinked first."""
    union = type(entity).__unions__[part.union]
    if not union.to_many:
        _clear_others(entity, union, part)


def assign(entity, union, value) -> None:
    """`entity.<union> = value`: a to-one links the value's part and clears the others; a to-many
    sets each part to the values of its type (an empty list for the others)."""
    if entity._state != "creating":
        entity._check_live()
    with entity._db.operation():
        if not union.to_many:
            if value is None:
                _clear_others(entity, union, None)
                return
            part, target = resolve(entity, union, value)
            _clear_others(entity, union, part)
            entity._set_relation(part.name, target)
            return
        if value is None:
            value = []
        elif isinstance(value, (str, int)) and not isinstance(value, bool) or hasattr(value, "_type"):
            value = [value]     # one entity (or its id or alias) for a to-many relation
        if isinstance(value, (bytes, dict)) or not hasattr(value, "__iter__"):
            raise RelationValueError(
                f"{entity._type}.{union.name} must be set to an entity or list of entities")
        groups = dict((part.name, []) for part in parts(entity, union))
        for item in value:
            part, target = resolve(entity, union, item)
            groups[part.name].append(target)
        for name, targets in groups.items():
            entity._set_relation(name, targets)


def link(entity, union, target) -> bool:
    """Link `target` through the part of its type (a to-one first unlinks the other parts)."""
    part, target = resolve(entity, union, target)
    with entity._db.operation():
        if not union.to_many:
            _clear_others(entity, union, part)
        return entity.link(part.name, target)


def _owning_part(entity, union, target):
    """The part that links `target` (an entity: the part of its type; an id: the first part that
    links it), or None."""
    type_name = getattr(target, "_type", None)
    if type_name is not None:
        for part in parts(entity, union):
            if part.target_cls.__type_name__ == type_name:
                return part
        return None
    tid = normalize_id(target)
    if tid is None:
        raise ValidationError(f"invalid id {target!r}")
    for part in parts(entity, union):
        if entity._has_link(part, tid):
            return part
    return None


def unlink(entity, union, target) -> bool:
    """Remove the link to `target` (entity or id; an id is looked for in the listed types in order)."""
    part = _owning_part(entity, union, target)
    return part is not None and entity.unlink(part.name, target)


def has_link(entity, union, target) -> bool:
    part = _owning_part(entity, union, target)
    return part is not None and entity.has_link(part.name, target)


def links(entity, union, cursor, limit: int) -> tuple:
    """Ids linked through any part after `cursor`, ascending and distinct (an id linked in two types
    is listed once): (ids, next cursor or None). Each part is paged as usual; ids are returned only
    up to where every part has been read, so no page skips an id."""
    found = set()
    bound = None
    for part in parts(entity, union):
        ids, after = entity.links(part.name, cursor, limit)
        found.update(ids)
        if after is not None and (bound is None or after < bound):
            bound = after
    ids = sorted(i for i in found if bound is None or i <= bound)
    if len(ids) > limit:
        return ids[:limit], ids[limit - 1]
    if bound is not None:
        return ids, bound
    return ids, None


def link_count(entity, union) -> int:
    return sum(entity.link_count(part.name) for part in parts(entity, union))


def linked_ids(entity, union) -> list:
    """Every id linked through any part, ascending and distinct."""
    found = set()
    for part in parts(entity, union):
        found.update(entity.linked_ids(part.name))
    return sorted(found)


def bounded(entity, union, method: str, limit: int) -> int:
    """`clear_links` / `delete_linked` over the parts, at most `limit` entities in all, in one
    operation (a part refused undoes the parts before it)."""
    done = 0
    with entity._db.operation():
        for part in parts(entity, union):
            if done >= limit:
                break
            done += getattr(entity, method)(part.name, limit - done)
    return done


def ready(entity, union, value) -> bool:
    """Whether every value of a deserialized relation names an existing entity of a listed type."""
    for item in value if isinstance(value, list) else [value]:
        if not hasattr(item, "_type") and find(entity, union, item) is None:
            return False
    return True
