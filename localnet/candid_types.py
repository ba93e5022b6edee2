"""Candid types as read from a Kybra canister's source, and their Candid text (the `.did` syntax)."""

from __future__ import annotations

from dataclasses import dataclass, field

PRIMITIVES = (
    "null",
    "bool",
    "nat",
    "int",
    "nat8",
    "nat16",
    "nat32",
    "nat64",
    "int8",
    "int16",
    "int32",
    "int64",
    "float32",
    "float64",
    "text",
    "reserved",
    "empty",
    "principal",
)

KEYWORDS = frozenset(
    "blob bool composite_query empty float32 float64 func import int int8 int16 int32 int64 nat nat8 "
    "nat16 nat32 nat64 null oneway opt principal query record reserved service text type variant vec".split()
)


@dataclass(frozen=True)
class Prim:
    """A primitive type; `blob` is kept apart from `vec nat8` so it maps to Python bytes."""

    name: str


@dataclass(frozen=True)
class Opt:
    inner: CType


@dataclass(frozen=True)
class Vec:
    inner: CType


@dataclass(frozen=True)
class Record:
    """A record; a Python `Tuple[...]` is a record whose labels are 0, 1, ... (`tuple=True`)."""

    fields: tuple[tuple[str, CType], ...]
    tuple: bool = False


@dataclass(frozen=True)
class Variant:
    fields: tuple[tuple[str, CType], ...]


@dataclass(frozen=True)
class Ref:
    """A named type (Record/Variant class or alias), resolved through the interface's table."""

    name: str


@dataclass(frozen=True)
class ServiceRef:
    """A reference to another canister's service (a `Service` subclass): on the wire a principal."""

    name: str


@dataclass(frozen=True)
class Func:
    """A func reference type, Kybra's `Func(Query[[params], ret])`; values are `(Principal, method)` tuples.

    `mode` is the Candid annotation: "" (update), "query", "composite_query" or "oneway"."""

    params: tuple[CType, ...]
    returns: tuple[CType, ...]
    mode: str = ""


CType = Prim | Opt | Vec | Record | Variant | Ref | ServiceRef | Func
FUNC_MODES = ("", "query", "oneway", "composite_query")  # index = the annotation byte on the wire

BLOB = Prim("blob")
WIDTH = 100  # .did lines longer than this put a record's or variant's fields on their own lines


@dataclass(frozen=True)
class Method:
    """One canister method as declared in the source."""

    name: str
    kind: (
        str  # "query" | "update" | "init" | "pre_upgrade" | "post_upgrade" | "heartbeat" | "inspect_message"
    )
    params: tuple[CType, ...]
    returns: tuple[CType, ...]
    guard: str | None = None
    is_async: bool = False
    manual: bool = False
    module: str = ""


@dataclass
class Interface:
    """Everything the host needs from the source: methods in source order, named types, stable maps."""

    methods: dict[str, Method] = field(default_factory=dict)
    types: dict[str, CType] = field(default_factory=dict)
    services: dict[str, dict[str, Method]] = field(default_factory=dict)
    stable_maps: dict[int, StableMapDecl] = field(default_factory=dict)
    cache: dict = field(default_factory=dict, repr=False, compare=False)  # the codecs' compiled forms
    # Service name -> the canister's `Service` class: a decoded service reference becomes `Class(principal)`
    # as in Kybra; without it (outside the canister's process) the value is the Principal.
    service_classes: dict = field(default_factory=dict, repr=False, compare=False)

    def resolve(self, t: CType) -> CType:
        seen = 0
        while isinstance(t, Ref):
            t = self.types[t.name]
            seen += 1
            if seen > 1000:
                raise ValueError(f"type alias cycle at {t}")
        return t

    def lifecycle(self, kind: str) -> Method | None:
        for m in self.methods.values():
            if m.kind == kind:
                return m
        return None

    def public_methods(self) -> list[Method]:
        return [m for m in self.methods.values() if m.kind in ("query", "update")]


@dataclass(frozen=True)
class StableMapDecl:
    memory_id: int
    key: CType
    value: CType
    max_key_size: int
    max_value_size: int


def label_hash(name: str) -> int:
    """The Candid field id of a label: a number label is itself, otherwise the idl_hash of its UTF-8."""
    if name.isdigit():
        return int(name)
    h = 0
    for b in name.encode():
        h = (h * 223 + b) & 0xFFFFFFFF
    return h


