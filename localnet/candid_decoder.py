"""Typed Candid decoding: the message's values are read at their wire types and coerced to the declared
types by the spec's rules, within a work budget linear in the message's size.

Values come out in Kybra's mapping (see candid_encoder). Coercion follows the spec: extra record
fields and arguments are skipped (and still checked), missing opt/null/reserved fields and arguments
are None, nat is accepted for int and a service for a principal, a value under an opt whose type is
not a subtype of the opt's content is None (decided on the types, so nothing is decoded twice), and
func and service references must have subtypes of the declared types. Malformed bytes are errors even
where the value is skipped (bool and opt bytes, UTF-8, lengths, variant indexes).
"""

from __future__ import annotations

import struct
from typing import Any

from kybra import Principal

from localnet.candid_reader import Reader
from localnet.candid_subtype import Subtyping
from localnet.candid_table import FIXED_SIZES, read_table
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
    type_text,
)
from localnet.candid_wire import (
    CODE_NAMES,
    FIXED,
    FUNC,
    MAGIC,
    MAX_DEPTH,
    OPT,
    PRIM_CODES,
    RECORD,
    SERVICE,
    VARIANT,
    VEC,
    CandidError,
)

NAT8, NULLISH_OPS = PRIM_CODES["nat8"], (PRIM_CODES["null"], PRIM_CODES["reserved"])
KIND_NAMES = {OPT: "opt", VEC: "vec", RECORD: "record", VARIANT: "variant", FUNC: "func", SERVICE: "service"}


class TypeMismatch(CandidError):
    """The wire type does not fit the declared one (as opposed to malformed bytes)."""


