"""Entity classes by qualified type name, and resolution of relation targets and reverse sides.

Classes register themselves when defined (also when created at runtime with `type(...)`); a class
defined again under the same name replaces the previous definition (a schema change).
"""

from .db_errors import NotFoundError, UnknownTypeError, ValidationError
from .db_relations import RELATION_KINDS

_classes = {}
_listeners = []
_batches = [0]    # open `Batch` blocks: classes registered inside are resolved when the last one ends
_before_batch = {}  # the registry as the outermost open `Batch` found it


class Batch:
    """`with Batch():` defines several classes and resolves their relations once, at the end: resolving
    after each class walks every relation each time, quadratic when many types are defined together (a
    canister's whole schema at start, or a restored one). Relations stay unresolved inside the block. The
    block is all-or-nothing: if it fails or its relations do not resolve, the registry is as before it."""

    def __enter__(self) -> "Batch":
        if not _batches[0]:
            _before_batch.clear()
            _before_batch.update(_classes)
        _batches[0] += 1
        return self

    def __exit__(self, kind, error, trace) -> None:
        _batches[0] -= 1
        if _batches[0]:
            return
        if kind is None:
            try:
                resolve_all()
                _before_batch.clear()
                return
            except Exception:
                _restore_before_batch()
                raise
        _restore_before_batch()


def _restore_before_batch() -> None:
    """Put back the definitions an outermost `Batch` found, and resolve them again."""
    _classes.clear()
    _classes.update(_before_batch)
    _before_batch.clear()
    _families.clear()
    resolve_all()


def register(cls) -> None:
    """Make `cls` the definition of its type name and re-resolve every relation (unless in a Batch)."""
    previous = _classes.get(cls.__type_name__)
    _classes[cls.__type_name__] = cls
    _families.clear()
    try:
        if not _batches[0]:
            resolve_all()
        for listener in _listeners:
            listener(cls.__type_name__, previous)
    except Exception:
        if previous is None:
            del _classes[cls.__type_name__]
        else:
            _classes[cls.__type_name__] = previous
        if not _batches[0]:
            resolve_all()
        raise


def on_register(listener) -> None:
    """Call `listener(type_name, previous_class)` whenever a type is (re)defined."""
    _listeners.append(listener)


def get(type_name: str):
    """The class registered under a qualified type name, or NotFoundError."""
    cls = _classes.get(type_name)
    if cls is None:
        raise UnknownTypeError(f"Unknown entity type: {type_name}")
    return cls


def find(type_name: str):
    """The class for a qualified name, or None."""
    try:
        return _classes[type_name]   # (a subscript: a third of get() on Kybra's RustPython)
    except KeyError:
        return None


_families = {}


def family(cls) -> list:
    """`cls` and every registered class derived from it (the current definition of each); cached
    until a type is (re)defined."""
    out = _families.get(cls)
    if out is None:
        out = [cls] + [k for k in _classes.values() if k is not cls and issubclass(k, cls)]
        _families[cls] = out
    return out


def all_types() -> list:
    """Registered type names, sorted."""
    return sorted(_classes)


def lookup(name: str, namespace):
    """Resolve a relation target: a qualified name exactly; else the same namespace, the un-namespaced
    type, or a unique class name."""
    if "::" in name:
        return _classes.get(name)
    if namespace and namespace + "::" + name in _classes:
        return _classes[namespace + "::" + name]
    if name in _classes:
        return _classes[name]
    short = [c for c in _classes.values() if c.__name__ == name]
    return short[0] if len(short) == 1 else None


def _union_part(target, name: str, owner):
    """The name of the part linking `owner` when `name` is a relation to several types on `target`."""
    union = target.__unions__.get(name)
    if union is None:
        return None
    for part_name in union.parts:
        if lookup(target.__relations__[part_name].target, target.__namespace__) is owner:
            return part_name
    raise ValidationError(f"{target.__type_name__}.{name} does not list {owner.__type_name__} among its "
                          "targets")