def _ident(name: str) -> str:
    if name.isidentifier() and name.isascii() and name not in KEYWORDS:
        return name
    if name.isdigit():
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def type_text(t: CType) -> str:
    """Candid text of a type, using names for named types."""
    if isinstance(t, Prim):
        return t.name
    if isinstance(t, Ref | ServiceRef):
        return _ident(t.name)
    if isinstance(t, Opt):
        return "opt " + type_text(t.inner)
    if isinstance(t, Vec):
        return "vec " + type_text(t.inner)
    if isinstance(t, Record):
        if not t.fields:
            return "record {}"
        if t.tuple:
            return "record { " + "; ".join(type_text(ft) for _, ft in t.fields) + " }"
        return "record { " + "; ".join(f"{_ident(n)} : {type_text(ft)}" for n, ft in t.fields) + " }"
    if isinstance(t, Variant):
        if not t.fields:
            return "variant {}"
        parts = [_ident(n) if ft == Prim("null") else f"{_ident(n)} : {type_text(ft)}" for n, ft in t.fields]
        return "variant { " + "; ".join(parts) + " }"
    if isinstance(t, Func):
        return "func " + signature_text(t.params, t.returns, t.mode)
    raise TypeError(f"not a Candid type: {t!r}")


def signature_text(params: tuple[CType, ...], returns: tuple[CType, ...], mode: str) -> str:
    """`(params) -> (returns) mode`, the Candid text of a method's or a func type's signature."""
    text = f"({', '.join(type_text(p) for p in params)}) -> ({', '.join(type_text(r) for r in returns)})"
    return f"{text} {mode}" if mode else text


def _sig(m: Method) -> str:
    return signature_text(m.params, m.returns, "query" if m.kind == "query" else "")


def _used_names(iface: Interface, roots: list[CType]) -> set[str]:
    used: set[str] = set()
    stack = list(roots)
    while stack:
        t = stack.pop()
        if isinstance(t, Ref):
            if t.name not in used:
                used.add(t.name)
                stack.append(iface.types[t.name])
        elif isinstance(t, ServiceRef):
            if t.name not in used:
                used.add(t.name)
                for m in iface.services.get(t.name, {}).values():
                    stack.extend(m.params + m.returns)
        elif isinstance(t, Opt | Vec):
            stack.append(t.inner)
        elif isinstance(t, Record | Variant):
            stack.extend(ft for _, ft in t.fields)
        elif isinstance(t, Func):
            stack.extend(t.params + t.returns)
    return used


def _definition(name: str, t: CType) -> str:
    """`type Name = ...;`, with a long record's or variant's fields one per line."""
    line = f"type {_ident(name)} = {type_text(t)};"
    tuple_like = isinstance(t, Record) and t.tuple
    if len(line) <= WIDTH or not isinstance(t, Record | Variant) or not t.fields or tuple_like:
        return line
    keyword = "record" if isinstance(t, Record) else "variant"
    body = [
        f"  {_ident(n)};"
        if isinstance(t, Variant) and ft == Prim("null")
        else f"  {_ident(n)} : {type_text(ft)};"
        for n, ft in t.fields
    ]
    return f"type {_ident(name)} = {keyword} {{\n" + "\n".join(body) + "\n};"


def did_text(iface: Interface) -> str:
    """The service's `.did`: the named types it uses (in source order), then the methods in source order."""
    public = iface.public_methods()
    init = iface.lifecycle("init")
    roots: list[CType] = [t for m in public for t in m.params + m.returns]
    if init:
        roots.extend(init.params)
    used = _used_names(iface, roots)
    lines = []
    for name in list(iface.types) + list(iface.services):
        if name not in used:
            continue
        if name in iface.services:
            body = "; ".join(f"{_ident(m.name)} : {_sig(m)}" for m in iface.services[name].values())
            lines.append(
                f"type {_ident(name)} = service {{ {body} }};"
                if body
                else f"type {_ident(name)} = service {{}};"
            )
        else:
            lines.append(_definition(name, iface.types[name]))
    init_part = "(" + ", ".join(type_text(p) for p in init.params) + ") -> " if init and init.params else ""
    lines.append(f"service : {init_part}{{")
    for m in public:
        lines.append(f"  {_ident(m.name)} : {_sig(m)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
