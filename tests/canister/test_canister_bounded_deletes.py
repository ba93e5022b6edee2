"""A batch's Delete that would touch too many linked entities answers Limit and changes nothing; the paged
way (batches of deletes or unlinks, paging with `links`) then works (the `delete` endpoint itself goes on
across messages instead: test_canister_stepwise_deletes.py). Service layer (db_api) on memory maps."""

import sys
from pathlib import Path

from service_maps import ADMIN, installed_api, stored

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import db_api  # noqa: E402 - the canister's own module, found on its source path

OPEN = {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
        "delete": {"Owner": None}}


def _field(name: str) -> dict:
    return {"name": name, "kind": {"Text": None}, "required": False, "default": None, "min": None,
            "max": 20.0, "indexed": False}


def _service(meter=None):
    api, maps = installed_api(meter=meter)
    assert api.define_type(ADMIN, {"name": "t::Doc", "fields": [_field("title")], "alias": None,
                                   "relations": [], "policy": OPEN}, False) == {"Ok": None}
    assert api.define_type(ADMIN, {"name": "t::Note", "fields": [_field("text")], "alias": None,
                                   "relations": [{"name": "doc", "kind": {"ManyToOne": None},
                                                  "target": "t::Doc", "reverse": "notes",
                                                  "on_delete": {"Cascade": None}}],
                                   "policy": OPEN}, False) == {"Ok": None}
    return api, maps


def _create(api, type_name: str, **values) -> int:
    fields = [{"name": k, "value": {"Text": v}} for k, v in values.items()]
    result = api.create(ADMIN, type_name, fields)
    return result["Ok"]["id"]


def test_a_cascade_past_the_budget_is_a_limit_error_then_batches_finish_it():
    api, maps = _service()
    api.start()
    api.gateway.db.delete_budget = 3
    doc = _create(api, "t::Doc", title="d")
    notes = [_create(api, "t::Note", text="n" + str(i)) for i in range(5)]
    for note in notes:
        assert api.link(ADMIN, "t::Note", note, "doc", doc) == {"Ok": None}
    before = stored(maps)
    result = api.batch(ADMIN, [{"Delete": {"type_name": "t::Doc", "id": doc}}])
    assert "Limit" in result["Err"] and "linked entities" in result["Err"]["Limit"]
    assert stored(maps) == before
    page = api.links(ADMIN, "t::Doc", doc, "notes", None, 3)["Ok"]
    ops = [{"Delete": {"type_name": "t::Note", "id": i}} for i in page["items"]]
    assert "Ok" in api.batch(ADMIN, ops)
    assert api.delete(ADMIN, "t::Doc", doc) == {"Ok": None}
    assert api.count(ADMIN, "t::Note", [])["Ok"] == 0


def test_the_instruction_meter_stops_a_delete_before_the_message_limit(monkeypatch):
    monkeypatch.setattr(db_api.api_limits, "BATCH_INSTRUCTIONS", 2 * 10**12)  # the delete's own check
    used = [0]
    api, maps = _service(meter=lambda: used[0])
    doc = _create(api, "t::Doc", title="d")
    note = _create(api, "t::Note", text="n")
    assert api.link(ADMIN, "t::Note", note, "doc", doc) == {"Ok": None}
    used[0] = 10**12
    before = stored(maps)
    result = api.batch(ADMIN, [{"Delete": {"type_name": "t::Doc", "id": doc}}])
    assert "instructions" in result["Err"]["Limit"] and "Doc" in result["Err"]["Limit"]
    assert stored(maps) == before
    used[0] = 0
    assert api.delete(ADMIN, "t::Doc", doc) == {"Ok": None}
