"""Read a Kybra canister's interface from its Python source with `ast`, as Kybra's compiler does.

The compiler walks the entry module and every module it imports from the canister's source tree. It
treats specially: functions decorated `query`, `update`, `init`, `pre_upgrade`, `post_upgrade`,
`heartbeat`, `inspect_message`; classes whose base is `Record`, `Variant` or `Service`; type aliases;
and `X = StableBTreeMap[K, V](memory_id=, max_key_size=, max_value_size=)` with integer literals.
"""

from __future__ import annotations

import ast
from pathlib import Path

from localnet.candid_types import (
    BLOB,
    CType,
    Func,
    Interface,
    Method,
    Opt,
    Prim,
    Record,
    Ref,
    ServiceRef,
    StableMapDecl,
    Variant,
    Vec,
)

NAMED_PRIMS = {
    "text": "text",
    "str": "text",
    "bool": "bool",
    "int": "int",
    "nat": "nat",
    "float": "float64",
    "float64": "float64",
    "float32": "float32",
    "null": "null",
    "reserved": "reserved",
    "empty": "empty",
    "Principal": "principal",
    "TimerId": "nat64",
    "Duration": "nat64",
    **{n: n for n in ("nat8", "nat16", "nat32", "nat64", "int8", "int16", "int32", "int64")},
}
WRAPPERS = {"Alias", "Annotated"}
FUNC_MODES = {"Query": "query", "Update": "", "Oneway": "oneway"}  # Kybra's Func(Mode[[params], ret])
METHOD_KINDS = {"query", "update", "init", "pre_upgrade", "post_upgrade", "heartbeat", "inspect_message"}
# Kybra's RejectionCode variant, in the order of the IC's reject codes 0 (NoError) to 5, then Unknown.
REJECTION_CODES = (
    "NoError",
    "SysFatal",
    "SysTransient",
    "DestinationInvalid",
    "CanisterReject",
    "CanisterError",
    "Unknown",
)
BUILTIN_TYPES: dict[str, CType] = {
    "GuardResult": Variant((("Ok", Prim("null")), ("Err", Prim("text")))),
    "RejectionCode": Variant(tuple((n, Prim("null")) for n in REJECTION_CODES)),
    "KeyTooLarge": Record((("given", Prim("nat32")), ("max", Prim("nat32")))),
    "ValueTooLarge": Record((("given", Prim("nat32")), ("max", Prim("nat32")))),
}


class SourceError(ValueError):
    """The canister source is not something Kybra's compiler would accept."""


