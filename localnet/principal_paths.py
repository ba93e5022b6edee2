"""Where `Principal`s can sit in a Candid type, as a small plan the rustpython guest follows.

Values cross between host and guest in RustPython's `marshal` format, which has no `Principal`: the
guest turns each one into a frozenset of its bytes. Walking a whole reply in Python for that costs the
guest about as much as the endpoint's own work, where Kybra on the IC converts the reply natively by its
declared type. So the host sends, with each call, the paths of the return type that can hold a principal
and the guest converts just those (anything the plan misses makes `marshal` fail, and the guest then
walks the whole value as before, so the result is the same either way).

A plan is None (no principal below) or a tuple: `("P",)` a principal (or service reference) here;
`("r", {name: plan})` a record's or variant's entries by name; `("t", ((index, plan), ...))` a tuple's
(or func reference's) positions; `("o", plan)` an opt's value; `("v", plan)` each element of a vec;
`("W",)` a recursive type holding principals, walked whole.
"""

from __future__ import annotations

from typing import Any

from kybra import Principal

from localnet.candid_types import CType, Func, Interface, Opt, Prim, Record, Ref, ServiceRef, Variant, Vec

PRINCIPAL = ("P",)
WALK = ("W",)


def reply_plan(iface: Interface, returns: tuple[CType, ...]) -> tuple | None:
    """The plan of a method's reply (the value of its single return type; None when it has none)."""
    if len(returns) != 1:
        return None
    key = ("principal_plan", returns[0])
    if key not in iface.cache:
        iface.cache[key] = _plan(iface, returns[0], ())
    return iface.cache[key]


def _plan(iface: Interface, t: CType, path: tuple[str, ...]) -> tuple | None:
    if isinstance(t, Ref):
        if t.name in path:  # recursive: walk it whole if it can hold a principal at all
            return WALK if _holds(iface, t, set()) else None
        return _plan(iface, iface.types[t.name], (*path, t.name))
    if isinstance(t, Prim):
        return PRINCIPAL if t.name == "principal" else None
    if isinstance(t, ServiceRef):
        return PRINCIPAL
    if isinstance(t, Func):
        return ("t", ((0, PRINCIPAL),))
    if isinstance(t, Opt | Vec):
        inner = _plan(iface, t.inner, path)
        return None if inner is None else ("o" if isinstance(t, Opt) else "v", inner)
    if isinstance(t, Record) and t.tuple:
        items = tuple((int(name), p) for name, ft in t.fields if (p := _plan(iface, ft, path)) is not None)
        return ("t", items) if items else None
    if isinstance(t, Record | Variant):
        entries = {name: p for name, ft in t.fields if (p := _plan(iface, ft, path)) is not None}
        return ("r", entries) if entries else None
    return None


def _holds(iface: Interface, t: CType, seen: set[str]) -> bool:
    """Whether a value of type `t` can contain a principal."""
    if isinstance(t, Ref):
        if t.name in seen:
            return False
        seen.add(t.name)
        return _holds(iface, iface.types[t.name], seen)
    if isinstance(t, ServiceRef | Func):
        return True
    if isinstance(t, Prim):
        return t.name == "principal"
    if isinstance(t, Opt | Vec):
        return _holds(iface, t.inner, seen)
    if isinstance(t, Record | Variant):
        return any(_holds(iface, ft, seen) for _, ft in t.fields)
    return False


def holds_principal(value: Any) -> bool:
    """Whether a decoded value contains a Principal (the guest converts arguments only when one does)."""
    if isinstance(value, Principal):
        return True
    if isinstance(value, dict):
        return any(holds_principal(x) for x in value.values())
    if isinstance(value, list | tuple):
        return any(holds_principal(x) for x in value)
    return False