class _Decoder:
    def __init__(self, data: bytes, iface: Interface):
        if data[:4] != MAGIC:
            raise CandidError("not a Candid message (missing DIDL magic)")
        self.r = Reader(data)
        self.r.pos = 4
        self.table = read_table(self.r)
        self.entries = self.table.entries
        self.iface = iface
        self.sub = Subtyping(self.table, iface, self.r)
        self.depth = 0

    # -- skipping -----------------------------------------------------------------------------------------

    def skip(self, code: int) -> None:
        """Read past one value of wire type `code`, checking its bytes; charged to the skipping quota."""
        r = self.r
        r.charge_skip(1)
        if code < 0:
            self._skip_prim(code)
            return
        zero = self.table.zero_nodes(code)
        if zero is not None:
            r.charge_skip(zero)  # no bytes to read: count its values instead of visiting them
            return
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CandidError("Candid value nested too deeply")
        op, data = self.entries[code]
        if op == OPT:
            if r.flag("opt"):
                self.skip(data)
        elif op == VEC:
            self._skip_vec(data)
        elif op == RECORD:
            for _, ft in data:
                self.skip(ft)
        elif op == VARIANT:
            self.skip(data[self._variant_index(data)][1])
        elif op == FUNC:
            self._func_ref()
        elif op == SERVICE:
            self._principal("service")
        else:  # a future type: byte count, reference count, bytes
            size, refs = r.uleb(), r.uleb()
            if refs:
                raise CandidError("future values with references are not supported")
            r.take(size)
        self.depth -= 1

    def _skip_prim(self, code: int) -> None:
        r = self.r
        size = FIXED_SIZES.get(code)
        if size is not None:
            if code == -2:
                r.flag("bool")
            else:
                r.take(size)
        elif code in (-3, -4):
            r.uleb()
        elif code == -15:
            _text(self)
        elif code == -24:
            self._principal("principal")
        else:
            raise CandidError("a value of type empty cannot be decoded")

    def _skip_vec(self, elem: int) -> None:
        r = self.r
        zero = self.table.zero_nodes(elem)
        if zero is not None:
            r.charge_skip(r.uleb() * zero)
            return
        n = r.count("vector length", self.table.min_size(elem))
        size = FIXED_SIZES.get(elem)
        if size is not None:
            r.charge_skip(n)
            chunk = r.take(n * size)
            if elem == -2 and chunk.translate(None, b"\x00\x01"):
                raise CandidError("invalid bool byte in a vector")
            return
        for _ in range(n):
            self.skip(elem)

    # -- references ---------------------------------------------------------------------------------------

    def _principal(self, what: str) -> bytes:
        r = self.r
        flag = r.byte()
        if flag != 1:
            raise CandidError(f"invalid {what} tag" if flag else f"opaque {what} reference not supported")
        n = r.uleb()
        if n > 29:
            raise CandidError("principal longer than 29 bytes")
        return r.take(n)

    def _func_ref(self) -> tuple[Principal, str]:
        """A public func reference: tag 1, the service (a principal), the method name."""
        flag = self.r.byte()
        if flag != 1:
            raise CandidError(f"invalid func tag {flag}" if flag else "opaque func reference not supported")
        service = Principal(bytes=self._principal("service"))
        return service, _text(self)

    def _variant_index(self, data: tuple) -> int:
        i = self.r.uleb()
        if i >= len(data):
            raise CandidError("variant index out of range")
        return i

    # -- typed values -------------------------------------------------------------------------------------

    def value(self, code: int, t: CType) -> Any:
        r = self.r
        r.decode_left -= 1
        if r.decode_left < 0:
            r.charge(0)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CandidError("Candid value nested too deeply")
        try:
            if type(t) is Ref:
                t = self.iface.resolve(t)
            if type(t) is Prim:
                if code < 0 and code == PRIM_CODES.get(t.name):
                    fast = FAST.get(code)
                    if fast is not None:
                        return fast(self)
                return self._prim(code, t.name)
            return self._composite(code, t)
        finally:
            self.depth -= 1

    def _composite(self, code: int, t: CType) -> Any:
        op = code if code < 0 else self.entries[code][0]
        data = None if code < 0 else self.entries[code][1]
        if isinstance(t, Opt):
            return self._opt(code, op, data, t)
        if op == PRIM_CODES["empty"]:
            raise CandidError("a value of type empty cannot be decoded")
        if isinstance(t, Vec):
            if op != VEC:
                raise TypeMismatch(f"expected vec, got {self._name(code)}")
            return self._vec(data, t.inner)
        if isinstance(t, Record):
            if op != RECORD:
                raise TypeMismatch(f"expected record, got {self._name(code)}")
            return self._record(data, t)
        if isinstance(t, Variant):
            if op != VARIANT:
                raise TypeMismatch(f"expected variant, got {self._name(code)}")
            h, ft = data[self._variant_index(data)]
            field = self._fields(t)[0].get(h)
            if field is None:
                raise TypeMismatch(f"unexpected variant tag (id {h})")
            try:
                return {field[0]: self.value(ft, field[1])}
            except CandidError as e:
                raise e.at("." + field[0]) from None
        if isinstance(t, Func):
            if op != FUNC or not self.sub.is_sub(code, t):
                raise TypeMismatch(f"expected {type_text(t)}, got a {self._name(code)} of another type")
            return self._func_ref()
        if isinstance(t, ServiceRef):
            if op != SERVICE or not self.sub.is_sub(code, t):
                raise TypeMismatch(f"expected service {t.name}, got {self._name(code)}")
            service = Principal(bytes=self._principal("service"))
            cls = self.iface.service_classes.get(t.name)
            return cls(service) if cls is not None else service
        raise CandidError(f"unsupported type {t!r}")

    def _opt(self, code: int, op: int, data: Any, t: Opt) -> Any:
        """The spec's opt coercion: null/reserved give None; an opt's content, or any other value, is
        decoded at the content type if it coerces to it, else skipped (and checked) and None."""
        if op in NULLISH_OPS:
            return None
        if op == OPT:
            if not self.r.flag("opt"):
                return None
            code = data
        if self.sub.is_sub(code, t.inner):
            return self.value(code, t.inner)
        # Not a subtype, yet this value may still coerce (a variant whose other tags do not fit): try it,
        # and on a type mismatch read past it instead. The attempt's work stays charged, so retries
        # cannot multiply the work beyond the budget.
        start, depth = self.r.pos, self.depth
        try:
            return self.value(code, t.inner)
        except TypeMismatch:
            self.r.pos, self.depth = start, depth
        self.skip(code)
        return None

    def _vec(self, elem: int, inner: CType) -> list[Any]:
        r = self.r
        zero = self.table.zero_nodes(elem)
        if zero is not None:
            n = r.uleb()
            r.charge(n * zero)  # values of no bytes: paid for before any is built
        else:
            n = r.count("vector length", self.table.min_size(elem))
        items: list[Any] = []
        try:
            for _ in range(n):
                items.append(self.value(elem, inner))
        except CandidError as e:
            raise e.at(f"[{len(items)}]") from None
        return items

    def _record(self, data: tuple, t: Record) -> Any:
        wanted, optional = self._fields(t)
        got: dict[str, Any] = {}
        for h, ft in data:
            field = wanted.get(h)
            if field is None:
                self.skip(ft)
                continue
            try:
                got[field[0]] = self.value(ft, field[1])
            except CandidError as e:
                raise e.at("." + field[0]) from None
        if len(got) < len(t.fields):
            for name, _ in t.fields:
                if name not in got:
                    if name not in optional:
                        raise TypeMismatch(f"record field '{name}' missing")
                    got[name] = None
        if t.tuple:
            return tuple(got[name] for name, _ in t.fields)
        return {name: got[name] for name, _ in t.fields}

    def _fields(self, t: Record | Variant) -> tuple[dict[int, tuple[str, CType]], set[str]]:
        """Field id -> (name, type), and the names that may be absent (opt, null, reserved); cached."""
        key = ("fields", t)
        found = self.iface.cache.get(key)
        if found is None:
            wanted = {label_hash(n): (n, ft) for n, ft in t.fields}
            optional = {n for n, ft in t.fields if self.sub.nullish(ft)}
            found = self.iface.cache[key] = (wanted, optional)
        return found

    def _name(self, code: int) -> str:
        op = code if code < 0 else self.entries[code][0]
        return CODE_NAMES.get(op) or KIND_NAMES.get(op, "future type")

    def _prim(self, code: int, name: str) -> Any:
        r = self.r
        op = code if code < 0 else self.entries[code][0]
        if name == "reserved":
            self.skip(code)
            return None
        if name == "blob":
            if op != VEC:
                raise TypeMismatch(f"expected blob, got {self._name(code)}")
            elem = self.entries[code][1]
            if elem == NAT8:
                return r.take(r.count("blob length"))
            if not self.sub.is_sub(elem, Prim("nat8")):
                raise TypeMismatch(f"expected blob, got vec {self._name(elem)}")
            return bytes(self._vec(elem, Prim("nat8")))
        if op == PRIM_CODES["empty"]:
            raise CandidError("a value of type empty cannot be decoded")
        if name == "empty":
            raise TypeMismatch(f"expected empty, got {self._name(code)}")
        if name == "principal" and op == SERVICE:
            return Principal(bytes=self._principal("service"))  # service <: principal
        wire = CODE_NAMES.get(op)
        if wire != name and not (name == "int" and wire == "nat"):
            raise TypeMismatch(f"expected {name}, got {self._name(code)}")
        if wire in FIXED:
            size, signed = FIXED[wire]
            return int.from_bytes(r.take(size), "little", signed=signed)
        if wire == "float32":
            return struct.unpack("<f", r.take(4))[0]
        return FAST[op](self)


