"""json_text gives exactly what the json module gives (text out, values in, refusals), in linear time."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kybra_simple_db import json_text

COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(), inner, max_size=4)),
                      max_leaves=20)


def same(a, b) -> bool:
    """Equal as JSON values (NaN equals NaN, int and float kept apart)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b


@settings(max_examples=300, deadline=None)
@given(values)
def test_encode_matches_json(value):
    assert json_text.encode(value) == COMPACT.encode(value)
    assert json_text.encode(value, sort_keys=True) == CANONICAL.encode(value)


class _Text(str):
    pass


class _Number(int):
    def __repr__(self):
        return "number"


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=3), st.one_of(values, st.text().map(_Text),
                                                     st.integers().map(_Number)), max_size=20))
def test_a_dict_encodes_as_json_does_with_keys_new_then_known(value):
    for _ in range(2):  # keys met for the first time, then known (up to json_text._SHORT items and beyond)
        assert json_text.encode_dict(value) == COMPACT.encode(value)
        assert json_text.encode(value) == COMPACT.encode(value)
    mixed = dict(value, **{"k": 1})
    mixed[2] = [True, None, 1.5]    # a key other than text: json's own encoder
    assert json_text.encode_dict(mixed) == COMPACT.encode(mixed)


@settings(max_examples=300, deadline=None)
@given(values, st.booleans())
def test_decode_matches_json(value, pretty):
    text = json.dumps(value, indent=1 if pretty else None, ensure_ascii=pretty)
    assert same(json_text.decode(text), json.loads(text))
    compact = COMPACT.encode(value)
    assert same(json_text.decode(compact, trusted=True), json.loads(compact))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), st.one_of(scalars, st.dictionaries(st.text(), scalars, max_size=5)),
                       max_size=6))
