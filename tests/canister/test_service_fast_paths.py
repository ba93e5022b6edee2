"""The service layer's per-type shapes and inline checks (type_shapes.py, DbApi._values, the gateway's
held entity) answer exactly as the plain per-field path did: same stored values, same errors, and schema
changes seen at once. Service layer (db_api) on memory maps."""

import sys
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_maps import ADMIN, field, installed_api

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import api_limits  # noqa: E402 - the canister's own modules, found on its source path
import engine_gateway  # noqa: E402
import typedef_rules  # noqa: E402
from error_map import ApiError, invalid  # noqa: E402
from kybra_simple_db import get_caller_id  # noqa: E402
from value_codec import field_map, stored_from_value  # noqa: E402

ALICE = "rrkah-fqaaa-aaaaa-aaaaq-cai"
OPEN = {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
        "delete": {"Owner": None}}
TYPE = "fast::Thing"


FIELDS = [
    field("title", "Text", low=2.0, high=12.0, required=True),
    field("note", "Text", default={"Text": "none"}),
    field("qty", "Int", low=-5.0, high=50.0, default={"Int": 1}),
    field("code", "Text", low=2.5, high=4.0),
    field("tenth", "Int", low=-5.5, high=50.5),
    field("empty", "Text", high=0.0),
    field("big", "Int"),
    field("price", "Float", low=0.0, high=99.5),
    field("flag", "Bool", default={"Bool": False}),
    field("who", "Principal"),
    field("at", "Timestamp", low=10.0),
]


def _service():
    api, _ = installed_api()
    typedef = {"name": TYPE, "fields": FIELDS, "alias": None, "relations": [], "policy": OPEN}
    assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    return api


def reference_values(api, plain: dict, given: list, creating: bool) -> dict:
    """`DbApi._values` as it was written before the shapes: one registry lookup and conversion per field."""
    result = {}
    for name, value in field_map(given, most=len(plain["fields"])).items():
        field = api.registry.field(plain["name"], name)
        stored = stored_from_value(field["kind"], value, name, int(field["max"] or api_limits.MAX_TEXT))
        if stored is None and field["required"]:
            raise invalid("field " + name + " is required")
        if stored is not None:
            typedef_rules.check_bounds(field, stored)
        result[name] = stored
    if creating:
        for field in plain["fields"]:
            if field["name"] not in result or result[field["name"]] is None:
                if field["default"] is not None:
                    result[field["name"]] = field["default"]
                elif field["required"]:
                    raise invalid("field " + field["name"] + " is required")
    return result


def _outcome(function, *args):
    try:
        return "ok", function(*args)
    except ApiError as exc:
        return "error", exc.variant()
    except Exception as exc:  # noqa: BLE001 - a bug in either path must show up the same way
        return "raised", type(exc).__name__, str(exc)


PAYLOADS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([-5, -6, 50, 51, 0, 10, 9, 2**63 - 1, -(2**63), 2**63]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=14),
    st.sampled_from(["", "a", "ab", "abc", "abcd", "abcde", "x" * 12, "x" * 13, "x" * 2001, ALICE]),
)
TAGS = st.sampled_from(["Text", "Int", "Float", "Bool", "Principal", "Timestamp", "Null", "Other"])


class VariantDict(dict):
    """A dict subclass: a variant all the same (the per-field path checks isinstance)."""


class ListOfFields(list):
    """A list subclass: a `vec Field` all the same."""


# one-case lookalikes the inline checks must send down the per-field path: `value[kind]` works on the
# mapping proxy, `(tag,) = value` on the one-item list and the one-character text
LOOKALIKES = st.sampled_from([
    MappingProxyType({"Text": "abc"}), MappingProxyType({"Int": 3}), ["Text"], ("Int",), "T", {"Int"},
    VariantDict({"Text": "abc"}), VariantDict({"Int": 3}),
    {"Int": 3, "Text": "abc"}, {"Text": "abc", "Int": 3},
])
VALUE = st.one_of(
    st.builds(lambda tag, payload: {tag: payload}, TAGS, PAYLOADS),
    st.just({}), st.just({"Text": "ab", "Int": 3}), st.just("Text"), st.just(None), LOOKALIKES,
)
NAMES = st.sampled_from([f["name"] for f in FIELDS] + ["colour"])
ITEMS = st.lists(st.builds(lambda name, value: {"name": name, "value": value}, NAMES, VALUE), max_size=12)
GIVEN = st.one_of(ITEMS, ITEMS.map(ListOfFields), ITEMS.map(tuple))