def decode(data: bytes, types: tuple[CType, ...] | list[CType], iface: Interface) -> list[Any]:
    """Decode a Candid message against the declared `types`; raises CandidError on any mismatch."""
    return decode_counted(data, types, iface)[0]


def decode_counted(
    data: bytes, types: tuple[CType, ...] | list[CType], iface: Interface
) -> tuple[list[Any], int]:
    """`decode`, and the work units it took (deterministic, for tests and benchmarks). A CandidError
    raised while decoding carries `work`, the units charged until then."""
    d = _Decoder(bytes(data), iface)
    try:
        return _decode_args(d, types, iface)
    except CandidError as e:
        e.work = d.r.used
        raise


def _decode_args(
    d: _Decoder, types: tuple[CType, ...] | list[CType], iface: Interface
) -> tuple[list[Any], int]:
    args = d.table.args
    out = []
    for i, t in enumerate(types):
        if i < len(args):
            try:
                out.append(d.value(args[i], t))
            except CandidError as e:
                e.root = f"argument {i + 1}"
                if not e.trail:
                    e.trail.append("")
                raise
        elif d.sub.nullish(t):
            out.append(None)
        else:
            raise CandidError(f"expected {len(types)} arguments, got {len(args)}")
    for code in args[len(types) :]:
        d.skip(code)
    if d.r.pos != len(d.r.data):
        raise CandidError("trailing bytes after Candid values")
    return out, d.r.used


def _text(d: _Decoder) -> str:
    r = d.r
    try:
        return r.take(r.count("text length")).decode()
    except UnicodeDecodeError:
        raise CandidError("text is not valid UTF-8") from None


def _bool(d: _Decoder) -> bool:
    return d.r.flag("bool") == 1


FAST = {
    PRIM_CODES["text"]: _text,
    PRIM_CODES["nat64"]: lambda d: int.from_bytes(d.r.take(8), "little"),
    PRIM_CODES["nat"]: lambda d: d.r.uleb(),
    PRIM_CODES["int"]: lambda d: d.r.sleb(),
    PRIM_CODES["bool"]: _bool,
    PRIM_CODES["float64"]: lambda d: struct.unpack("<d", d.r.take(8))[0],
    PRIM_CODES["principal"]: lambda d: Principal(bytes=d._principal("principal")),
    PRIM_CODES["null"]: lambda d: None,
}
