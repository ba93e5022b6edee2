"""The client's Candid types equal canister/simple_db.did, method by method (types, query or update)."""

import re
from pathlib import Path

import pytest
from antlr4 import CommonTokenStream, InputStream, ParseTreeWalker
from ic.candid import RecClass
from ic.parser.DIDEmitter import DIDEmitter, DIDLexer, DIDParser
from simple_db_client import candid_types as C

DID = Path(__file__).resolve().parents[2] / "canister" / "simple_db.did"


def _service():
    parser = DIDParser(CommonTokenStream(DIDLexer(InputStream(DID.read_text()))))
    emitter = DIDEmitter()
    ParseTreeWalker().walk(emitter, parser.program())
    return {name.strip('"'): method for name, method in emitter.getActor()["methods"].items()}


SERVICE = _service()


def test_same_methods():
    assert set(SERVICE) == set(C.METHODS)


def _shape(t) -> str:
    """A type's structural name; recursive types (ICRC-3 Value, GetBlocksResult) are numbered per
    construction, so their numbers are left out."""
    return re.sub(r"rec_\d+", "rec", t.display() if isinstance(t, RecClass) else t.name)


@pytest.mark.parametrize("name", sorted(C.METHODS))
def test_same_signature(name):
    args, result, kind = C.METHODS[name]
    method = SERVICE[name]
    assert [_shape(t) for t in method.argTypes] == [_shape(t) for t in args]
    assert [_shape(t) for t in method.retTypes] == [_shape(result)]
    assert ("query" in method.annotations) == (kind == "query")
