"""Typed Candid decoding: the message's wire types are read and converted to the declared types.

Values come out in Kybra's mapping (see candid_encoder). The subtyping rules that matter in practice
are applied: extra record fields are skipped, missing opt/null/reserved fields and trailing opt
arguments are None, nat is accepted for int, a non-opt value for an opt type (opt coercion).
"""

from __future__ import annotations

import struct
from typing import Any

from kybra import Principal

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
from localnet.candid_wire import (
    CODE_NAMES,
    FIXED,
    FUNC,
    MAGIC,
    MAX_DEPTH,
    MAX_TABLE,
    OPT,
    PRIM_CODES,
    RECORD,
    SERVICE,
    VARIANT,
    VEC,
    CandidError,
)


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise CandidError("unexpected end of Candid message")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise CandidError("unexpected end of Candid message")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self) -> int:
        return self._leb(signed=False)

    def sleb(self) -> int:
        return self._leb(signed=True)

    def _leb(self, signed: bool) -> int:
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if signed and b & 0x40:
                    result -= 1 << shift
                return result


class _Decoder:
    def __init__(self, data: bytes, iface: Interface):
        self.r = _Reader(data)
        self.iface = iface
        if self.r.data[:4] != MAGIC:
            raise CandidError("not a Candid message (missing DIDL magic)")
        self.r.pos = 4
        self.table: list[tuple[int, Any]] = []
        n = self.r.uleb()
        if n > MAX_TABLE:
            raise CandidError("Candid type table too large")
        for _ in range(n):
            self.table.append(self._table_entry())
        for op, data in self.table:
            refs = [data] if op in (OPT, VEC) else [t for _, t in data] if op in (RECORD, VARIANT) else []
            if op == FUNC:
                refs = data[0] + data[1]
            for ref in refs:
                self._check_code(ref)
        count = self.r.uleb()
        if count > MAX_TABLE:
            raise CandidError("too many Candid arguments")
        self.args = [self.r.sleb() for _ in range(count)]
        for a in self.args:
            self._check_code(a)
        self.depth = 0

    def _check_code(self, code: int) -> None:
        if code >= len(self.table) or (code < 0 and code not in CODE_NAMES):
            raise CandidError(f"invalid Candid type code {code}")

    def _table_entry(self) -> tuple[int, Any]:
        op = self.r.sleb()
        if op in (OPT, VEC):
            return op, self.r.sleb()
        if op in (RECORD, VARIANT):
            fields = []
            prev = -1
            for _ in range(self.r.uleb()):
                h = self.r.uleb()
                if h <= prev or h >= 1 << 32:
                    raise CandidError("Candid field ids not strictly increasing")
                prev = h
                fields.append((h, self.r.sleb()))
            return op, fields
        if op == FUNC:
            args = [self.r.sleb() for _ in range(self._count())]
            rets = [self.r.sleb() for _ in range(self._count())]
            return op, (args, rets, self.r.take(self.r.uleb()))
        if op == SERVICE:
            for _ in range(self.r.uleb()):
                self.r.take(self.r.uleb())
                self.r.sleb()
            return op, None
        raise CandidError(f"unsupported Candid type opcode {op}")

    def _count(self) -> int:
        n = self.r.uleb()
        if n > MAX_TABLE:
            raise CandidError("Candid type table entry too large")
        return n

    def entry(self, code: int) -> tuple[int, Any]:
        if code < 0:
            return code, None
        return self.table[code]

    def skip(self, code: int) -> None:
        self._nest()
        op, data = self.entry(code)
        r = self.r
        if op in (-1, -16):
            pass
        elif op == -2:
            r.byte()
        elif op == -3:
            r.uleb()
        elif op == -4:
            r.sleb()
        elif op in (-5, -9):
            r.take(1)
        elif op in (-6, -10):
            r.take(2)
        elif op in (-7, -11, -13):
            r.take(4)
        elif op in (-8, -12, -14):
            r.take(8)
        elif op == -15:
            _text(self)  # skipped text must still be valid UTF-8
        elif op == -24:
            self._principal()
        elif op == OPT:
            if r.byte():
                self.skip(data)
        elif op == VEC:
            n = r.uleb()
            if data == -5:
                r.take(n)
            else:
                self._bound(n)
                for _ in range(n):
                    self.skip(data)
        elif op == RECORD:
            for _, ft in data:
                self.skip(ft)
        elif op == VARIANT:
            i = r.uleb()
            if i >= len(data):
                raise CandidError("variant index out of range")
            self.skip(data[i][1])
        elif op == SERVICE:
            self._principal()
        elif op == FUNC:
            self._func_ref()
        else:
            raise CandidError("a value of type empty cannot be decoded")
        self.depth -= 1

    def _nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CandidError("Candid value nested too deeply")

    def _bound(self, n: int) -> None:
        if n > len(self.r.data) - self.r.pos + 1 and n > 1_000_000:
            raise CandidError("Candid vector length exceeds message")

    def _principal(self) -> bytes:
        if self.r.byte() != 1:
            raise CandidError("opaque principal reference not supported")
        n = self.r.uleb()
        if n > 29:
            raise CandidError("principal longer than 29 bytes")
        return self.r.take(n)

    def _func_ref(self) -> tuple[Principal, str]:
        """A public func reference: flag 1, the service (a principal), the method name."""
        flag = self.r.byte()
        if flag != 1:
            raise CandidError(f"invalid func flag {flag}" if flag else "opaque func reference not supported")
        service = Principal(bytes=self._principal())
        return service, _text(self)

    def value(self, code: int, t: CType) -> Any:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CandidError("Candid value nested too deeply")
        try:
            if type(t) is Ref:
                t = self.iface.resolve(t)
            if type(t) is Prim:
                op = code if code < 0 else self.table[code][0]
                if op == PRIM_CODES.get(t.name):
                    fast = FAST.get(op)
                    if fast is not None:
                        return fast(self)
                return self._value(code, t)
            return self._value(code, t)
        finally:
            self.depth -= 1

    def _value(self, code: int, t: CType) -> Any:
        op, data = self.entry(code)
        r = self.r
        if isinstance(t, Prim) and t.name == "reserved":
            self.skip(code)
            return None
        if isinstance(t, Opt):
            if op in (-1, -16):
                self.skip(code)
                return None
            if op == OPT:
                flag = r.byte()
                if flag > 1:
                    raise CandidError(f"invalid opt flag {flag}")
                return self._coerced(data, t.inner) if flag else None
            inner = self.iface.resolve(t.inner)
            if isinstance(inner, Opt) or (isinstance(inner, Prim) and inner.name in ("null", "reserved")):
                self.skip(code)
                return None
            return self._coerced(code, inner)
        if isinstance(t, Prim):
            return self._prim(op, data, t.name)
        if isinstance(t, Vec):
            if op != VEC:
                raise TypeMismatch(f"expected vec, got {self._name(code)}")
            n = r.uleb()
            self._bound(n)
            inner_t = t.inner
            items: list[Any] = []
            try:
                for _ in range(n):
                    items.append(self.value(data, inner_t))
            except CandidError as e:
                raise e.at(f"[{len(items)}]") from None
            return items
        if isinstance(t, Record):
            if op != RECORD:
                raise TypeMismatch(f"expected record, got {self._name(code)}")
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
        if isinstance(t, Variant):
            if op != VARIANT:
                raise TypeMismatch(f"expected variant, got {self._name(code)}")
            i = r.uleb()
            if i >= len(data):
                raise CandidError("variant index out of range")
            h, ft = data[i]
            field = self._fields(t)[0].get(h)
            if field is None:
                raise TypeMismatch(f"unexpected variant tag (id {h})")
            try:
                return {field[0]: self.value(ft, field[1])}
            except CandidError as e:
                raise e.at("." + field[0]) from None
        if isinstance(t, Func):
            if op != FUNC:
                raise TypeMismatch(f"expected func, got {self._name(code)}")
            return self._func_ref()
        if isinstance(t, ServiceRef):
            if op not in (SERVICE, -24):
                raise TypeMismatch(f"expected service, got {self._name(code)}")
            service = Principal(bytes=self._principal())
            cls = self.iface.service_classes.get(t.name)
            return cls(service) if cls is not None else service
        raise CandidError(f"unsupported type {t!r}")

    def _coerced(self, code: int, t: CType) -> Any:
        """Candid's opt rule: a value whose type does not fit the opt's content decodes as None."""
        start, depth = self.r.pos, self.depth
        try:
            return self.value(code, t)
        except TypeMismatch:
            self.r.pos, self.depth = start, depth
            self.skip(code)
            return None

    def _fields(self, t: Record | Variant) -> tuple[dict[int, tuple[str, CType]], set[str]]:
        """Field id -> (name, type), and the names that may be absent (opt, null, reserved); cached."""
        key = ("fields", t)
        found = self.iface.cache.get(key)
        if found is None:
            wanted = {label_hash(n): (n, ft) for n, ft in t.fields}
            optional = set()
            for n, ft in t.fields:
                target = self.iface.resolve(ft)
                if isinstance(target, Opt) or target in (Prim("null"), Prim("reserved")):
                    optional.add(n)
            found = self.iface.cache[key] = (wanted, optional)
        return found

    def _name(self, code: int) -> str:
        op, _ = self.entry(code)
        return CODE_NAMES.get(op) or {
            OPT: "opt",
            VEC: "vec",
            RECORD: "record",
            VARIANT: "variant",
            FUNC: "func",
            SERVICE: "service",
        }.get(op, str(op))

    def _prim(self, op: int, data: Any, name: str) -> Any:
        r = self.r
        if name == "blob":
            if op != VEC or data != -5:
                raise TypeMismatch(f"expected blob, got {self._name(op if op < 0 else op)}")
            return r.take(r.uleb())
        wire = CODE_NAMES.get(op)
        if wire != name and not (name == "int" and wire == "nat"):
            raise TypeMismatch(f"expected {name}, got {wire or self._name(op)}")
        if wire == "text":
            try:
                return r.take(r.uleb()).decode()
            except UnicodeDecodeError:
                raise CandidError("text is not valid UTF-8") from None
        if wire in FIXED:
            size, signed = FIXED[wire]
            return int.from_bytes(r.take(size), "little", signed=signed)
        if wire == "nat":
            return r.uleb()
        if wire == "int":
            return r.sleb()
        if wire == "bool":
            b = r.byte()
            if b > 1:
                raise CandidError(f"invalid bool byte {b}")
            return b == 1
        if wire == "float64":
            return struct.unpack("<d", r.take(8))[0]
        if wire == "float32":
            return struct.unpack("<f", r.take(4))[0]
        if wire == "principal":
            return Principal(bytes=self._principal())
        if wire == "null":
            return None
        raise CandidError(f"a value of type {wire} cannot be decoded")


