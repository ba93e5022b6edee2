"""canister/simple_db.did (the contract clients build against) equals the interface main.py declares, as
localnet's generator reads it from the source the way Kybra's compiler does; same for the consumer."""

import re
from pathlib import Path

import pytest

from localnet.candid_types import did_text
from localnet.source_interface import read_interface

ROOT = Path(__file__).resolve().parents[2]
CASES = [
    (ROOT / "canister" / "src" / "main.py", ROOT / "canister" / "simple_db.did"),
    (ROOT / "examples" / "consumer" / "src" / "main.py", ROOT / "examples" / "consumer" / "consumer.did"),
]
TOKEN = re.compile(r"->|[A-Za-z_][A-Za-z0-9_]*|\d+|\"[^\"]*\"|[{}();:,=]")


def tokens(did: str) -> list[str]:
    text = re.sub(r"//[^\n]*", "", did)
    out = []
    for token in TOKEN.findall(text):
        if token == "}" and out and out[-1] == ";":
            out.pop()
        out.append(token)
    return out


def parse_did(did: str) -> dict:
    """{"types": {name: token text}, "methods": {name: token text}}: order-free, layout- and comment-free."""
    toks = tokens(did)
    types, methods = {}, {}
    i = 0
    while i < len(toks):
        if toks[i] == "type":
            name, depth, j = toks[i + 1], 0, i + 3
            while not (toks[j] == ";" and depth == 0):
                depth += toks[j] in "{(" and 1 or 0
                depth -= toks[j] in "})" and 1 or 0
                j += 1
            types[name] = " ".join(toks[i + 3 : j])
            i = j + 1
        elif toks[i] == "service":
            j = toks.index("{", i) + 1
            while toks[j] != "}":
                name, k = toks[j], j + 2
                while toks[k] not in (";", "}"):
                    k += 1
                methods[name] = " ".join(toks[j + 2 : k])
                j = k + 1 if toks[k] == ";" else k
            i = j + 1
        else:
            raise AssertionError(f"unexpected token {toks[i]!r} in .did")
    return {"types": types, "methods": methods}


@pytest.mark.parametrize("entry,did", CASES, ids=["simple_db", "consumer"])
def test_checked_in_did_equals_generated(entry, did):
    iface, _ = read_interface(entry)
    generated = parse_did(did_text(iface))
    checked_in = parse_did(did.read_text())
    assert checked_in["methods"] == generated["methods"]
    assert checked_in["types"] == generated["types"]


def test_did_parser_sees_differences():
    base = "type A = record { x : nat };\nservice : { f : (A) -> (A) query; }"
    assert parse_did(base) == parse_did(
        "// c\ntype A = record {\n  x : nat;\n};\nservice : {\n f : (A) -> (A) query\n}"
    )
    assert parse_did(base) != parse_did(base.replace("x : nat", "x : int"))
    assert parse_did(base) != parse_did(base.replace(" query", ""))
