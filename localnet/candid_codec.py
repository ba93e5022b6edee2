"""Candid binary encoding and typed decoding of Python values the way Kybra maps them.

Values follow Kybra's mapping (IC-FACTS.md §2): records are dicts with every declared key, variants
single-key dicts, opt is None or the value, blob is bytes, principal is `kybra.Principal`, tuples are
tuples. Decoding is typed: the wire types are read from the message and converted to the declared
types with Candid's subtyping rules that matter in practice (missing opt fields, extra fields, opt
coercion, nat into int).
"""

from __future__ import annotations

import struct
from typing import Any

from kybra import Principal

from localnet.candid_types import (
    BLOB,
    CType,
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

MAGIC = b"DIDL"

PRIM_CODES = {
    "null": -1,
    "bool": -2,
    "nat": -3,
    "int": -4,
    "nat8": -5,
    "nat16": -6,
    "nat32": -7,
    "nat64": -8,
    "int8": -9,
    "int16": -10,
    "int32": -11,
    "int64": -12,
    "float32": -13,
    "float64": -14,
    "text": -15,
    "reserved": -16,
    "empty": -17,
    "principal": -24,
}
CODE_NAMES = {v: k for k, v in PRIM_CODES.items()}
OPT, VEC, RECORD, VARIANT, FUNC, SERVICE = -18, -19, -20, -21, -22, -23
FIXED = {
    "nat8": (1, False),
    "nat16": (2, False),
    "nat32": (4, False),
    "nat64": (8, False),
    "int8": (1, True),
    "int16": (2, True),
    "int32": (4, True),
    "int64": (8, True),
}
MAX_TABLE = 10_000
MAX_DEPTH = 150  # nesting levels; stays well inside Python's recursion limit


class CandidError(ValueError):
    """A value does not match its Candid type, or bytes are not valid Candid for the expected types."""


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def principal_bytes(v: Any) -> bytes:
    """Raw bytes of a principal given as kybra/ic-py Principal, text, or bytes."""
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    if isinstance(v, str):
        return Principal.from_str(v).bytes
    raw = getattr(v, "bytes", None)
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    cid = getattr(v, "canister_id", None)
    if cid is not None:
        return principal_bytes(cid)
    raise CandidError(f"expected a Principal, got {type(v).__name__}")


# ---------------------------------------------------------------------------------------------- encoding


class _TypeTable:
    def __init__(self, iface: Interface):
        self.iface = iface
        self.entries: list[bytes | None] = []
        self.index: dict[Any, int] = {}

    def code(self, t: CType) -> int:
        if isinstance(t, Prim) and t != BLOB:
            return PRIM_CODES[t.name]
        key: Any = t
        if isinstance(t, Ref):
            target = self.iface.resolve(t)
            if isinstance(target, Prim) and target != BLOB:
                return PRIM_CODES[target.name]
            key = ("ref", t.name)
        if key in self.index:
            return self.index[key]
        i = len(self.entries)
        self.index[key] = i
        self.entries.append(None)
        self.entries[i] = self._body(self.iface.resolve(t))
        return i

    def _body(self, t: CType) -> bytes:
        if t == BLOB:
            return sleb(VEC) + sleb(PRIM_CODES["nat8"])
        if isinstance(t, Opt):
            return sleb(OPT) + sleb(self.code(t.inner))
        if isinstance(t, Vec):
            return sleb(VEC) + sleb(self.code(t.inner))
        if isinstance(t, Record | Variant):
            op = RECORD if isinstance(t, Record) else VARIANT
            fields = sorted(((label_hash(n), ft) for n, ft in t.fields), key=lambda f: f[0])
            return sleb(op) + uleb(len(fields)) + b"".join(uleb(h) + sleb(self.code(ft)) for h, ft in fields)
        if isinstance(t, ServiceRef):
            return sleb(SERVICE) + uleb(0)
        if isinstance(t, Ref):
            return self._body(self.iface.resolve(t))
        raise CandidError(f"cannot encode type {t!r}")

    def encode(self) -> bytes:
        return uleb(len(self.entries)) + b"".join(e or b"" for e in self.entries)


def encode(types: tuple[CType, ...] | list[CType], values: list[Any], iface: Interface) -> bytes:
    """A complete Candid message (`DIDL` ...) of `values` typed by `types`."""
    if len(types) != len(values):
        raise CandidError(f"expected {len(types)} values, got {len(values)}")
    table = _TypeTable(iface)
    codes = [table.code(t) for t in types]
    out = bytearray()
    for t, v in zip(types, values):
        _enc(iface, t, v, out, "")
    return MAGIC + table.encode() + uleb(len(codes)) + b"".join(sleb(c) for c in codes) + bytes(out)


def _enc(iface: Interface, t: CType, v: Any, out: bytearray, path: str) -> None:
    if isinstance(t, Ref):
        t = iface.resolve(t)
    if isinstance(t, Prim):
        _enc_prim(t.name, v, out, path)
    elif isinstance(t, Opt):
        if v is None:
            out.append(0)
        else:
            out.append(1)
            _enc(iface, t.inner, v, out, path)
    elif isinstance(t, Vec):
        if not isinstance(v, list | tuple):
            raise CandidError(f"{path or 'value'}: expected a list, got {type(v).__name__}")
        out += uleb(len(v))
        for i, item in enumerate(v):
            _enc(iface, t.inner, item, out, f"{path}[{i}]")
    elif isinstance(t, Record):
        if t.tuple:
            if not isinstance(v, list | tuple) or len(v) != len(t.fields):
                raise CandidError(f"{path or 'value'}: expected a tuple of {len(t.fields)}")
            for (_, ft), item in sorted(zip(t.fields, v), key=lambda p: int(p[0][0])):
                _enc(iface, ft, item, out, path)
            return
        if not isinstance(v, dict):
            raise CandidError(f"{path or 'value'}: expected a record (dict), got {type(v).__name__}")
        for name, ft in sorted(t.fields, key=lambda f: label_hash(f[0])):
            if name not in v:
                raise CandidError(f"{path or 'record'}: missing field '{name}'")
            _enc(iface, ft, v[name], out, f"{path}.{name}")
    elif isinstance(t, Variant):
        if not isinstance(v, dict) or len(v) != 1:
            raise CandidError(f"{path or 'value'}: expected a variant (dict with one key), got {v!r:.80}")
        ((tag, payload),) = v.items()
        ordered = sorted(t.fields, key=lambda f: label_hash(f[0]))
        for i, (name, ft) in enumerate(ordered):
            if name == tag:
                out += uleb(i)
                _enc(iface, ft, payload, out, f"{path}.{name}")
                return
        raise CandidError(f"{path or 'variant'}: unknown tag '{tag}'")
    elif isinstance(t, ServiceRef):
        out.append(1)
        raw = principal_bytes(v)
        out += b"\x01" + uleb(len(raw)) + raw
    else:
        raise CandidError(f"cannot encode type {t!r}")


def _enc_prim(name: str, v: Any, out: bytearray, path: str) -> None:
    where = path or "value"
    if name == "text":
        if not isinstance(v, str):
            raise CandidError(f"{where}: expected text, got {type(v).__name__}")
        try:
            raw = v.encode()
        except UnicodeEncodeError:
            raise CandidError(f"{where}: text is not valid Unicode (lone surrogate)") from None
        out += uleb(len(raw)) + raw
    elif name in FIXED:
        size, signed = FIXED[name]
        if not isinstance(v, int) or isinstance(v, bool):
            raise CandidError(f"{where}: expected {name}, got {type(v).__name__}")
        try:
            out += v.to_bytes(size, "little", signed=signed)
        except OverflowError:
            raise CandidError(f"{where}: {v} out of range for {name}") from None
    elif name in ("nat", "int"):
        if not isinstance(v, int) or isinstance(v, bool):
            raise CandidError(f"{where}: expected {name}, got {type(v).__name__}")
        if name == "nat":
            if v < 0:
                raise CandidError(f"{where}: negative value {v} for nat")
            out += uleb(v)
        else:
            out += sleb(v)
    elif name == "bool":
        if not isinstance(v, bool):
            raise CandidError(f"{where}: expected bool, got {type(v).__name__}")
        out.append(1 if v else 0)
    elif name in ("float64", "float32"):
        if not isinstance(v, int | float) or isinstance(v, bool):
            raise CandidError(f"{where}: expected {name}, got {type(v).__name__}")
        try:
            out += struct.pack("<d" if name == "float64" else "<f", v)
        except (OverflowError, struct.error):
            raise CandidError(f"{where}: {v} out of range for {name}") from None
    elif name == "blob":
        if isinstance(v, list):
            try:
                v = bytes(v)
            except (ValueError, TypeError):
                raise CandidError(f"{where}: expected blob") from None
        if not isinstance(v, bytes | bytearray):
            raise CandidError(f"{where}: expected blob (bytes), got {type(v).__name__}")
        out += uleb(len(v)) + bytes(v)
    elif name == "principal":
        raw = principal_bytes(v)
        out += b"\x01" + uleb(len(raw)) + raw
    elif name == "null":
        if v is not None:
            raise CandidError(f"{where}: expected None for null, got {type(v).__name__}")
    elif name == "reserved":
        pass
    else:
        raise CandidError(f"{where}: no value has type {name}")


# ---------------------------------------------------------------------------------------------- decoding


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
            for _ in range(2):
                for _ in range(self.r.uleb()):
                    self.r.sleb()
            self.r.take(self.r.uleb())
            return op, None
        if op == SERVICE:
            for _ in range(self.r.uleb()):
                self.r.take(self.r.uleb())
                self.r.sleb()
            return op, None
        raise CandidError(f"unsupported Candid type opcode {op}")

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
            r.take(r.uleb())
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
            self._service()
        elif op == FUNC:
            if r.byte():
                self._principal()
                r.take(r.uleb())
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

    def _service(self) -> bytes:
        if self.r.byte() != 1:
            raise CandidError("opaque service reference not supported")
        return self._principal()

    def value(self, code: int, t: CType, path: str) -> Any:
        self._nest()
        try:
            return self._value(code, self.iface.resolve(t), path)
        finally:
            self.depth -= 1

    def _value(self, code: int, t: CType, path: str) -> Any:
        op, data = self.entry(code)
        r = self.r
        where = path or "argument"
        if isinstance(t, Prim) and t.name == "reserved":
            self.skip(code)
            return None
        if isinstance(t, Opt):
            if op in (-1, -16):
                self.skip(code)
                return None
            if op == OPT:
                return self.value(data, t.inner, path) if r.byte() else None
            inner = self.iface.resolve(t.inner)
            if isinstance(inner, Opt) or (isinstance(inner, Prim) and inner.name in ("null", "reserved")):
                self.skip(code)
                return None
            return self.value(code, inner, path)
        if isinstance(t, Prim):
            return self._prim(op, data, t.name, where)
        if isinstance(t, Vec):
            if op != VEC:
                raise CandidError(f"{where}: expected vec, got {self._name(code)}")
            n = r.uleb()
            self._bound(n)
            return [self.value(data, t.inner, f"{path}[{i}]") for i in range(n)]
        if isinstance(t, Record):
            if op != RECORD:
                raise CandidError(f"{where}: expected record, got {self._name(code)}")
            wanted = {label_hash(n): (n, ft) for n, ft in t.fields}
            got: dict[str, Any] = {}
            for h, ft in data:
                if h in wanted:
                    name, et = wanted[h]
                    got[name] = self.value(ft, et, f"{path}.{name}")
                else:
                    self.skip(ft)
            for name, et in t.fields:
                if name not in got:
                    target = self.iface.resolve(et)
                    if isinstance(target, Opt) or target in (Prim("null"), Prim("reserved")):
                        got[name] = None
                    else:
                        raise CandidError(f"{where}: record field '{name}' missing")
            if t.tuple:
                return tuple(got[name] for name, _ in t.fields)
            return {name: got[name] for name, _ in t.fields}
        if isinstance(t, Variant):
            if op != VARIANT:
                raise CandidError(f"{where}: expected variant, got {self._name(code)}")
            i = r.uleb()
            if i >= len(data):
                raise CandidError(f"{where}: variant index out of range")
            h, ft = data[i]
            for name, et in t.fields:
                if label_hash(name) == h:
                    return {name: self.value(ft, et, f"{path}.{name}")}
            raise CandidError(f"{where}: unexpected variant tag (id {h})")
        if isinstance(t, ServiceRef):
            if op not in (SERVICE, -24):
                raise CandidError(f"{where}: expected service, got {self._name(code)}")
            return Principal(bytes=self._service() if op == SERVICE else self._principal())
        raise CandidError(f"{where}: unsupported type {t!r}")

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

    def _prim(self, op: int, data: Any, name: str, where: str) -> Any:
        r = self.r
        if name == "blob":
            if op != VEC or data != -5:
                raise CandidError(f"{where}: expected blob, got {self._name(op if op < 0 else op)}")
            return r.take(r.uleb())
        wire = CODE_NAMES.get(op)
        if wire != name and not (name == "int" and wire == "nat"):
            raise CandidError(f"{where}: expected {name}, got {wire or self._name(op)}")
        if wire == "text":
            try:
                return r.take(r.uleb()).decode()
            except UnicodeDecodeError:
                raise CandidError(f"{where}: text is not valid UTF-8") from None
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
                raise CandidError(f"{where}: invalid bool byte {b}")
            return b == 1
        if wire == "float64":
            return struct.unpack("<d", r.take(8))[0]
        if wire == "float32":
            return struct.unpack("<f", r.take(4))[0]
        if wire == "principal":
            return Principal(bytes=self._principal())
        if wire == "null":
            return None
        raise CandidError(f"{where}: a value of type {wire} cannot be decoded")


def decode(data: bytes, types: tuple[CType, ...] | list[CType], iface: Interface) -> list[Any]:
    """Decode a Candid message against the declared `types`; raises CandidError on any mismatch."""
    d = _Decoder(bytes(data), iface)
    out = []
    for i, t in enumerate(types):
        if i < len(d.args):
            out.append(d.value(d.args[i], t, f"argument {i + 1}"))
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


def sort_key(iface: Interface, t: CType, v: Any) -> Any:
    """A Python value ordering like the Rust `Ord` Kybra derives for a stable map's key type."""
    t = iface.resolve(t)
    if isinstance(t, Prim):
        if t.name == "principal":
            return principal_bytes(v)
        if t.name == "text":
            return v.encode()
        if t.name in ("null", "reserved"):
            return 0
        if t.name == "blob":
            return bytes(v)
        return v
    if isinstance(t, Opt):
        return (0,) if v is None else (1, sort_key(iface, t.inner, v))
    if isinstance(t, Vec):
        return tuple(sort_key(iface, t.inner, x) for x in v)
    if isinstance(t, Record):
        if t.tuple:
            return tuple(sort_key(iface, ft, x) for (_, ft), x in zip(t.fields, v))
        return tuple(sort_key(iface, ft, v[n]) for n, ft in t.fields)
    if isinstance(t, Variant):
        ((tag, payload),) = v.items()
        for i, (n, ft) in enumerate(t.fields):
            if n == tag:
                return (i, sort_key(iface, ft, payload))
    return principal_bytes(v)
