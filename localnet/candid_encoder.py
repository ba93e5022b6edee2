"""Candid encoding of Python values in Kybra's mapping, with one encoder function compiled per type.

Records are dicts with every declared key, variants single-key dicts, opt is None or the value, blob is
bytes, principal a Principal (or text), tuples are tuples. Encoders are built once per interface and
type and cached on the interface, so a reply costs one function call per value.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from localnet.candid_types import (
    BLOB,
    FUNC_MODES,
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
    FIXED,
    FUNC,
    MAGIC,
    OPT,
    PRIM_CODES,
    RECORD,
    SERVICE,
    VARIANT,
    VEC,
    CandidError,
    principal_bytes,
    sleb,
    uleb,
)

Encoder = Callable[[Any, bytearray], None]


class _TypeTable:
    """The type table of one message: composite types get an index, recursive ones via their name."""

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
            methods = sorted(self.iface.services.get(t.name, {}).values(), key=lambda m: m.name.encode())
            body = sleb(SERVICE) + uleb(len(methods))
            for m in methods:
                name = m.name.encode()
                mode = "query" if m.kind == "query" else ""
                body += uleb(len(name)) + name + sleb(self.code(Func(m.params, m.returns, mode)))
            return body
        if isinstance(t, Func):
            args = [self.code(p) for p in t.params]
            rets = [self.code(r) for r in t.returns]
            mode = FUNC_MODES.index(t.mode)
            return (
                sleb(FUNC)
                + uleb(len(args))
                + b"".join(sleb(a) for a in args)
                + uleb(len(rets))
                + b"".join(sleb(r) for r in rets)
                + (uleb(1) + bytes([mode]) if mode else uleb(0))
            )
        raise CandidError(f"cannot encode type {t!r}")

    def encode(self) -> bytes:
        return uleb(len(self.entries)) + b"".join(e or b"" for e in self.entries)


def encode(types: tuple[CType, ...] | list[CType], values: list[Any], iface: Interface) -> bytes:
    """A complete Candid message (`DIDL` ...) of `values` typed by `types`."""
    if len(types) != len(values):
        raise CandidError(f"expected {len(types)} values, got {len(values)}")
    header = iface.cache.get(("header", tuple(types)))
    if header is None:
        table = _TypeTable(iface)
        codes = [table.code(t) for t in types]
        header = MAGIC + table.encode() + uleb(len(codes)) + b"".join(sleb(c) for c in codes)
        iface.cache[("header", tuple(types))] = header
    out = bytearray(header)
    for t, v in zip(types, values):
        encoder(iface, t)(v, out)
    return bytes(out)


def encoder(iface: Interface, t: CType) -> Encoder:
    """The cached encoder function of type `t`."""
    key = ("enc", t)
    found = iface.cache.get(key)
    if found is not None:
        return found
    if isinstance(t, Ref):
        late: list[Encoder] = []

        def recursive(v: Any, out: bytearray) -> None:
            late[0](v, out)

        iface.cache[key] = recursive  # a recursive type reaches this before it is built
        built = encoder(iface, iface.types[t.name])
        late.append(built)
        iface.cache[key] = built
        return built
    built = _build(iface, t)
    iface.cache[key] = built
    return built


def _kind(v: Any) -> str:
    return type(v).__name__


def _build(iface: Interface, t: CType) -> Encoder:
    if isinstance(t, Prim):
        return _prim(t.name)
    if isinstance(t, Opt):
        inner = encoder(iface, t.inner)

        def enc_opt(v: Any, out: bytearray) -> None:
            if v is None:
                out.append(0)
            else:
                out.append(1)
                inner(v, out)

        return enc_opt
    if isinstance(t, Vec):
        item = encoder(iface, t.inner)

        def enc_vec(v: Any, out: bytearray) -> None:
            if not isinstance(v, list | tuple):
                raise CandidError(f"expected a list, got {_kind(v)}")
            out += uleb(len(v))
            i = 0
            try:
                for i, x in enumerate(v):  # noqa: B007 - i names the failing element
                    item(x, out)
            except CandidError as e:
                raise e.at(f"[{i}]") from None

        return enc_vec
    if isinstance(t, Record):
        return _record(iface, t)
    if isinstance(t, Variant):
        return _variant(iface, t)
    if isinstance(t, ServiceRef):

        def enc_service(v: Any, out: bytearray) -> None:
            raw = principal_bytes(v)
            out += b"\x01" + uleb(len(raw)) + raw  # a service reference is encoded like a principal

        return enc_service
    if isinstance(t, Func):
        return _enc_func
    raise CandidError(f"cannot encode type {t!r}")


def _record(iface: Interface, t: Record) -> Encoder:
    if t.tuple:
        positional = [encoder(iface, ft) for _, ft in t.fields]
        order = sorted(range(len(t.fields)), key=lambda i: int(t.fields[i][0]))

        def enc_tuple(v: Any, out: bytearray) -> None:
            if not isinstance(v, list | tuple) or len(v) != len(positional):
                raise CandidError(f"expected a tuple of {len(positional)}, got {_kind(v)}")
            for i in order:
                positional[i](v[i], out)

        return enc_tuple
    fields = [(n, encoder(iface, ft)) for n, ft in sorted(t.fields, key=lambda f: label_hash(f[0]))]

    def enc_record(v: Any, out: bytearray) -> None:
        if not isinstance(v, dict):
            raise CandidError(f"expected a record (dict), got {_kind(v)}")
        name = ""
        try:
            for name, enc in fields:  # noqa: B007 - name locates a failure
                enc(v[name], out)
        except KeyError:
            if name in v:
                raise
            raise CandidError(f"missing field '{name}'") from None
        except CandidError as e:
            raise e.at("." + name) from None

    return enc_record


def _variant(iface: Interface, t: Variant) -> Encoder:
    ordered = sorted(t.fields, key=lambda f: label_hash(f[0]))
    tags = {n: (uleb(i), encoder(iface, ft)) for i, (n, ft) in enumerate(ordered)}

    def enc_variant(v: Any, out: bytearray) -> None:
        if not isinstance(v, dict) or len(v) != 1:
            raise CandidError(f"expected a variant (dict with one key), got {v!r:.80}")
        ((tag, payload),) = v.items()
        found = tags.get(tag)
        if found is None:
            raise CandidError(f"unknown tag '{tag}'")
        out += found[0]
        try:
            found[1](payload, out)
        except CandidError as e:
            raise e.at("." + tag) from None

    return enc_variant


def _enc_func(v: Any, out: bytearray) -> None:
    """A func reference, Kybra's `(Principal, method name)` tuple: public reference, service, method text."""
    if not isinstance(v, list | tuple) or len(v) != 2 or not isinstance(v[1], str):
        raise CandidError(f"expected a func reference (Principal, method name), got {v!r:.80}")
    raw = principal_bytes(v[0])
    try:
        name = v[1].encode()
    except UnicodeEncodeError:
        raise CandidError("method name is not valid Unicode (lone surrogate)") from None
    out += b"\x01\x01" + uleb(len(raw)) + raw + uleb(len(name)) + name


