"""Reads the official Candid test files (`*.test.did`): type definitions, assertions, textual values.

The grammar (test/README.md of dfinity/candid): `<def>;* <test>;*` with
`assert <input> (: | !: | == <input> : | != <input> :) <tuptype> <desc>?` and `<input> ::= <text> | blob
<text>`. Types become localnet `CType`s in an `Interface` (services get generated names); textual values
become a small tree that `text_value_at` turns into Kybra's Python mapping at a declared type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kybra import Principal

from localnet.candid_types import (
    BLOB,
    PRIMITIVES,
    CType,
    Func,
    Interface,
    Method,
    Opt,
    Prim,
    Record,
    Ref,
    ServiceRef,
    Variant,
    Vec,
    label_hash,
)

TOKEN = re.compile(
    r"""\s+|//[^\n]*|/\*.*?\*/
    |(?P<text>"(?:[^"\\]|\\.)*")
    |(?P<arrow>->)|(?P<bang>!:)|(?P<eq>==)|(?P<ne>!=)
    |(?P<num>[+-]?(?:0x[0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?))
    |(?P<id>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<punct>[(){};:,=.])""",
    re.S | re.X,
)
ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", '"': b'"', "'": b"'", "\\": b"\\"}
RANGES = {f"nat{n}": (0, 2**n - 1) for n in (8, 16, 32, 64)}
RANGES.update({f"int{n}": (-(2 ** (n - 1)), 2 ** (n - 1) - 1) for n in (8, 16, 32, 64)})


class SuiteSyntaxError(ValueError):
    pass


@dataclass
class Assertion:
    kind: str  # ":" decodes, "!:" does not, "==" equal, "!=" not equal
    left: tuple[str, bytes]  # ("blob", bytes) or ("text", source)
    right: tuple[str, bytes] | None
    types: tuple[CType, ...]
    desc: str
    line: int


@dataclass
class Suite:
    iface: Interface = field(default_factory=Interface)
    assertions: list[Assertion] = field(default_factory=list)


def unescape(literal: str) -> bytes:
    """The bytes of a Candid text literal (without its quotes): \\xx hex, \\u{...}, \\n and friends."""
    out = bytearray()
    i = 0
    while i < len(literal):
        c = literal[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        nxt = literal[i + 1]
        if nxt in ESCAPES:
            out += ESCAPES[nxt]
            i += 2
        elif nxt == "u":
            end = literal.find("}", i)
            if literal[i + 2] != "{" or end < 0:
                raise SuiteSyntaxError("bad \\u escape")
            out += chr(int(literal[i + 3 : end].replace("_", ""), 16)).encode()
            i = end + 1
        else:
            out.append(int(literal[i + 1 : i + 3], 16))
            i += 3
    return bytes(out)


class Parser:
    def __init__(self, source: str, iface: Interface | None = None):
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(source):
            m = TOKEN.match(source, pos)
            if m is None:
                raise SuiteSyntaxError(f"cannot read {source[pos : pos + 20]!r}")
            if m.lastgroup:
                self.tokens.append((m.lastgroup, m.group(m.lastgroup), source.count("\n", 0, pos) + 1))
            pos = m.end()
        self.i = 0
        self.iface = iface or Interface()
        self.services = 0

    # -- tokens -------------------------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> tuple[str, str, int]:
        return self.tokens[self.i + ahead] if self.i + ahead < len(self.tokens) else ("eof", "", 0)

    def next(self) -> tuple[str, str, int]:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.next()
        if tok[1] != value:
            raise SuiteSyntaxError(f"line {tok[2]}: expected {value!r}, got {tok[1]!r}")

    def accept(self, value: str) -> bool:
        if self.peek()[1] == value and self.peek()[0] != "text":
            self.i += 1
            return True
        return False

    # -- test files ---------------------------------------------------------------------------------------

    def suite(self) -> Suite:
        suite = Suite(self.iface)
        while self.peek()[1] == "type":
            self.next()
            name = self.next()[1]
            self.expect("=")
            self.iface.types[name] = self.datatype()
            self.expect(";")
        while self.peek()[0] != "eof":
            line = self.peek()[2]
            self.expect("assert")
            left = self.input()
            kind = self.next()[1]
            right = None
            if kind in ("==", "!="):
                right = self.input()
                self.expect(":")
            types = self.tuple_type()
            desc = unescape(self.next()[1][1:-1]).decode() if self.peek()[0] == "text" else ""
            self.expect(";")
            suite.assertions.append(Assertion(kind, left, right, types, desc, line))
        return suite

    def input(self) -> tuple[str, bytes]:
        if self.accept("blob"):
            return ("blob", unescape(self.next()[1][1:-1]))
        return ("text", unescape(self.next()[1][1:-1]))

    # -- types --------------------------------------------------------------------------------------------

    def tuple_type(self) -> tuple[CType, ...]:
        self.expect("(")
        types = []
        while not self.accept(")"):
            if self.peek(1)[1] == ":" and self.peek()[0] in ("id", "text"):
                self.i += 2  # an argument name
            types.append(self.datatype())
            self.accept(",")
        return tuple(types)

    def datatype(self) -> CType:
        kind, word, line = self.next()
        if word == "opt":
            return Opt(self.datatype())
        if word == "vec":
            return Vec(self.datatype())
        if word == "blob":
            return BLOB
        if word in ("record", "variant"):
            return self.fields(word)
        if word == "func":
            return self.functype()
        if word == "service":
            return self.service()
        if word in PRIMITIVES:
            return Prim(word)
        if kind == "id":
            return Ref(word)
        raise SuiteSyntaxError(f"line {line}: not a type: {word!r}")

    def fields(self, keyword: str) -> CType:
        self.expect("{")
        fields: list[tuple[str, CType]] = []
        positional = True
        nxt = 0
        while not self.accept("}"):
            kind, word, _ = self.peek()
            if self.peek(1)[1] == ":" and kind in ("id", "text", "num"):
                self.i += 2
                label = unescape(word[1:-1]).decode() if kind == "text" else word
                positional = False
                ftype = self.datatype()
            elif keyword == "variant" and kind in ("id", "text", "num"):
                self.i += 1
                label = unescape(word[1:-1]).decode() if kind == "text" else word
                positional = False
                ftype = Prim("null")
            else:
                label = str(nxt)
                ftype = self.datatype()
            if label.isdigit():
                nxt = int(label) + 1
            fields.append((label, ftype))
            self.accept(";")
        fields.sort(key=lambda f: label_hash(f[0]))
        if keyword == "variant":
            return Variant(tuple(fields))
        return Record(tuple(fields), tuple=positional and bool(fields))

    def functype(self) -> Func:
        params = self.tuple_type()
        self.expect("->")
        returns = self.tuple_type()
        modes = []
        while self.peek()[1] in ("query", "oneway", "composite_query"):
            modes.append(self.next()[1])
        return Func(params, returns, modes[0] if modes else "")

    def service(self) -> ServiceRef:
        self.expect("{")
        methods: dict[str, Method] = {}
        while not self.accept("}"):
            kind, word, _ = self.next()
            name = unescape(word[1:-1]).decode() if kind == "text" else word
            self.expect(":")
            if self.peek()[1] == "(":
                ftype: CType = self.functype()
            else:
                ftype = self.iface.resolve(self.datatype())
            assert isinstance(ftype, Func)
            mode = ftype.mode or "update"
            methods[name] = Method(name, mode, ftype.params, ftype.returns)
            self.accept(";")
        self.services += 1
        name = f"service_{self.services}_{len(self.iface.services)}"
        self.iface.services[name] = methods
        return ServiceRef(name)

    # -- textual values -----------------------------------------------------------------------------------

    def values(self) -> list[Any]:
        self.expect("(")
        out = []
        while not self.accept(")"):
            out.append(self.value())
            self.accept(",")
        return out

    def value(self) -> Any:
        kind, word, line = self.next()
        if kind == "num":
            clean = word.replace("_", "")
            if clean.lstrip("+-").startswith("0x"):
                return ("num", int(clean, 16))
            return ("num", float(clean) if any(c in clean for c in ".eE") else int(clean))
        if kind == "text":
            return ("text", unescape(word[1:-1]))
        if word in ("true", "false"):
            return ("bool", word == "true")
        if word == "null":
            return ("null",)
        if word == "opt":
            return ("opt", self.value())
        if word == "vec":
            self.expect("{")
            items = []
            while not self.accept("}"):
                items.append(self.value())
                self.accept(";")
            return ("vec", items)
        if word in ("record", "variant"):
            return (word, self.value_fields(word))
        if word == "blob":
            return ("blob", unescape(self.next()[1][1:-1]))
        if word in ("principal", "service"):
            return (word, unescape(self.next()[1][1:-1]).decode())
        if word == "func":
            service = unescape(self.next()[1][1:-1]).decode()
            self.expect(".")
            kind, method, _ = self.next()
            return ("func", service, unescape(method[1:-1]).decode() if kind == "text" else method)
        if word == "(":
            inner = self.value()
            self.expect(":")
            self.datatype()
            self.expect(")")
            return inner
        raise SuiteSyntaxError(f"line {line}: not a value: {word!r}")

    def value_fields(self, keyword: str) -> list[tuple[int, Any]]:
        self.expect("{")
        fields = []
        nxt = 0
        while not self.accept("}"):
            kind, word, _ = self.peek()
            if self.peek(1)[1] == "=" and kind in ("id", "text", "num"):
                self.i += 2
                label = unescape(word[1:-1]).decode() if kind == "text" else word
                fid = label_hash(label)
                fields.append((fid, self.value()))
            elif keyword == "variant" and kind in ("id", "text", "num"):
                self.i += 1
                label = unescape(word[1:-1]).decode() if kind == "text" else word
                fid = label_hash(label)
                fields.append((fid, ("null",)))
            else:
                fid = nxt
                fields.append((fid, self.value()))
            nxt = fid + 1
            self.accept(";")
        return fields


def parse_suite(source: str) -> Suite:
    return Parser(source).suite()


def parse_values(source: bytes, iface: Interface) -> list[Any]:
    return Parser(source.decode(), iface).values()


def text_value_at(v: Any, t: CType, iface: Interface) -> Any:
    """A textual value in Kybra's Python mapping at type `t` (the textual side of an `==` test)."""
    t = iface.resolve(t)
    tag = v[0]
    if isinstance(t, Prim):
        name = t.name
        if name == "reserved":
            return None
        if name == "null" and tag == "null":
            return None
        if name == "bool" and tag == "bool":
            return v[1]
        if name == "text" and tag == "text":
            return v[1].decode()
        if name in ("float32", "float64") and tag == "num":
            return float(v[1])
        if name in ("nat", "int") or name in RANGES:
            if tag == "num" and isinstance(v[1], int):
                low, high = RANGES.get(name, (0 if name == "nat" else None, None))
                if (low is None or v[1] >= low) and (high is None or v[1] <= high):
                    return v[1]
        if name == "principal" and tag in ("principal", "service"):
            return Principal.from_str(v[1])
        if name == "blob":
            if tag == "blob":
                return v[1]
            if tag == "vec":
                return bytes(text_value_at(x, Prim("nat8"), iface) for x in v[1])
        raise SuiteSyntaxError(f"{v!r} is not a {name}")
    if isinstance(t, Opt):
        if tag == "null":
            return None
        if tag == "opt":
            return text_value_at(v[1], t.inner, iface)
        return text_value_at(v, t.inner, iface)
    if isinstance(t, Vec):
        if tag == "blob":
            return list(v[1])
        if tag != "vec":
            raise SuiteSyntaxError(f"{v!r} is not a vec")
        return [text_value_at(x, t.inner, iface) for x in v[1]]
    if isinstance(t, Record):
        if tag != "record":
            raise SuiteSyntaxError(f"{v!r} is not a record")
        given = dict(v[1])
        out = {}
        for name, ft in t.fields:
            fv = given.get(label_hash(name))
            out[name] = text_value_at(fv, ft, iface) if fv is not None else _absent(ft, iface)
        return tuple(out[name] for name, _ in t.fields) if t.tuple else out
    if isinstance(t, Variant):
        ((fid, fv),) = v[1]
        for name, ft in t.fields:
            if label_hash(name) == fid:
                return {name: text_value_at(fv, ft, iface)}
        raise SuiteSyntaxError(f"no tag {fid} in the variant")
    if isinstance(t, Func) and tag == "func":
        return (Principal.from_str(v[1]), v[2])
    if isinstance(t, ServiceRef) and tag == "service":
        return Principal.from_str(v[1])
    raise SuiteSyntaxError(f"{v!r} does not fit {t!r}")


def _absent(t: CType, iface: Interface) -> None:
    target = iface.resolve(t)
    if isinstance(target, Opt) or target in (Prim("null"), Prim("reserved")):
        return None
    raise SuiteSyntaxError("a required record field is missing")


def comparable(v: Any) -> Any:
    """Values with principals as text, so that results can be compared with ==."""
    if isinstance(v, Principal):
        return ("principal", v.to_str())
    if isinstance(v, dict):
        return {k: comparable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return tuple(comparable(x) for x in v)
    if isinstance(v, float) and v != v:
        return "nan"
    return v