@pytest.fixture(scope="module")
def svc():
    return _service()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(given_fields=GIVEN, creating=st.booleans())
def test_values_answer_as_the_per_field_path(svc, given_fields, creating):
    plain = svc.registry.get(TYPE)
    fast = _outcome(svc._values, plain, given_fields, creating)
    assert fast == _outcome(reference_values, svc, plain, given_fields, creating)


def test_a_schema_change_is_seen_by_the_next_message():
    api = _service()
    long_title = [{"name": "title", "value": {"Text": "x" * 20}}]
    assert "Invalid" in api.create(ALICE, TYPE, long_title)["Err"]
    wider = [dict(FIELDS[0], max=30.0)] + FIELDS[1:] + [field("extra", "Int", default={"Int": 7})]
    typedef = {"name": TYPE, "fields": wider, "alias": None, "relations": [], "policy": OPEN}
    assert api.define_type(ADMIN, typedef, False) == {"Ok": None}
    created = api.create(ALICE, TYPE, long_title)["Ok"]
    assert {"name": "extra", "value": {"Int": 7}} in created["fields"]
    assert [f["name"] for f in created["fields"]] == [f["name"] for f in wider]


def test_a_failed_definition_leaves_the_shapes_of_the_old_schema():
    api = _service()
    title = [{"name": "title", "value": {"Text": "hello"}}]
    assert "Ok" in api.create(ALICE, TYPE, title)
    narrower = [dict(FIELDS[0], max=3.0)] + FIELDS[1:]
    typedef = {"name": TYPE, "fields": narrower, "alias": None, "relations": [], "policy": OPEN}
    assert "Conflict" in api.define_type(ADMIN, typedef, False)["Err"]   # destructive without force
    assert "Ok" in api.create(ALICE, TYPE, title)


def test_a_batch_changes_and_deletes_the_entity_it_names_each_time():
    api = _service()
    made = api.create(ALICE, TYPE, [{"name": "title", "value": {"Text": "first"}}])["Ok"]
    qty = [{"name": "qty", "value": {"Int": 3}}]
    change = {"Update": {"type_name": TYPE, "id": made["id"], "fields": qty, "expected_version": None}}
    delete = {"Delete": {"type_name": TYPE, "id": made["id"]}}
    more = [{"name": "qty", "value": {"Int": 4}}]
    again = {"Update": {"type_name": TYPE, "id": made["id"], "fields": more, "expected_version": 2}}
    results = api.batch(ALICE, [change, again])["Ok"]
    assert [r["Entity"]["version"] for r in results] == [2, 3]
    before = api.get(ALICE, TYPE, made["id"])["Ok"]
    refused = api.batch(ALICE, [change, delete, change])
    assert "NotFound" in refused["Err"] and "operation 2" in refused["Err"]["NotFound"]
    assert api.get(ALICE, TYPE, made["id"])["Ok"] == before


def test_a_record_of_metadata_missing_keys_reads_them_as_none():
    full = {"o": "a", "c": "b", "u": "c", "tc": 1, "tu": 2, "v": 3}
    record = engine_gateway._as_record((7, {"x": 1}, {}, full))
    assert record == {"id": 7, "fields": {"x": 1}, "refs": {}, "owner": "a", "creator": "b", "updater": "c",
                      "created_at": 1, "updated_at": 2, "version": 3, "view": (7, {"x": 1}, {}, full)}
    partial = {"o": "a", "v": 3}
    assert engine_gateway._as_record((7, {}, {}, partial))["updater"] is None
    assert engine_gateway._as_record((7, {}, {}, partial))["version"] == 3


def test_a_reply_of_metadata_missing_keys_shows_them_as_none():
    api = _service()
    entity = api._entity(TYPE, (7, {"title": "abc"}, {}, {"o": ALICE, "v": 3}))
    assert entity["owner"].to_str() == ALICE and entity["creator"].to_str() == "2vxsx-fae"
    assert (entity["created_at"], entity["updated_at"], entity["version"]) == (None, None, 3)
    assert entity["fields"][0] == {"name": "title", "value": {"Text": "abc"}}


