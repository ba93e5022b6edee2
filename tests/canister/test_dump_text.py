"""dump_text.record_text: a dump record's JSON text is exactly what `json` writes (compact, keys sorted,
non-ASCII escaped) whatever the record holds; the fast path changes the cost, never the text."""

import json
import math
import random
import sys
from pathlib import Path

import pytest

SOURCE = str(Path(__file__).resolve().parents[2] / "canister" / "src")
if SOURCE not in sys.path:
    sys.path.insert(0, SOURCE)

from dump_text import record_text  # noqa: E402

_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


# subclasses of the kinds the fast path writes itself: the encoder writes them
_Text, _Number, _Record = type("Text", (str,), {}), type("Number", (int,), {}), type("Record", (dict,), {})


def _scalar(rng):
    return rng.choice([None, True, False, 0, 7, -3, 2**70, 1.5, -0.0, math.inf, -math.inf, math.nan, "",
                       "plain", "naïve €𝄞", 'quote " back \\ slash', "\x00\x1f\n\t", _Text("sub é"),
                       _Number(5), "é" * 50])


def _value(rng, depth: int):
    shape = rng.randrange(8) if depth < 3 else 0
    if shape == 1:
        return {rng.choice(["a", "b", "é", "z", "A", ""]) + str(i): _value(rng, depth + 1)
                for i in range(rng.randrange(4))}
    if shape == 2:
        return [rng.randrange(10**12) for _ in range(rng.randrange(6))]
    if shape == 3:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if shape == 4:
        return tuple(rng.randrange(100) for _ in range(rng.randrange(3)))
    if shape == 5:
        return _Record(x=_value(rng, depth + 1))
    return _scalar(rng)


def _record(rng) -> dict:
    record = {"type": rng.choice(["app::Item", "app::Tëg"]), "id": rng.randrange(1, 10**9),
              "fields": {f"f{i}": _value(rng, 1) for i in range(rng.randrange(5))},
              "refs": {"owner_ref": rng.choice([None, 3])},
              "links": {"tags": sorted(rng.sample(range(1, 9999), 3))},
              "owner": "2vxsx-fae", "creator": "aaaaa-aa", "updater": "aaaaa-aa", "created": 1, "updated": 2,
              "version": rng.randrange(1, 5)}
    if rng.random() < 0.2:
        record["more_links"] = True
    if rng.random() < 0.3:
        record["extra"] = _value(rng, 0)
    return record


def test_record_text_is_jsons_text():
    rng = random.Random(14)
    for _ in range(3000):
        record = _record(rng)
        assert record_text(record) == "".join(_JSON.iterencode(record)), record
    for record in ({}, {"links": {}}, {"links": {"r": []}}, {"x": [True, 1]}, {"x": [1.0, 2]}, {"x": [-1, 2]},
                   {"x": [_Number(1)]}, {"x": {"y": {}}}):
        assert record_text(record) == "".join(_JSON.iterencode(record))


def test_keys_that_are_not_text_are_written_or_refused_as_json_does():
    assert record_text({1: "a", 2: "b"}) == _JSON.encode({1: "a", 2: "b"})
    assert record_text({"f": {3: 1}}) == _JSON.encode({"f": {3: 1}})
    with pytest.raises(TypeError):
        _JSON.encode({"a": 1, 2: 3})
    with pytest.raises(TypeError):
        record_text({"a": 1, 2: 3})
    with pytest.raises(TypeError):
        record_text({"a": object()})
