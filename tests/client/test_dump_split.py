"""split_page: a restore page carrying more link ids than one restore takes becomes pieces, in order, each
within the bound, the entity's links going on in continuation records (no canister needed)."""

from __future__ import annotations

import json

from simple_db_client.dump_file import split_page


def _record(eid: int, links: dict, **extra) -> dict:
    record = {"type": "g::Group", "id": eid, "fields": {}, "refs": {}, "links": links, "owner": "o"}
    return dict(record, **extra)


def _merged(pieces: list[str]) -> dict:
    """{id: {relation: ids}} of the pieces, continuations merged, and the final more_links of each."""
    out: dict = {}
    for piece in pieces:
        for record in json.loads(piece)["records"]:
            eid = record.get("id", record.get("links_of"))
            links = out.setdefault(eid, {})
            for name, ids in record.get("links", {}).items():
                links[name] = links.get(name, []) + ids
            links["more"] = record.get("more_links", False)
    return out


def test_a_page_within_the_bound_is_kept_as_it_is():
    data = json.dumps({"format": "kybra-simple-db-dump/1", "records": [_record(1, {"a": [1, 2, 3]})]})
    assert split_page(data, 3) == [data]
    assert split_page("not json", 3) == ["not json"]
    assert split_page(json.dumps({"records": "x"}), 3) == [json.dumps({"records": "x"})]
    odd = json.dumps({"format": "kybra-simple-db-dump/1", "records": [_record(1, {"a": [{}, [], 3, 4]})]})
    assert split_page(odd, 3) == [odd]      # not split: the canister names what is wrong with it


def test_records_are_split_in_order_within_the_bound():
    records = [
        _record(1, {"b": [5, 6], "a": [3, 1, 2]}),
        {"type": "g::Group", "max_id": 9},
        _record(2, {"a": list(range(1, 12))}, more_links=True),
        _record(3, {"a": [4]}),
    ]
    page = {"format": "kybra-simple-db-dump/1", "schema": ["s"], "records": records}
    pieces = split_page(json.dumps(page), 4)
    parsed = [json.loads(p) for p in pieces]
    for piece in parsed:
        assert sum(len(ids) for r in piece["records"] for ids in r.get("links", {}).values()) <= 4
    assert parsed[0]["schema"] == ["s"] and all("schema" not in p for p in parsed[1:])
    for piece in parsed:
        continued = any("links_of" in r or "more_links" in r for r in piece["records"])
        assert piece["format"] == ("kybra-simple-db-dump/2" if continued else "kybra-simple-db-dump/1")
    merged = _merged(pieces)
    assert merged[1] == {"a": [1, 2, 3], "b": [5, 6], "more": False}
    assert merged[2] == {"a": list(range(1, 12)), "more": True}      # more still follows on later pages
    assert merged[3] == {"a": [4], "more": False}
    order = [r.get("id", r.get("links_of", "max")) for p in parsed for r in p["records"]]
    assert order == sorted(order, key=lambda x: {1: 0, "max": 1, 2: 2, 3: 3}[x])
