"""Python values <-> Candid `Value`: every kind round-trips through real Candid encoding."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ic.candid import decode, encode
from simple_db_client import Principal, Timestamp
from simple_db_client import candid_types as C
from simple_db_client.values import coerce, datetime_to_ns, from_fields, from_value, to_fields, to_value

principals = st.binary(min_size=0, max_size=29).map(Principal)
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=50),
    principals,
    st.integers(min_value=0, max_value=2**64 - 1).map(Timestamp.from_ns),
)


def _candid_round_trip(value):
    wire = encode([{"type": C.Value, "value": to_value(value)}])
    return from_value(decode(wire, [C.Value])[0]["value"])


@settings(max_examples=200, deadline=None)
@given(values)
def test_values_round_trip_through_candid(value):
    back = _candid_round_trip(value)
    assert back == value and type(back) is type(value)
    if isinstance(value, Timestamp):
        assert back.nanoseconds == value.nanoseconds


def test_bool_is_not_int_and_kinds_are_tagged():
    assert to_value(True) == {"Bool": True}
    assert to_value(1) == {"Int": 1}
    assert to_value(1.0) == {"Float": 1.0}
    assert to_value("x") == {"Text": "x"}
    assert to_value(None) == {"Null": None}
    assert to_value(Principal.anonymous()) == {"Principal": "2vxsx-fae"}


def test_datetimes_become_nanosecond_timestamps():
    assert to_value(datetime(2024, 1, 1, tzinfo=timezone.utc)) == {"Timestamp": 1704067200 * 10**9}
    assert datetime_to_ns(datetime(2024, 1, 1)) == 1704067200 * 10**9  # naive = UTC
    cet = timezone(timedelta(hours=1))
    assert datetime_to_ns(datetime(2024, 1, 1, 1, tzinfo=cet)) == 1704067200 * 10**9
    stamp = Timestamp.from_ns(1_700_000_000_123_456_789)
    assert stamp.nanoseconds == 1_700_000_000_123_456_789
    assert (stamp + timedelta(seconds=1)).nanoseconds == 1_700_000_001_123_456_000
    with pytest.raises(ValueError, match="range"):
        to_value(datetime(1960, 1, 1))


def test_unsupported_values_are_refused_clearly():
    for bad in (b"bytes", [1], {"a": 1}, object()):
        with pytest.raises(TypeError, match="unsupported value"):
            to_value(bad)
    with pytest.raises(TypeError, match="mapping"):
        to_fields([("a", 1)])
    with pytest.raises(TypeError, match="field names"):
        to_fields({1: 1})


def test_fields_keep_order():
    fields = {"b": 1, "a": "x", "c": None}
    assert from_fields(to_fields(fields)) == fields
    assert list(from_fields(to_fields(fields))) == ["b", "a", "c"]


@pytest.mark.parametrize(
    "kind,text,expected",
    [
        ("Text", "hello", "hello"),
        ("Int", "-12", -12),
        ("Float", "2.5", 2.5),
        ("Float", 3, 3.0),
        ("Bool", "true", True),
        ("bool", "no", False),
        ("Principal", "2vxsx-fae", Principal.anonymous()),
        ("Timestamp", "1000", Timestamp.from_ns(1000)),
        ("Timestamp", "2024-01-01T00:00:00Z", datetime(2024, 1, 1, tzinfo=timezone.utc)),
        ("Int", None, None),
    ],
)
def test_coerce_turns_text_into_the_field_kind(kind, text, expected):
    assert coerce(kind, text) == expected


@pytest.mark.parametrize(
    "kind,text",
    [
        ("Int", "1.5"),
        ("Int", True),
        ("Float", "x"),
        ("Bool", "maybe"),
        ("Principal", "nope"),
        ("Timestamp", "yesterday"),
        ("Blob", "x"),
    ],
)
def test_coerce_refuses_values_that_do_not_fit(kind, text):
    with pytest.raises(ValueError):
        coerce(kind, text)


def test_principal_text_is_checked():
    with pytest.raises(ValueError, match="checksum"):
        Principal.from_text("2vxsx-fad")
    with pytest.raises(ValueError):
        Principal.from_text("")
    assert Principal.from_text("aaaaa-aa").bytes == b""
    assert len({Principal.anonymous(), Principal.from_text("2vxsx-fae")}) == 1
