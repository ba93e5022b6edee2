"""The client's Candid types equal canister/simple_db.did, method by method (types, query or update)."""

from pathlib import Path

import pytest
from antlr4 import CommonTokenStream, InputStream, ParseTreeWalker
from ic.parser.DIDEmitter import DIDEmitter, DIDLexer, DIDParser
from simple_db_client import candid_types as C

DID = Path(__file__).resolve().parents[2] / "canister" / "simple_db.did"


def _service():
    parser = DIDParser(CommonTokenStream(DIDLexer(InputStream(DID.read_text()))))
    emitter = DIDEmitter()
    ParseTreeWalker().walk(emitter, parser.program())
    return emitter.getActor()["methods"]


SERVICE = _service()


def test_same_methods():
    assert set(SERVICE) == set(C.METHODS)


@pytest.mark.parametrize("name", sorted(C.METHODS))
def test_same_signature(name):
    args, result, kind = C.METHODS[name]
    method = SERVICE[name]
    assert [t.name for t in method.argTypes] == [t.name for t in args]
    assert [t.name for t in method.retTypes] == [result.name]
    assert ("query" in method.annotations) == (kind == "query")
