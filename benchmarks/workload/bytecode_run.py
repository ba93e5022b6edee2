"""Subprocess entry: Python bytecodes executed per operation, for one package at one size.

`python -m benchmarks.workload.bytecode_run --package ours --size 1000 --out result.json`, started
by `benchmarks.bytecodes` with each package's own interpreter. Counts come from `sys.settrace`
with `f_trace_opcodes` (every opcode of every Python frame, the package's and the standard
library's), so they are exact and repeat run to run; C code (dict, json's C encoder) costs nothing
here, which is why they track Kybra's RustPython (where everything runs as bytecode) better than
time does. The counting storage map's frames are left out (on the IC the map is native code).
Standard library only: it runs inside the upstream packages' environments.
"""

import argparse
import gc
import json
import sys
from collections.abc import Callable
from typing import Any, Optional

from .adapters import ADAPTERS
from .counting_map import Counters, CountingMap

MAX_KEY_SIZE = 100
MAX_VALUE_SIZE = 1000
SAMPLES = 5
PAGE = 100


STORAGE_CODE = CountingMap.get.__code__.co_filename


def count_opcodes(operation: Callable[[], Any], by_function: Optional[dict] = None) -> int:
    """Opcodes executed by `operation()`, without the storage map's own (it stands in for Kybra's
    StableBTreeMap, which runs natively, not as Python bytecode). With `by_function`, each
    function's opcodes are also added to `by_function["file:function"]` (the profile)."""
    executed = 0

    def tracer(frame, event, arg):
        nonlocal executed
        if event == "call":
            code = frame.f_code
            if code.co_filename == STORAGE_CODE:
                return None
            frame.f_trace_opcodes = True
            frame.f_trace_lines = False
            if by_function is not None:
                return function_tracer(f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_name}")
        elif event == "opcode":
            executed += 1
        return tracer

    def function_tracer(name: str):
        by_function.setdefault(name, 0)

        def trace(frame, event, arg):
            nonlocal executed
            if event == "opcode":
                executed += 1
                by_function[name] += 1
            return trace
        return trace

    gc.collect()
    gc.disable()
    sys.settrace(tracer)
    try:
        operation()
    finally:
        sys.settrace(None)
        gc.enable()
    return executed


def mean_of(counts: list) -> int:
    return round(sum(counts) / len(counts))


def measure(package: str, size: int, profile: Optional[dict] = None) -> dict:
    """Mean opcodes of each operation; with `profile` ({operation: {}}), the named operations' opcodes
    per function too (the mean over the samples, as the totals)."""
    profile = profile or {}
    runs = dict.fromkeys(profile, 0)

    def counted(name: str, operation: Callable[[], Any]) -> int:
        if name in runs:
            runs[name] += 1
        return count_opcodes(operation, profile.get(name))

    adapter = ADAPTERS[package]()
    counters = Counters()
    data = CountingMap(counters, MAX_KEY_SIZE, MAX_VALUE_SIZE)
    audit = CountingMap(counters, MAX_KEY_SIZE, MAX_VALUE_SIZE)
    adapter.open(data, audit)
    tag = adapter.create_tag("tag")
    for i in range(1, size + 1):
        adapter.create_person(i)
    middle = size // 2
    samples = range(middle, middle + SAMPLES)
    out = {}
    out["create"] = mean_of([counted("create", lambda i=i: adapter.create_person(size + i))
                             for i in range(1, 1 + SAMPLES)])
    cold = []
    for i in samples:
        adapter.reopen()
        cold.append(counted("get_cold", lambda i=i: adapter.get_by_id(i)))
    out["get_cold"] = mean_of(cold)
    alias = []
    for i in samples:
        adapter.reopen()
        alias.append(counted("get_by_alias", lambda i=i: adapter.get_by_alias(f"person-{i}")))
    out["get_by_alias"] = mean_of(alias)
    adapter.reopen()
    tag = adapter.Tag.load("1")
    people = [adapter.get_by_id(i) for i in samples]
    out["update_one_field"] = mean_of([counted("update_one_field", lambda p=p: adapter.update(p, 77))
                                       for p in people])
    out["link"] = mean_of([counted("link", lambda p=p: adapter.link(tag, p)) for p in people])
    out["unlink"] = mean_of([counted("unlink", lambda p=p: adapter.unlink(tag, p)) for p in people])
    out["delete"] = mean_of([counted("delete", lambda p=p: adapter.delete(p)) for p in people])
    pages = []
    for start in (middle - 2 * PAGE, middle + SAMPLES):
        adapter.reopen()
        pages.append(counted("page_of_100", lambda s=start: adapter.page(s, PAGE)))
    out["page_of_100"] = mean_of(pages)
    result = {"package": package, "version": adapter.version, "size": size, "bytecodes": out}
    if profile:
        result["profile"] = {op: sorted(((name, round(n / runs[op])) for name, n in counts.items()),
                                        key=lambda item: -item[1])
                             for op, counts in profile.items()}
    return result


def without_c_json() -> None:
    """Make our engine encode and decode as it does where json has no C accelerators (Kybra's
    RustPython): there every bytecode of json_text counts, which CPython's C encoder hides."""
    from kybra_simple_db import key_layout

    key_layout._FAST = None
    key_layout.NATIVE_JSON = False


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--package", required=True, choices=sorted(ADAPTERS))
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--profile", default="", help="operations to profile per function, comma-separated")
    parser.add_argument("--rustpython-json", action="store_true",
                        help="our engine without json's C encoder, the path it takes on Kybra's RustPython")
    args = parser.parse_args(argv)
    if args.size < 4 * PAGE:
        parser.error(f"--size must be at least {4 * PAGE}")
    profile = {op: {} for op in args.profile.split(",") if op}
    if args.rustpython_json:
        without_c_json()
    result = measure(args.package, args.size, profile)
    with open(args.out, "w") as out:
        json.dump(result, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
