"""AuditLog.parse gives what `json.loads` gives of an entry's text (its fast path reads the layout
`append` writes in whole-string steps), and refuses what json refuses, whatever the text holds."""

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from kybra_simple_db.audit_log import AuditLog

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
inner = st.dictionaries(st.text(max_size=3), scalars, max_size=3)
changes = st.dictionaries(st.text(max_size=6), st.one_of(scalars, inner), max_size=5)
names = st.text(max_size=12)


def _parsed(text: str):
    entry = AuditLog.parse(7, text)
    return [entry["time"], entry["caller"], entry["operation"], entry["type"], entry["id"], entry["changes"]]


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 2**70), names, names, names, st.integers(0, 2**70), changes)
def test_entries_parse_as_json_does(time_ns, caller, operation, type_name, entity_id, change):
    for text in (json.dumps([time_ns, caller, operation, type_name, entity_id, change], separators=(",", ":"),
                            ensure_ascii=False),
                 json.dumps([time_ns, caller, operation, type_name, entity_id, change])):
        assert _parsed(text) == json.loads(text)
        assert AuditLog.parse(3, text)["seq"] == 3


def _as_json_does(text: str) -> None:
    """parse reads `text` as json.loads does, or refuses it (json refuses it, or it is no entry)."""
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ValueError):
            AuditLog.parse(1, text)
        return
    if isinstance(expected, list) and len(expected) == 6:
        assert _parsed(text) == expected, text
    else:
        with pytest.raises((ValueError, TypeError)):
            AuditLog.parse(1, text)


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet='[]{}",:0123456789-.eab\\ ', max_size=40))
@example('"000000"')       # (json gives a text of 6 characters: no entry)
@example('{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}')
def test_other_texts_are_read_or_refused_as_json_does(text):
    _as_json_does(text)


def test_entries_near_the_layout():
    good = '[12,"a","create","t::T",5,{"x":1,"y":"z"}]'
    assert _parsed(good) == json.loads(good)
    for text in ('[012,"a","c","t",5,{}]', '[12,"a","c","t",05,{}]', '[12,"a","c","t",-5,{}]',
                 '[12,"a","c","t",5,{}]]', '[12,"a","c","t",5,{} ]', '[12,"a","c","t",5,[1]]',
                 '[12,"a","c","t","5",{}]', '[1.5,"a","c","t",5,{}]', '[12,"a","c","t",5,{"k":[1,{"a":2}]}]',
                 '[12,"a\\"b","c","t",5,{}]', '[12 ,"a","c","t",5,{}]', '[12,"a","c","t",5,{},1]',
                 '[12,"a","c","t",5,{"a":1}', '[12,"a","c","t",5,{"a":1}}]', '[١٢,"a","c","t",5,{}]'):
        _as_json_does(text)
