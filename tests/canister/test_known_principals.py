"""known_principals: kybra's Principal.from_str memoized, with Principals that keep their text."""

import importlib
import sys
from pathlib import Path

import pytest
from kybra import Principal

SOURCE = str(Path(__file__).resolve().parents[2] / "canister" / "src")


@pytest.fixture
def known():
    if SOURCE not in sys.path:
        sys.path.insert(0, SOURCE)
    module = importlib.import_module("known_principals")
    module.install()
    return module


def test_a_text_is_parsed_once_and_its_principal_prints_that_text(known):
    first = Principal.from_str("2vxsx-fae")
    assert first is Principal.from_str("2vxsx-fae")
    assert first.to_str() == "2vxsx-fae" and first.bytes == b"\x04" and isinstance(first, Principal)
    assert str(first) == "2vxsx-fae"
    assert first.isPrincipal is True and first.to_str() is first.to_str()   # (Kybra's glue reads both)


def test_a_bad_text_is_refused_as_kybra_refuses_it(known):
    with pytest.raises(Exception, match="principal format error"):
        Principal.from_str("2vxsx-fad")
    with pytest.raises(Exception, match="principal format error"):
        Principal.from_str("2VXSX-FAE")  # not the canonical form


def test_importing_it_again_does_not_stack_memos(known):
    kybra_parse = known._parse
    for _ in range(3):
        del sys.modules["known_principals"]
        again = importlib.import_module("known_principals")
        again.install()
        assert again._parse is kybra_parse
    assert Principal.from_str("aaaaa-aa").to_str() == "aaaaa-aa"


def test_the_memo_stays_bounded(known):
    for i in range(known.MEMO_SIZE + 5):
        known.from_text(Principal(bytes=i.to_bytes(4, "big")).to_str())
    assert len(known._memo) <= known.MEMO_SIZE
