"""Candid's subtype relation between a message's wire types and the declared types (the spec's rules).

The decoder needs it where the spec's coercion depends on types rather than values: a value under an
`opt` whose type does not fit becomes null (decided once per pair of types instead of by decoding and
backtracking), and func and service references whose types must be subtypes of the declared ones.
Both sides are viewed alike: a wire type is an int (a type code), a declared type a `CType`.
Recursive types are handled coinductively (a pair being checked is assumed to hold), each pair is
decided once per message and costs one work unit.
"""

from __future__ import annotations

from typing import Any

from localnet.candid_reader import Reader
from localnet.candid_table import FUTURE, WireTable
from localnet.candid_types import (
    CType,
    Func,
    Interface,
    Opt,
    Prim,
    Record,
    Ref,
    ServiceRef,
    Variant,
    Vec,
    label_hash,
)
from localnet.candid_wire import CODE_NAMES, FUNC, MAX_DEPTH, OPT, RECORD, SERVICE, VARIANT, VEC, CandidError

Node = int | CType
NAT8 = Prim("nat8")
KIND_MODES = {"query": "query", "update": "", "oneway": "oneway", "composite_query": "composite_query"}


class Subtyping:
    """`is_sub(a, b)` for the types of one message and one interface; results kept for the message."""

    def __init__(self, table: WireTable, iface: Interface, reader: Reader):
        self.table = table
        self.iface = iface
        self.reader = reader
        self.memo: dict[tuple[Any, Any], bool] = {}
        self.depth = 0

    def view(self, node: Node) -> tuple:
        """One shape for both sides: ("prim", name), ("opt", n), ("vec", n), ("record", {id: n}),
        ("variant", {id: n}), ("func", params, results, annotations), ("service", {name: n}), ("future",)."""
        if isinstance(node, int):
            if node < 0:
                return ("prim", CODE_NAMES[node])
            op, data = self.table.entries[node]
            if op == OPT:
                return ("opt", data)
            if op == VEC:
                return ("vec", data)
            if op == RECORD:
                return ("record", dict(data))
            if op == VARIANT:
                return ("variant", dict(data))
            if op == FUNC:
                return ("func", data[0], data[1], data[2])
            if op == SERVICE:
                return ("service", dict(data))
            return (FUTURE,)
        key = ("view", node)
        found = self.iface.cache.get(key)
        if found is None:
            found = self.iface.cache[key] = self._declared_view(node)
        return found

    def _declared_view(self, t: CType) -> tuple:
        t = self.iface.resolve(t)
        if isinstance(t, Prim):
            return ("vec", NAT8) if t.name == "blob" else ("prim", t.name)
        if isinstance(t, Opt):
            return ("opt", t.inner)
        if isinstance(t, Vec):
            return ("vec", t.inner)
        if isinstance(t, Record):
            return ("record", {label_hash(n): ft for n, ft in t.fields})
        if isinstance(t, Variant):
            return ("variant", {label_hash(n): ft for n, ft in t.fields})
        if isinstance(t, Func):
            return ("func", t.params, t.returns, frozenset([t.mode]) - {""})
        if isinstance(t, ServiceRef):
            methods = self.iface.services.get(t.name, {})
            return (
                "service",
                {m.name: Func(m.params, m.returns, KIND_MODES.get(m.kind, "")) for m in methods.values()},
            )
        raise CandidError(f"not a Candid type: {t!r}")

    def nullish(self, node: Node) -> bool:
        """`null <: t`: t is null, reserved or an opt (a field or argument that may be absent)."""
        v = self.view(node)
        return v[0] == "opt" or v in (("prim", "null"), ("prim", "reserved"))

    def is_sub(self, a: Node, b: Node) -> bool:
        if isinstance(b, Ref):
            b = self.iface.resolve(b)
        key = (a, b)
        found = self.memo.get(key)
        if found is not None:
            return found
        self.reader.charge(1)
        self.memo[key] = True  # coinduction: a recursive occurrence of this pair is assumed to hold
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise CandidError("Candid types nested too deeply")
            ok = self._sub(self.view(a), self.view(b))
        finally:
            self.depth -= 1
        if not ok:
            self.memo[key] = False
        return ok

    def _sub(self, va: tuple, vb: tuple) -> bool:
        kind_b = vb[0]
        if vb == ("prim", "reserved") or va == ("prim", "empty"):
            return True
        if kind_b == "opt":
            return True  # null, reserved, opt and every other type are subtypes of an opt (the opt rules)
        kind_a = va[0]
        if kind_b == "prim":
            if kind_a == "prim":
                return va[1] == vb[1] or (va[1], vb[1]) == ("nat", "int")
            return kind_a == "service" and vb[1] == "principal"
        if kind_a != kind_b:
            return False
        if kind_a == "vec":
            return self.is_sub(va[1], vb[1])
        if kind_a == "record":
            have = va[1]
            for fid, tb in vb[1].items():
                ta = have.get(fid)
                if ta is None:
                    if not self.nullish(tb):
                        return False
                elif not self.is_sub(ta, tb):
                    return False
            return True
        if kind_a == "variant":
            allowed = vb[1]
            return all(fid in allowed and self.is_sub(ta, allowed[fid]) for fid, ta in va[1].items())
        if kind_a == "func":
            return va[3] == vb[3] and self._args_sub(vb[1], va[1]) and self._args_sub(va[2], vb[2])
        if kind_a == "service":
            have = va[1]
            return all(name in have and self.is_sub(have[name], fb) for name, fb in vb[1].items())
        return False

    def _args_sub(self, sub: tuple, sup: tuple) -> bool:
        """Argument or result sequences compare like tuple records: a missing one must be nullish."""
        for i, t in enumerate(sup):
            if i < len(sub):
                if not self.is_sub(sub[i], t):
                    return False
            elif not self.nullish(t):
                return False
        return True