def _name_of(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


class _Reader:
    def __init__(self, root: Path):
        self.root = root
        self.iface = Interface()
        self.pending_aliases: list[tuple[str, ast.expr, str]] = []
        self.class_kinds: dict[str, str] = {}
        self.seen: set[Path] = set()
        self.files: list[Path] = []

    # -- module walk --------------------------------------------------------------------------------------

    def module_file(self, dotted: str) -> Path | None:
        base = self.root.joinpath(*dotted.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def walk(self, path: Path, modname: str) -> None:
        path = path.resolve()
        if path in self.seen:
            return
        self.seen.add(path)
        self.files.append(path)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as e:
            raise SourceError(f"{path}: syntax error: {e}") from e
        self.read_module(tree, modname, path)
        package = modname if path.name == "__init__.py" else modname.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    for i in range(1, len(parts) + 1):
                        self._follow(".".join(parts[:i]))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg_parts = package.split(".") if package else []
                    keep = len(pkg_parts) - (node.level - 1)
                    base = ".".join(pkg_parts[: max(keep, 0)] + ([base] if base else []))
                if base:
                    parts = base.split(".")
                    for i in range(1, len(parts) + 1):
                        self._follow(".".join(parts[:i]))
                for alias in node.names:
                    self._follow(f"{base}.{alias.name}" if base else alias.name)

    def _follow(self, dotted: str) -> None:
        f = self.module_file(dotted)
        if f is not None:
            self.walk(f, dotted)

    # -- declarations -------------------------------------------------------------------------------------

    def read_module(self, tree: ast.Module, modname: str, path: Path) -> None:
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                self.read_class(node, path)
            elif isinstance(node, ast.FunctionDef):
                self.read_function(node, modname, path)
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            ):
                self.read_assign(node.targets[0].id, node.value, path)
            elif (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.value is not None
            ):
                ann = _name_of(node.annotation)
                if ann == "TypeAlias":
                    self._alias(node.target.id, node.value, path)
                else:
                    self.read_assign(node.target.id, node.value, path)

    def read_class(self, node: ast.ClassDef, path: Path) -> None:
        bases = {_name_of(b) for b in node.bases}
        kind = next((k for k in ("Record", "Variant", "Service") if k in bases), None)
        if kind is None:
            return
        self.class_kinds[node.name] = kind
        if kind == "Service":
            methods: dict[str, Method] = {}
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    decos = {_name_of(d.func if isinstance(d, ast.Call) else d) for d in item.decorator_list}
                    mkind = (
                        "query"
                        if "service_query" in decos
                        else "update"
                        if "service_update" in decos
                        else None
                    )
                    if mkind:
                        params = [a for a in item.args.args[1:]]
                        methods[item.name] = Method(
                            item.name,
                            mkind,
                            tuple(self._ann(a.annotation, path) for a in params),
                            self._returns(item.returns, path),
                        )
            self.iface.services[node.name] = methods
            return
        fields = []
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                fields.append((item.target.id, item.annotation))
        self.iface.types[node.name] = ("pending", kind, fields, path)  # type: ignore[assignment]

    def read_assign(self, name: str, value: ast.expr, path: Path) -> None:
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Subscript)
            and _name_of(value.func.value) == "StableBTreeMap"
        ):
            self.read_stable_map(name, value, path)
            return
        if isinstance(value, ast.Subscript | ast.Name | ast.Attribute) or _is_func(value):
            self._alias(name, value, path)

    def _alias(self, name: str, value: ast.expr, path: Path) -> None:
        self.pending_aliases.append((name, value, str(path)))
        if name not in self.class_kinds:
            self.iface.types[name] = ("alias", None)  # type: ignore[assignment]

    def read_stable_map(self, name: str, call: ast.Call, path: Path) -> None:
        sl = call.func.slice  # type: ignore[union-attr]
        if not isinstance(sl, ast.Tuple) or len(sl.elts) != 2:
            raise SourceError(f"{path}: {name}: StableBTreeMap needs [KeyType, ValueType]")
        args = {"memory_id": None, "max_key_size": None, "max_value_size": None}
        for key, arg in zip(args, call.args):
            args[key] = arg
        for kw in call.keywords:
            if kw.arg in args:
                args[kw.arg] = kw.value
        values = {}
        for key, node in args.items():
            if not (isinstance(node, ast.Constant) and isinstance(node.value, int)):
                raise SourceError(f"{path}: {name}: StableBTreeMap {key} must be an integer literal")
            values[key] = node.value
        mid = values["memory_id"]
        if not 0 <= mid <= 254:
            raise SourceError(f"{path}: {name}: memory_id must be 0..254")
        if mid in self.iface.stable_maps:
            raise SourceError(f"{path}: {name}: memory_id {mid} used twice")
        self.iface.stable_maps[mid] = ("pending", sl.elts[0], sl.elts[1], values, path)  # type: ignore[assignment]

    def read_function(self, node: ast.FunctionDef, modname: str, path: Path) -> None:
        kind = guard = None
        for d in node.decorator_list:
            target = d.func if isinstance(d, ast.Call) else d
            n = _name_of(target)
            if n in METHOD_KINDS:
                kind = n
                if isinstance(d, ast.Call):
                    for kw in d.keywords:
                        if kw.arg == "guard":
                            guard = _name_of(kw.value)
        if kind is None:
            return
        where = f"{path}:{node.lineno}: {node.name}"
        if node.name.startswith("_"):
            raise SourceError(f"{where}: canister method names must not start with '_'")
        a = node.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            raise SourceError(f"{where}: *args, **kwargs and keyword-only parameters are not allowed")
        if len(a.args) > 5:
            raise SourceError(f"{where}: at most 5 parameters")
        for arg in a.args:
            if arg.annotation is None:
                raise SourceError(f"{where}: parameter '{arg.arg}' needs a type annotation")
        if kind in ("query", "update") and node.returns is None:
            raise SourceError(f"{where}: the return type must be annotated (void for none)")
        if node.name in self.iface.methods:
            raise SourceError(f"{where}: method defined twice")
        self.iface.methods[node.name] = ("pending", node, kind, guard, modname, path)  # type: ignore[assignment]

    # -- type expressions ---------------------------------------------------------------------------------

    def _ann(self, node: ast.expr | None, path: Path) -> CType:
        if node is None:
            raise SourceError(f"{path}: missing type annotation")
        return self.texpr(node, path)

    def _returns(self, node: ast.expr | None, path: Path) -> tuple[CType, ...]:
        while isinstance(node, ast.Subscript) and _name_of(node.value) in ("Async", "Manual"):
            node = node.slice
        if (
            node is None
            or (isinstance(node, ast.Constant) and node.value is None)
            or _name_of(node) == "void"
        ):
            return ()
        return (self.texpr(node, path),)

    def texpr(self, node: ast.expr, path: Path) -> CType:
        if _is_func(node):
            return self.func_type(node, path)  # type: ignore[arg-type]
        if isinstance(node, ast.Constant):
            if node.value is None:
                return Prim("null")
            if isinstance(node.value, str):
                return self.texpr(ast.parse(node.value, mode="eval").body, path)
        if isinstance(node, ast.Name | ast.Attribute):
            n = _name_of(node)
            assert n is not None
            if n in ("blob", "bytes"):
                return BLOB
            if n in NAMED_PRIMS:
                return Prim(NAMED_PRIMS[n])
            if n in self.iface.services:
                return ServiceRef(n)
            if n in self.iface.types or n in BUILTIN_TYPES:
                return Ref(n)
            raise SourceError(f"{path}:{getattr(node, 'lineno', '?')}: unknown type '{n}'")
        if isinstance(node, ast.Subscript):
            base = _name_of(node.value)
            args = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if base in ("Vec", "list", "List"):
                return Vec(self.texpr(args[0], path))
            if base in ("Opt", "Optional", "Manual"):
                inner = self.texpr(args[0], path)
                return inner if base == "Manual" else Opt(inner)
            if base in ("Tuple", "tuple"):
                return Record(tuple((str(i), self.texpr(a, path)) for i, a in enumerate(args)), tuple=True)
            if base in WRAPPERS or base in ("Async", "CallResult"):
                return self.texpr(args[0], path)
        raise SourceError(f"{path}:{getattr(node, 'lineno', '?')}: not a Candid type: {ast.unparse(node)}")

    def func_type(self, node: ast.Call, path: Path) -> Func:
        """`Func(Query[[P1, P2], R])` (also `Update`, `Oneway`), checked as Kybra's compiler checks it."""
        where = f"{path}:{node.lineno}"
        if len(node.args) != 1 or node.keywords:
            raise SourceError(f"{where}: Func takes one argument, e.g. Func(Query[[text], nat])")
        spec = node.args[0]
        mode = _name_of(spec.value) if isinstance(spec, ast.Subscript) else None
        if mode not in FUNC_MODES:
            raise SourceError(f"{where}: a Func's mode must be Query, Update or Oneway")
        parts = spec.slice  # type: ignore[union-attr]
        shaped = isinstance(parts, ast.Tuple) and len(parts.elts) == 2 and isinstance(parts.elts[0], ast.List)
        if not shaped:
            raise SourceError(f"{where}: write a Func as Func({mode}[[param types], return type])")
        params = tuple(self.texpr(p, path) for p in parts.elts[0].elts)
        returns = () if mode == "Oneway" else self._returns(parts.elts[1], path)
        return Func(params, returns, FUNC_MODES[mode])

    # -- resolution ---------------------------------------------------------------------------------------

    def finish(self) -> Interface:
        iface = self.iface
        # Aliases may name classes declared later; resolve until no progress.
        for name, value, path in self.pending_aliases:
            if name in self.class_kinds:  # a module-level name that is also a Record/Variant class
                continue
            try:
                iface.types[name] = self.texpr(value, Path(path))
            except SourceError:
                if _is_func(value):
                    raise  # a Func(...) is a type for certain: its error is the user's to see
                iface.types.pop(name, None)
        # Drop aliases that referred to dropped ones.
        changed = True
        while changed:
            changed = False
            for name, t in list(iface.types.items()):
                if isinstance(t, tuple) and t and t[0] == "alias":
                    del iface.types[name]
                    changed = True
                elif not isinstance(t, tuple) and not self._refs_ok(t):
                    del iface.types[name]
                    changed = True
        for name, t in list(iface.types.items()):
            if isinstance(t, tuple) and t[0] == "pending":
                _, kind, fields, path = t
                built = tuple((fname, self.texpr(ann, path)) for fname, ann in fields)
                iface.types[name] = Record(built) if kind == "Record" else Variant(built)
        for name, t in BUILTIN_TYPES.items():
            iface.types.setdefault(name, t)
        for name, m in list(iface.methods.items()):
            _, node, kind, guard, modname, path = m  # type: ignore[misc]
            params = tuple(self.texpr(a.annotation, path) for a in node.args.args)
            ret = node.returns
            is_async = isinstance(ret, ast.Subscript) and _name_of(ret.value) == "Async"
            manual = isinstance(ret, ast.Subscript) and _name_of(ret.value) == "Manual"
            if kind in ("query", "update"):
                returns = self._returns(ret, path)
            else:
                returns = ()
            iface.methods[name] = Method(name, kind, params, returns, guard, is_async, manual, modname)
        for mid, decl in list(iface.stable_maps.items()):
            _, k, v, values, path = decl  # type: ignore[misc]
            iface.stable_maps[mid] = StableMapDecl(
                mid,
                self.texpr(k, path),
                self.texpr(v, path),
                values["max_key_size"],
                values["max_value_size"],
            )
        for kind in ("init", "post_upgrade", "pre_upgrade", "heartbeat", "inspect_message"):
            if sum(1 for m in iface.methods.values() if m.kind == kind) > 1:
                raise SourceError(f"more than one @{kind} function")
        return iface

    def _refs_ok(self, t: CType) -> bool:
        if isinstance(t, Ref):
            return t.name in self.iface.types or t.name in BUILTIN_TYPES
        if isinstance(t, Opt | Vec):
            return self._refs_ok(t.inner)
        if isinstance(t, Record | Variant):
            return all(self._refs_ok(ft) for _, ft in t.fields)
        if isinstance(t, Func):
            return all(self._refs_ok(x) for x in t.params + t.returns)
        return True


def _is_func(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and _name_of(node.func) == "Func"


def read_interface(entry: str | Path) -> tuple[Interface, list[Path]]:
    """The interface of the canister whose entry module is `entry`, and the source files it is built from."""
    entry = Path(entry).resolve()
    if not entry.is_file():
        raise SourceError(f"{entry}: no such file")
    reader = _Reader(entry.parent)
    reader.walk(entry, entry.stem)
    return reader.finish(), reader.files
