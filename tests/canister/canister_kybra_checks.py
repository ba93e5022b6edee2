"""Offline checks that canister source is buildable by Kybra 0.7.1: its own bundling step, Python 3.10
syntax, and the rules its compiler imposes on canister methods (IC-FACTS.md section 2)."""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import kybra

CANISTER_DECORATORS = {
    "query",
    "update",
    "init",
    "pre_upgrade",
    "post_upgrade",
    "heartbeat",
    "inspect_message",
}
ENDPOINT_DECORATORS = {"query", "update"}
SPECIAL_BASES = {"Record", "Variant", "Service"}


def load_kybra_bundler() -> dict:
    """Kybra's own build module (kybra/__main__.py) with its top-level `main()` call left out."""
    source = Path(kybra.__file__).with_name("__main__.py").read_text()
    tree = ast.parse(source)
    tree.body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Call))]
    namespace: dict = {"__name__": "kybra_build"}
    exec(compile(tree, str(Path(kybra.__file__).with_name("__main__.py")), "exec"), namespace)
    return namespace


def run_kybra_bundle(entry: Path, tmp: Path) -> tuple[list, Path]:
    """Run Kybra's `bundle_python_code` on `entry` into the directory `tmp` (a test's temporary directory,
    removed by pytest); returns the module graph's nodes and the bundle directory (python_source)."""
    namespace = load_kybra_bundler()
    graphs: list = []
    graph_class = namespace["modulegraph"].modulegraph.ModuleGraph
    real_init = graph_class.__init__

    def recording_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        graphs.append(self)

    paths = {
        "py_entry_file": str(entry),
        "python_source": str(tmp / "python_source"),
        "custom_modules": os.path.join(os.path.dirname(kybra.__file__), "compiler", "custom_modules"),
        "py_file_names_file": str(tmp / "py_file_names.csv"),
    }
    graph_class.__init__ = recording_init
    try:
        namespace["bundle_python_code"](paths)
    finally:
        graph_class.__init__ = real_init
    graph = graphs[0]
    script = next(n for n in graph.flatten() if type(n).__name__ == "Script")
    return list(graph.flatten(start=script)), Path(paths["python_source"])


def bundle_collisions(nodes: list) -> list[str]:
    """Names that Kybra's flattening copy would write twice: module files are copied by basename,
    packages by their dotted name."""
    seen: dict[str, str] = {}
    problems = []
    for node in nodes:
        kind = type(node).__name__
        if kind in ("Script", "SourceModule"):
            target = os.path.basename(node.filename)
        elif kind in ("Package", "NamespacePackage"):
            target = node.identifier
        else:
            continue
        origin = getattr(node, "filename", None) or node.identifier
        if target in seen and seen[target] != origin:
            problems.append(f"{target}: {seen[target]} and {origin}")
        seen.setdefault(target, origin)
    return problems


def local_missing(nodes: list) -> list[str]:
    """Imports the bundler could not resolve that are not stdlib (RustPython provides those): a module
    the canister needs would be missing from the build."""
    found = {node.identifier for node in nodes if type(node).__name__ != "MissingModule"}
    missing = []
    for node in nodes:
        if type(node).__name__ != "MissingModule":
            continue
        if node.identifier.rpartition(".")[0] in found:
            continue  # `from package.module import name`: modulegraph also tries `name` as a module
        top = node.identifier.split(".")[0]
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            continue
        missing.append(node.identifier)
    return missing


def stdlib_shadows(source_root: Path) -> list[str]:
    """Module files or packages under `source_root` (at any depth: the bundler flattens) named like stdlib."""
    names = [p.stem for p in source_root.rglob("*.py") if p.stem != "__init__"]
    names += [p.name for p in source_root.rglob("*") if p.is_dir() and (p / "__init__.py").exists()]
    return sorted(n for n in names if n in sys.stdlib_module_names)


def duplicate_basenames(source_root: Path) -> list[str]:
    stems: dict[str, Path] = {}
    dups = []
    for path in sorted(source_root.rglob("*.py")):
        if path.stem == "__init__":
            continue
        if path.stem in stems:
            dups.append(f"{stems[path.stem]} and {path}")
        stems[path.stem] = path
    return dups


def syntax_problems(path: Path) -> list[str]:
    """3.10 syntax, no `match` statement, no `{**d}` dict unpacking, no `else` on a loop (Kybra's
    RustPython miscounts the stack of a for-else that returns a tuple and panics: `unreachable`)."""
    source = path.read_text()
    try:
        tree = ast.parse(source, filename=str(path), feature_version=(3, 10))
    except SyntaxError as exc:
        return [f"{path}:{exc.lineno}: not Python 3.10: {exc.msg}"]
    problems = []
    for node in ast.walk(tree):
        if type(node).__name__ == "Match":
            problems.append(f"{path}:{node.lineno}: match statement")
        if isinstance(node, ast.Dict) and any(k is None for k in node.keys):
            problems.append(f"{path}:{node.lineno}: dict unpacking {{**...}}")
        if isinstance(node, (ast.For, ast.While)) and node.orelse:
            problems.append(f"{path}:{node.lineno}: else on a loop")
    return problems


def decorator_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def method_problems(path: Path) -> list[str]:
    """Canister methods: every parameter and the return annotated, at most 5 parameters, no *args or
    **kwargs, no leading underscore; and no `@update` after a function named `update` rebinds it."""
    tree = ast.parse(path.read_text(), feature_version=(3, 10))
    problems = []
    rebound = set()
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        decorators = {decorator_name(d) for d in node.decorator_list}
        for name in decorators & rebound:
            problems.append(f"{path}:{node.lineno}: @{name} used after `def {name}` rebound it")
        if not decorators & CANISTER_DECORATORS:
            continue
        where = f"{path}:{node.lineno} {node.name}"
        args = node.args
        if node.name.startswith("_"):
            problems.append(f"{where}: name starts with _")
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
            problems.append(f"{where}: only plain positional parameters are allowed")
        if len(args.args) > 5:
            problems.append(f"{where}: {len(args.args)} parameters (at most 5)")
        for arg in args.args:
            if arg.annotation is None:
                problems.append(f"{where}: parameter {arg.arg} not annotated")
        if node.returns is None:
            problems.append(f"{where}: return not annotated")
        if node.name in CANISTER_DECORATORS:
            rebound.add(node.name)
    return problems


def special_names_outside(path: Path) -> list[str]:
    """Kybra-special constructs in a module that is not the entry module."""
    tree = ast.parse(path.read_text(), feature_version=(3, 10))
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for d in node.decorator_list:
                if decorator_name(d) in CANISTER_DECORATORS:
                    problems.append(f"{path}:{node.lineno}: @{decorator_name(d)}")
            if isinstance(node.returns, ast.Name) and node.returns.id == "GuardResult":
                problems.append(f"{path}:{node.lineno}: GuardResult function")
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id in SPECIAL_BASES:
                    problems.append(f"{path}:{node.lineno}: class based on {base.id}")
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            if node.value.id == "StableBTreeMap":
                problems.append(f"{path}:{node.lineno}: StableBTreeMap declaration")
    return problems