def test_values_refuse_lookalikes_as_the_per_field_path_says():
    api = _service()
    plain = api.registry.get(TYPE)
    for value in (MappingProxyType({"Text": "abc"}), ["Text"], "T", {"Text": "abc", "Int": 3}):
        given = [{"name": "title", "value": value}]
        refused = _outcome(api._values, plain, given, True)
        assert refused == ("error", {"Invalid": "value of title must be a variant with exactly one case"})
    subclassed = [{"name": "title", "value": VariantDict({"Text": "abc"})}]
    assert api._values(plain, subclassed, True)["title"] == "abc"
    given = ListOfFields([{"name": "qty", "value": {"Int": 3}}, {"name": "qty", "value": {"Int": 4}}])
    assert _outcome(api._values, plain, given, False) == ("error", {"Invalid": "field qty given twice"})


def test_run_as_commits_or_rolls_back_and_restores_the_caller():
    api = _service()
    gateway = api.gateway
    before = get_caller_id()
    first = gateway.audit_length()

    def make(title):
        assert get_caller_id() == ALICE
        return gateway.create(TYPE, {"title": title, "note": "none", "qty": 1, "flag": False})[0]

    made, first_seq = gateway.run_as(ALICE, make, ("kept",))
    assert get_caller_id() == before and first_seq == first
    record = gateway.load(TYPE, made)
    assert record["fields"]["title"] == "kept" and record["owner"] == ALICE

    def make_then_fail(title):
        make(title)
        raise invalid("refused after the write")

    with pytest.raises(ApiError):
        gateway.run_as(ALICE, make_then_fail, ("dropped",))
    assert get_caller_id() == before
    assert gateway.load(TYPE, made + 1) is None and gateway.audit_length() == first + 1
    again, first_seq = gateway.run_as(ALICE, make, ("next",))
    assert again == made + 1 and first_seq == first + 1


def test_run_as_refuses_a_bad_caller_and_keeps_the_current_one():
    api = _service()
    gateway = api.gateway
    before = get_caller_id()
    for bad in ("", None, 7, b"alice"):
        with pytest.raises(ValueError):
            gateway.run_as(bad, lambda: pytest.fail("ran"), ())
        assert get_caller_id() == before


def test_the_meta_maps_undo_skips_begin_only_while_it_has_nothing_to_forget():
    from kybra_simple_db import MemoryMap
    from undo_map import UndoMap

    inner = MemoryMap()
    inner.insert("kept", "1")
    meta = UndoMap(inner)
    meta.insert("installed", "x")        # a write outside any update (install) is remembered...
    assert meta.saved
    meta.begin()                          # ...and forgotten by the next update's begin
    meta.insert("kept", "2")
    meta.insert("new", "3")
    assert meta.rollback() is True
    assert inner.get("kept") == "1" and inner.get("new") is None and inner.get("installed") == "x"
    assert not meta.saved                 # (empty after a rollback: the next update may skip begin)
    meta.insert("kept", "4")
    assert meta.rollback() is True and inner.get("kept") == "1"
    assert meta.rollback() is False


def test_a_refused_update_after_install_and_after_a_success_leaves_the_meta_map_as_it_was():
    api, maps = installed_api()
    meta_before = dict(maps["meta"][0]._data)
    refused = api.define_type("2vlcm-anonymous-not-an-admin", {"name": "T", "fields": []}, False)
    assert "Err" in refused and dict(maps["meta"][0]._data) == meta_before
    assert "Ok" in api.add_admin(ADMIN, "aaaaa-aa")
    meta_after = dict(maps["meta"][0]._data)
    assert "Err" in api.add_admin("2vlcm-anonymous-not-an-admin", "2vxsx-fae")
    assert dict(maps["meta"][0]._data) == meta_after


def test_an_update_holds_no_entity_once_it_ends_committed_or_refused():
    api = _service()
    made = api.create(ALICE, TYPE, [{"name": "title", "value": {"Text": "one"}}])["Ok"]["id"]
    one = [{"name": "qty", "value": {"Int": 3}}]
    assert api.update(ALICE, TYPE, made, one, None)["Ok"]["fields"][2]["value"] == {"Int": 3}
    assert api.gateway._held is None
    assert "Err" in api.update(ALICE, TYPE, made, [{"name": "qty", "value": {"Int": 99}}], None)
    assert api.gateway._held is None
    assert "Err" in api.update(ADMIN, TYPE, made, one, 7)   # (a stale version: refused after the load)
    assert api.gateway._held is None
    assert api.get(ALICE, TYPE, made)["Ok"]["version"] == 2