def test_decode_record_matches_json(record):
    text = COMPACT.encode(record)
    assert same(json_text.decode_record(text), json.loads(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]:,"\\ 0123456789.eE+-tfrunlasNIiy\x01\t\né', max_size=30))
def test_decode_refuses_what_json_refuses(text):
    _decodes_as_json_does(text)


def _decodes_as_json_does(text: str) -> None:
    """decode and decode_record give json.loads(text), or refuse it as json does."""
    try:
        expected = json.loads(text)
    except RecursionError:
        return
    except ValueError:
        with pytest.raises(ValueError):
            json_text.decode(text)
        if text.isprintable():   # trusted text skips the control character checks
            with pytest.raises(ValueError):
                json_text.decode_record(text)
        return
    assert same(json_text.decode(text), expected)
    assert same(json_text.decode_record(text), expected)


escapes = st.text(alphabet='"\\/abu0\x00\x01\x1f\x08\n\té\U0001f600', max_size=40)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(escapes, st.one_of(escapes, st.lists(escapes, max_size=3)), max_size=4), st.booleans())
def test_text_full_of_escapes_decodes_as_json_does(value, ascii_only):
    """Quotes, backslashes and control characters, escaped by `encode` (trusted) or by json (escapes
    of any character, `ensure_ascii`)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only)
    assert same(json_text.decode(text), json.loads(text))
    assert same(json_text.decode_record(text), json.loads(text))
    trusted = json_text.encode(value)
    assert same(json_text.decode(trusted, trusted=True), value)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[]:,"\\ unab0\x00\x01\x02', max_size=30))
def test_decode_refuses_what_json_refuses_among_escapes(text):
    _decodes_as_json_does(text)


@pytest.mark.parametrize("text", ["", "{", "[1,]", '{"a":1,}', '{"a" 1}', "01", "1.", ".5", "+1", "[1 2]",
                                  '{"a":1}x', '"\x01"', '{"a":tru}', '"abc', '["a\\"]', "{1:2}", "[1,,2]",
                                  "\ufeff[]", "[1]\x0c", '{"a":"\\x"}', "[-]", "1e", "[}", "{]", '{"a":01}'])
def test_refusals_are_value_errors(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        json_text.decode(text)


def test_deep_nesting_decodes_without_recursion():
    text = "[" * 5000 + "]" * 5000
    value = json_text.decode(text)
    for _ in range(4999):
        value = value[0]
    assert value == []


def test_escaped_quotes_and_backslashes():
    for text in ['"a\\"b"', '"\\\\"', '["a\\\\",1]', '{"k\\"":"v\\\\\\""}', '"\\u00e9\\n\\t"']:
        assert json_text.decode(text) == json.loads(text)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=6), st.data())
def test_a_dict_and_some_of_its_items_encode_as_json_does(value, data):
    names = data.draw(st.lists(st.sampled_from(list(value)), unique=True) if value else st.just([]))
    part = {name: value[name] for name in names}
    for _ in range(2):  # keys met before, then cached
        assert json_text.encode_with_part(value, part) == (COMPACT.encode(value), COMPACT.encode(part))
        assert json_text.encode_with_part(value, None) == (COMPACT.encode(value), None)
    other = dict(part, **{"\x00" + "".join(value): 1})     # with an entry that is not one of the dict's
    assert json_text.encode_with_part(value, other)[1] in (None, COMPACT.encode(other))


def _workload(storage_factory):
    from kybra_simple_db import Database, Entity, Float, Integer, ManyToMany, String, type_registry

    type_registry.clear()
    storage = storage_factory()
    Database.init(db_storage=storage, audit_enabled=True, clock=lambda: 1_700_000_000_000_000_000)

    class Item(Entity):
        __alias__ = "name"
        name = String()
        size = Integer(indexed=True)
        ratio = Float()
        note = String(indexed=True)
        tags = ManyToMany("Tag", "items")

    class Tag(Entity):
        label = String()
        items = ManyToMany("Item", "tags")

    a = Item(name='a "quoted" \\ name é', size=3, ratio=0.1, note="x\ny")
    Item(name="b", size=3, ratio=None, note=None)
    Item(name="c", size=5, tags=[Tag(label="t")])      # the audit entry holds the links too
    a.size = 4
    with Database.get_instance().as_user('bob "b" é'):     # another updater, quoted in the document
        a.update_fields({"size": 6, "note": "n"})
        Item.load(2).update_fields({"ratio": 2.5})
    a.set_owner("carol")
    a.update_fields({"name": "a2"})
    db = Database.get_instance()
    with db.transaction():
        Item.load(3).update_checked({"note": "z", "size": 7})     # the canister's update
    b = Item.load(2)
    b._do_not_save = True
    b.size = 8
    b._save()       # the changes of a save
    b._save()       # nothing changed: a "_touched" entry, not a field
    b._do_not_save = False

    class Open(Entity):     # undeclared fields, one named like the transfer's entry, one with a long name
        pass

    o = Open(owner="x", **{"f" * 70: 1})
    o.update_fields({"owner": "y", "f" * 70: 2})
    o.set_owner("dave")
    loaded = {(i.name, i.size, i.ratio, i.note) for i in Item.instances()}
    return dict(storage._data), loaded, Item.count_by("size", 3)


def test_engine_without_native_json_stores_the_same_bytes(monkeypatch):
    """The path Kybra's RustPython takes (no C accelerators) writes and reads exactly what CPython's does."""
    from kybra_simple_db import MemoryMap
    from kybra_simple_db import key_layout as keys

    native = _workload(lambda: MemoryMap(0, 100, 1000))
    monkeypatch.setattr(keys, "_FAST", None)
    monkeypatch.setattr(keys, "NATIVE_JSON", False)
    plain = _workload(lambda: MemoryMap(0, 100, 1000))
    assert plain == native


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=st.characters(max_codepoint=127)),
                 st.text(alphabet="ab \t\n\x00\x1f\x7f\x80\xa0\u2028é")))
def test_printable_is_isprintable(text):
    """The control-character test that stands for `str.isprintable` (far cheaper on Kybra's RustPython)."""
    assert json_text._printable(text) == text.isprintable()


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(['{', '}', '[', ']', ':', ',', '"a"', '"b"', '1', ' ', '":', ',"', 'null']),
                max_size=14).map("".join))
def test_keys_joined_with_their_colon_and_comma_decode_as_json_does(text):
    """Text made of the pieces `_tokens` joins (`":` and `,":`) in every arrangement, valid or not."""
    _decodes_as_json_does(text)


def test_keys_with_and_without_spaces_around_their_colon():
    for text in ('{"a":1,"b":2}', '{"a" :1, "b": 2}', '{"a":{"b":{},"c":[]},"d":"e"}', '[1,"a":2]', '["a":1]',
                 '{"a":1,"b"}', '{,"a":1}', '{"a":1,,"b":2}', '{"a":"b":1}', '[{"a":1},"b":2]',
                 '{"":1,"":2}'):
        _decodes_as_json_does(text)
