"""json_text.decode_record and db_entity._read_document (how the engine reads its documents without
json's C accelerators) give json.loads of any document text: the engine's layout, escapes, nested values,
optional entries, null owners, malformed numbers."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from kybra_simple_db.db_entity import _read_document
from kybra_simple_db.json_text import decode_record
from test_json_text import COMPACT, same

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text())
field_values = st.one_of(scalars, st.lists(scalars, max_size=2),
                         st.dictionaries(st.text(), scalars, max_size=2))
meta_text = st.one_of(st.text(), st.none(), st.integers())
stamps = st.one_of(st.integers(min_value=0), st.floats(), st.none(), st.text(max_size=3))


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.integers(min_value=0), st.text(max_size=2)),
       st.dictionaries(st.text(), field_values, max_size=5), meta_text, meta_text, meta_text, stamps, stamps,
       st.dictionaries(st.sampled_from(["i", "sv", "x", "p"]), scalars, max_size=2))
def test_decode_record_matches_json(version, fields, owner, creator, updater, created, updated, extra):
    doc = {"v": version, "f": fields, "o": owner, "c": creator, "u": updater, "tc": created, "tu": updated}
    doc.update(extra)
    text = COMPACT.encode(doc)
    assert same(decode_record(text), json.loads(text))
    assert same(_read_document(text), json.loads(text))


def test_engine_layout_and_near_misses():
    base = ('{"v":3,"f":{"name":"a:b,c","qty":-12,"ok":true,"x":1.5,"n":null,"s":""},"o":"aaa-b","c":"c",'
            '"u":"","tc":1796574328708192993,"tu":1796574328708192994}')
    texts = [base, base.replace('"f":{', '"f":{"z":"0"},"g":{'), base.replace('"v":3', '"v":03'),
             base.replace('"tu":1', '"tu":01'), base.replace(':-12', ':012'), base.replace(':-12', ':-'),
             base.replace(':-12', ':1e5'), base.replace('"o":"aaa-b"', '"o":null'),
             base[:-1] + ',"i":"peter"}', base.replace('"f":{"name"', '"f":{"n\\"ame"'),
             base.replace('"s":""}', '"s":"},"}'), '{"v":1,"f":{},"o":"a","c":"b","u":"c","tc":1,"tu":2}',
             '{"v":1,"f":{"a":1},"o":"a","c":"b","u":"c","tc":1,"tu":2}']
    texts += [base.replace(':-12', ':0'), base.replace(':-12', ':00'),
              base.replace('"tc":1', '"tc":0,"tc":1'),
              base.replace('"qty":-12', '"qty"x12'), base.replace('"s":""}', '"s":""},"r":{}'),
              base.replace('"v":3', '"v":٣'), base.replace('"tc":1796574328708192993', '"tc":0'),
              base.replace('"f":{', '"f":{"o":"a","c":"b","u":"c","tc":1,"tu":2},"g":{'),
              base.replace(',"s":""}', ',"s":"x"},"o":"a","c":"b","u":"c","tc":1,"tu":2,"f":{"s":""}'),
              base.replace('"x":1.5,', ''), base.replace(',"s":""', ''), '{"v":1,"f":{"a":"b"}}', '[]']
    for text in texts:
        try:
            expected = json.loads(text)
        except ValueError:      # refused by json: the shortcut does what decode_record does
            assert _outcome(_read_document, text) == _outcome(decode_record, text), text
            continue
        assert same(decode_record(text), expected), text
        assert same(_read_document(text), expected), text


def _outcome(read, text: str):
    try:
        return read(text)
    except ValueError:
        return ValueError



plain_text = st.text(alphabet=st.characters(blacklist_characters='"\\', blacklist_categories=("Cs",)),
                     max_size=8)


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0), st.dictionaries(plain_text, st.one_of(scalars, plain_text), max_size=5),
       plain_text, plain_text, plain_text, st.integers(min_value=0), st.integers(min_value=0))
def test_the_engine_layout_reads_like_json(version, fields, owner, creator, updater, created, updated):
    """Documents as the engine writes them (the shortcut's own path, mostly)."""
    doc = {"v": version, "f": fields, "o": owner, "c": creator, "u": updater, "tc": created, "tu": updated}
    text = COMPACT.encode(doc)
    assert same(_read_document(text), json.loads(text))
