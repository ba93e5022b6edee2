"""A canister's Python sources packed into a valid WebAssembly module, so that the real CLIs can build,
hold and upload it (`icp deploy`, `icp canister install`) and localnet can install it.

The module is the wasm header followed by custom sections only: `icp:public candid:service` (the
`.did`, where ic-wasm puts it and the IC serves it as metadata), `localnet:entry` (the entry module's
path) and `localnet:sources` (every `.py` file under the entry's directory, zlib-compressed). It is
valid wasm but has no code: a real replica would install it as a canister that answers nothing, so it
is built only for localnet (see icp.yaml, where other environments keep Kybra's real build).

    python -m localnet.wasm_bundle ENTRY.py [--did FILE.did] [--out FILE.wasm]
"""

from __future__ import annotations

import argparse
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from localnet.candid_wire import uleb

WASM_HEADER = b"\x00asm\x01\x00\x00\x00"
CANDID_SECTION = "icp:public candid:service"
ENTRY_SECTION = "localnet:entry"
SOURCES_SECTION = "localnet:sources"
MAX_MODULE_BYTES = 100 * 1024 * 1024  # decompressed; the IC's own limit on a module is about this size


class BundleError(ValueError):
    """The bytes are not a wasm module localnet can install (with the reason)."""


@dataclass(frozen=True)
class Bundle:
    entry: str  # path of the entry module, relative to the sources' root
    sources: dict[str, bytes]  # relative path -> content
    candid: str | None


def _section(name: str, payload: bytes) -> bytes:
    raw = name.encode()
    body = uleb(len(raw)) + raw + payload
    return b"\x00" + uleb(len(body)) + body


def build(entry: Path, did: str | None = None) -> bytes:
    """The module for the canister whose entry module is `entry` (sources: every .py under its dir)."""
    entry = entry.resolve()
    root = entry.parent
    files = sorted(
        p for p in root.rglob("*.py") if "__pycache__" not in p.parts and not p.name.startswith(".")
    )
    packed = bytearray()
    for path in files:
        rel = path.relative_to(root).as_posix().encode()
        data = path.read_bytes()
        packed += uleb(len(rel)) + rel + uleb(len(data)) + data
    module = WASM_HEADER
    if did is not None:
        module += _section(CANDID_SECTION, did.encode())
    module += _section(ENTRY_SECTION, entry.relative_to(root).as_posix().encode())
    module += _section(SOURCES_SECTION, zlib.compress(bytes(packed), 9))
    return module


def decompressed(module: bytes) -> bytes:
    """The module itself: gzipped modules are accepted, as the IC accepts them."""
    if module[:2] != b"\x1f\x8b":
        return module
    try:
        raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(module, MAX_MODULE_BYTES + 1)
    except zlib.error as e:
        raise BundleError(f"the gzipped wasm module does not decompress: {e}") from None
    if len(raw) > MAX_MODULE_BYTES:
        raise BundleError("the wasm module is larger than 100 MiB decompressed")
    return raw


def custom_sections(module: bytes) -> dict[str, bytes]:
    """The custom sections of a wasm module (gzipped or not)."""
    module = decompressed(module)
    if module[:8] != WASM_HEADER:
        raise BundleError("not a wasm module (no \\0asm version 1 header)")
    sections: dict[str, bytes] = {}
    pos = 8
    while pos < len(module):
        section_id = module[pos]
        size, pos = _read_uleb(module, pos + 1)
        end = pos + size
        if end > len(module):
            raise BundleError("a wasm section runs past the end of the module")
        if section_id == 0:
            name_len, name_pos = _read_uleb(module, pos)
            if name_pos + name_len > end:
                raise BundleError("a wasm custom section name runs past its section")
            try:
                name = module[name_pos : name_pos + name_len].decode()
            except UnicodeDecodeError:
                raise BundleError("a wasm custom section name is not UTF-8") from None
            sections[name] = module[name_pos + name_len : end]
        pos = end
    return sections


def read(module: bytes) -> Bundle:
    """The sources a module built by `build` carries; BundleError says why other modules cannot run."""
    sections = custom_sections(module)
    if SOURCES_SECTION not in sections or ENTRY_SECTION not in sections:
        raise BundleError(
            "this wasm module carries no Python sources: localnet runs canisters built by "
            "`python -m localnet.wasm_bundle` (compiled wasm, e.g. Kybra's, cannot run on localnet)"
        )
    try:
        packed = zlib.decompressobj().decompress(sections[SOURCES_SECTION], MAX_MODULE_BYTES)
    except zlib.error as e:
        raise BundleError(f"the sources section does not decompress: {e}") from None
    sources: dict[str, bytes] = {}
    pos = 0
    while pos < len(packed):
        n, pos = _read_uleb(packed, pos)
        rel = packed[pos : pos + n].decode("utf-8", "replace")
        pos += n
        n, pos = _read_uleb(packed, pos)
        sources[_safe(rel)] = packed[pos : pos + n]
        pos += n
    entry = _safe(sections[ENTRY_SECTION].decode("utf-8", "replace"))
    if entry not in sources:
        raise BundleError(f"the entry module {entry} is not among the sources")
    candid = sections.get(CANDID_SECTION)
    return Bundle(entry, sources, candid.decode("utf-8", "replace") if candid is not None else None)


def extract(bundle: Bundle, directory: Path) -> Path:
    """Write the sources under `directory`; the entry module's path."""
    for rel, data in bundle.sources.items():
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return directory / bundle.entry


def _safe(rel: str) -> str:
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or ".." in parts or not rel.endswith(".py"):
        raise BundleError(f"unsafe source path in the module: {rel!r}")
    return Path(*parts).as_posix()


def _read_uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BundleError("malformed LEB128 number in the wasm module")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Pack a Kybra canister's Python sources into a wasm module.")
    parser.add_argument("entry", type=Path, help="the canister's entry module, e.g. canister/src/main.py")
    parser.add_argument("--did", type=Path, help="the .did to embed as candid:service metadata")
    parser.add_argument("--out", help="output file (default: $ICP_WASM_OUTPUT_PATH)")
    args = parser.parse_args(argv)
    out = args.out or os.environ.get("ICP_WASM_OUTPUT_PATH")
    if not out:
        print("wasm_bundle: give --out or set ICP_WASM_OUTPUT_PATH", file=sys.stderr)
        return 2
    if not args.entry.is_file():
        print(f"wasm_bundle: {args.entry}: no such file", file=sys.stderr)
        return 2
    did = args.did.read_text(encoding="utf-8") if args.did else None
    Path(out).write_bytes(build(args.entry, did))
    return 0


if __name__ == "__main__":
    sys.exit(main())