def decode(data: bytes, types: tuple[CType, ...] | list[CType], iface: Interface) -> list[Any]:
    """Decode a Candid message against the declared `types`; raises CandidError on any mismatch."""
    d = _Decoder(bytes(data), iface)
    out = []
    for i, t in enumerate(types):
        if i < len(d.args):
            try:
                out.append(d.value(d.args[i], t))
            except CandidError as e:
                e.root = f"argument {i + 1}"
                if not e.trail:
                    e.trail.append("")
                raise
        else:
            target = iface.resolve(t)
            if isinstance(target, Opt) or target in (Prim("null"), Prim("reserved")):
                out.append(None)
            else:
                raise CandidError(f"expected {len(types)} arguments, got {len(d.args)}")
    for code in d.args[len(types) :]:
        d.skip(code)
    if d.r.pos != len(d.r.data):
        raise CandidError("trailing bytes after Candid values")
    return out


class TypeMismatch(CandidError):
    """The wire type does not fit the declared one (as opposed to malformed bytes)."""


def _text(d: _Decoder) -> str:
    r = d.r
    try:
        return r.take(r.uleb()).decode()
    except UnicodeDecodeError:
        raise CandidError("text is not valid UTF-8") from None


def _nat64(d: _Decoder) -> int:
    return int.from_bytes(d.r.take(8), "little")


def _bool(d: _Decoder) -> bool:
    b = d.r.byte()
    if b > 1:
        raise CandidError(f"invalid bool byte {b}")
    return b == 1


FAST = {
    PRIM_CODES["text"]: _text,
    PRIM_CODES["nat64"]: _nat64,
    PRIM_CODES["nat"]: lambda d: d.r.uleb(),
    PRIM_CODES["int"]: lambda d: d.r.sleb(),
    PRIM_CODES["bool"]: _bool,
    PRIM_CODES["float64"]: lambda d: struct.unpack("<d", d.r.take(8))[0],
    PRIM_CODES["principal"]: lambda d: Principal(bytes=d._principal()),
    PRIM_CODES["null"]: lambda d: None,
}