def _attach_reverse(rel, owner) -> None:
    target = rel.target_cls
    part = _union_part(target, rel.reverse, owner)
    if part is not None:
        rel.reverse = part      # the declared reverse is a relation to several types: link its part
    existing = target.__relations__.get(rel.reverse)
    if existing is not None and not existing.implicit:
        if rel.union is not None and existing.reverse == rel.union:
            existing.reverse = rel.name     # it names the relation to several types: link this part
        if existing.kind != rel.reverse_kind:
            raise ValidationError(
                f"{owner.__type_name__}.{rel.name} ({rel.kind}) needs {target.__type_name__}.{rel.reverse} "
                f"to be a {rel.reverse_kind}, not a {existing.kind}")
        named = lookup(existing.target, target.__namespace__)
        if (named is not owner and named is not None and issubclass(named, owner)
                and existing.reverse == rel.name):
            return      # declared on a base class; the reverse side names the subclass that inherits it
        if existing.reverse != rel.name or named is not owner:
            raise ValidationError(
                f"{owner.__type_name__}.{rel.name} and {target.__type_name__}.{rel.reverse} "
                f"do not name each other as reverse")
        return
    if existing is not None and existing.target_cls is owner and existing.reverse == rel.name:
        return
    if (existing is not None and existing.target_cls is not None and existing.target_cls is not owner
            and existing.reverse == rel.name and _classes.get(existing.target_cls.__type_name__)
            is existing.target_cls and (issubclass(owner, existing.target_cls)
                                        or issubclass(existing.target_cls, owner))):
        raise ValidationError(
            f"{owner.__type_name__}.{rel.name} is inherited, and {target.__type_name__}.{rel.reverse} "
            f"already links {existing.target_cls.__type_name__}: declare the reverse relation on "
            f"{target.__type_name__} naming the class it links")
    mirror = RELATION_KINDS[rel.reverse_kind](owner.__type_name__, rel.name)
    mirror.implicit = True
    mirror.__set_name__(target, rel.reverse)
    mirror.owner = target
    mirror.target_cls = owner
    target.__relations__[rel.reverse] = mirror
    setattr(target, rel.reverse, mirror)
    target._relations_changed()


def resolve_all() -> None:
    """Bind every declared relation to its target class (when defined) and add implicit reverses."""
    for cls in list(_classes.values()):
        for rel in list(cls.__relations__.values()):
            if rel.implicit:
                continue
            target = lookup(rel.target, cls.__namespace__)
            rel.owner = cls
            rel.target_cls = target
            if target is not None:
                _attach_reverse(rel, cls)
    for cls in list(_classes.values()):
        for name, rel in list(cls.__relations__.items()):
            if rel.implicit and (rel.target_cls is None or _classes.get(rel.target_cls.__type_name__)
                                 is not rel.target_cls or rel.reverse not in rel.target_cls.__relations__):
                del cls.__relations__[name]
                if cls.__dict__.get(name) is rel:
                    delattr(cls, name)
                cls._relations_changed()


def resolved(cls, name: str):
    """The relation `name` of `cls`, checked to have a defined target."""
    rel = cls.__relations__.get(name)
    if rel is None:
        rel = cls.__unions__.get(name)       # a relation to several types: its parts are checked on use
        if rel is not None:
            return rel
        raise NotFoundError(f"{cls.__type_name__} has no relation {name!r}")
    if rel.target_cls is None or _classes.get(rel.target_cls.__type_name__) is not rel.target_cls:
        resolve_all()
        if rel.target_cls is None:
            raise NotFoundError(f"relation {cls.__type_name__}.{name}: target {rel.target!r} is not defined")
    return rel


def clear() -> None:
    """Forget every registered class (tests; a canister defines its types once per process)."""
    _classes.clear()
    _families.clear()