def _int_check(name: str, v: Any) -> None:
    if not isinstance(v, int) or isinstance(v, bool):
        raise CandidError(f"expected {name}, got {_kind(v)}")


def _prim(name: str) -> Encoder:
    if name == "text":

        def enc_text(v: Any, out: bytearray) -> None:
            if not isinstance(v, str):
                raise CandidError(f"expected text, got {_kind(v)}")
            try:
                raw = v.encode()
            except UnicodeEncodeError:
                raise CandidError("text is not valid Unicode (lone surrogate)") from None
            out += uleb(len(raw))
            out += raw

        return enc_text
    if name in FIXED:
        size, signed = FIXED[name]

        def enc_fixed(v: Any, out: bytearray) -> None:
            _int_check(name, v)
            try:
                out += v.to_bytes(size, "little", signed=signed)
            except OverflowError:
                raise CandidError(f"{v} out of range for {name}") from None

        return enc_fixed
    if name == "nat":

        def enc_nat(v: Any, out: bytearray) -> None:
            _int_check(name, v)
            if v < 0:
                raise CandidError(f"negative value {v} for nat")
            out += uleb(v)

        return enc_nat
    if name == "int":

        def enc_int(v: Any, out: bytearray) -> None:
            _int_check(name, v)
            out += sleb(v)

        return enc_int
    if name == "bool":

        def enc_bool(v: Any, out: bytearray) -> None:
            if not isinstance(v, bool):
                raise CandidError(f"expected bool, got {_kind(v)}")
            out.append(1 if v else 0)

        return enc_bool
    if name in ("float64", "float32"):
        fmt = "<d" if name == "float64" else "<f"

        def enc_float(v: Any, out: bytearray) -> None:
            if not isinstance(v, int | float) or isinstance(v, bool):
                raise CandidError(f"expected {name}, got {_kind(v)}")
            try:
                out += struct.pack(fmt, v)
            except (OverflowError, struct.error):
                raise CandidError(f"{v} out of range for {name}") from None

        return enc_float
    if name == "blob":

        def enc_blob(v: Any, out: bytearray) -> None:
            if isinstance(v, list):
                try:
                    v = bytes(v)
                except (ValueError, TypeError):
                    raise CandidError("expected blob") from None
            if not isinstance(v, bytes | bytearray):
                raise CandidError(f"expected blob (bytes), got {_kind(v)}")
            out += uleb(len(v))
            out += v

        return enc_blob
    if name == "principal":

        def enc_principal(v: Any, out: bytearray) -> None:
            raw = principal_bytes(v)
            out += b"\x01" + uleb(len(raw)) + raw

        return enc_principal
    if name == "null":

        def enc_null(v: Any, out: bytearray) -> None:
            if v is not None:
                raise CandidError(f"expected None for null, got {_kind(v)}")

        return enc_null
    if name == "reserved":
        return lambda v, out: None

    def enc_empty(v: Any, out: bytearray) -> None:
        raise CandidError(f"no value has type {name}")

    return enc_empty
