"""The `delete` endpoint deletes the entity at once and carries a cascade too large for one message on
across messages (a timer the canister sets, or `delete_continue` by the same caller), each message all
or nothing and bounded. Attacks: another owner continuing, links to a half-deleted entity, a child
linked into the chain mid-delete, deleting twice. Service layer (db_api) on memory maps, with a tiny
per-message budget to force many continuations."""

import sys
from pathlib import Path

from service_maps import ADMIN, installed_api, stored

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))

ALICE = "rrkah-fqaaa-aaaaa-aaaaq-cai"
BOB = "ryjl3-tyaaa-aaaaa-aaaba-cai"
OPEN = {"read": {"Public": None}, "create": {"Anyone": None}, "modify": {"Owner": None},
        "delete": {"Owner": None}}


def _field(name: str) -> dict:
    return {"name": name, "kind": {"Text": None}, "required": False, "default": None, "min": None,
            "max": 20.0, "indexed": False}


class Timers:
    """Stands in for ic.set_timer: counts the timers the service sets."""

    def __init__(self):
        self.armed = 0

    def set(self):
        self.armed += 1


def _service(units: int = 3):
    timers = Timers()
    api, maps = installed_api(set_timer=timers.set)
    node = {"name": "t::Node", "fields": [_field("label")], "alias": None, "policy": OPEN,
            "relations": [{"name": "parent", "kind": {"ManyToOne": None}, "target": "t::Node",
                           "reverse": "children", "on_delete": {"Cascade": None}}]}
    lock = {"name": "t::Lock", "fields": [_field("label")], "alias": None, "policy": OPEN,
            "relations": [{"name": "nodes", "kind": {"ManyToMany": None}, "target": "t::Node",
                           "reverse": "locks", "on_delete": {"Restrict": None}}]}
    assert api.define_type(ADMIN, node, False) == {"Ok": None}
    assert api.define_type(ADMIN, lock, False) == {"Ok": None}
    api.gateway.db.delete_budget = units
    return api, maps, timers


def _node(api, caller: str, label: str, parent=None) -> int:
    result = api.create(caller, "t::Node", [{"name": "label", "value": {"Text": label}}])
    node = result["Ok"]["id"]
    if parent is not None:
        assert api.link(caller, "t::Node", node, "parent", parent) == {"Ok": None}
    return node


def _chain(api, caller: str, depth: int) -> list:
    nodes = [_node(api, caller, "root")]
    for i in range(depth):
        nodes.append(_node(api, caller, str(i), nodes[-1]))
    return nodes


def _job_keys(maps) -> list:
    return [k for k in maps["db"][0]._data if k[:4] in ("!dj:", "!ds:", "!dh:")]


def _count(api) -> int:
    return api.count(ADMIN, "t::Node", [])["Ok"]


def test_a_chain_of_50_is_deleted_across_many_messages_by_its_owner():
    api, maps, timers = _service(units=3)
    nodes = _chain(api, ALICE, 50)
    assert api.delete(ALICE, "t::Node", nodes[0]) == {"Ok": None}
    assert "NotFound" in api.get(ALICE, "t::Node", nodes[0])["Err"]      # gone from the first message
    assert _count(api) == 48 and timers.armed == 1
    messages = 1
    while True:
        progress = api.delete_continue(ALICE, "t::Node", nodes[0])["Ok"]
        messages += 1
        if progress["done"]:
            break
    assert messages >= 16 and progress["deleted"] == 51 and progress["pending"] == 0
    assert _count(api) == 0 and _job_keys(maps) == []
    assert "NotFound" in api.delete_continue(ALICE, "t::Node", nodes[0])["Err"]


def test_the_timer_carries_a_delete_on_as_the_caller_who_started_it():
    api, maps, timers = _service(units=4)
    nodes = _chain(api, ALICE, 30)
    bobs = _node(api, BOB, "bob's child", nodes[20])     # Bob links his node into Alice's chain
    assert api.delete(ALICE, "t::Node", nodes[0]) == {"Ok": None}
    runs = 0
    while timers.armed > runs:
        runs += 1
        api.continue_deletes()
    assert runs >= 7
    assert _count(api) == 1 and _job_keys(maps) == []
    kept = api.get(BOB, "t::Node", bobs)["Ok"]
    assert kept["refs"] == [{"relation": "parent", "target_type": "t::Node", "target_id": None}]
    api.continue_deletes()      # a timer with nothing queued does nothing and sets no new timer
    assert timers.armed == runs


def _timer_runs_until_done(api, maps, timers, root: int) -> int:
    """Timer messages run until the delete of `root` has no job left (the timer runs while it is set)."""
    runs = 0
    while f"!dj:t::Node:{root}" in maps["db"][0]._data:
        assert timers.armed > 0
        api.continue_deletes()
        runs += 1
    return runs


def test_the_timer_serves_callers_in_turn_so_one_callers_many_deletes_do_not_hold_up_another():
    api, maps, timers = _service(units=3)
    alone = _chain(api, BOB, 12)[0]
    assert api.delete(BOB, "t::Node", alone) == {"Ok": None}
    steps = _timer_runs_until_done(api, maps, timers, alone)     # bob's delete with nobody else's queued
    alices = [_chain(api, ALICE, 12)[0] for _ in range(4)]
    for root in alices:
        assert api.delete(ALICE, "t::Node", root) == {"Ok": None}
    bobs = _chain(api, BOB, 12)[0]
    assert api.delete(BOB, "t::Node", bobs) == {"Ok": None}
    assert steps >= 3 and _timer_runs_until_done(api, maps, timers, bobs) <= 2 * steps
    while timers.armed and _job_keys(maps):
        api.continue_deletes()
    assert _count(api) == 0 and _job_keys(maps) == []


def test_another_owner_cannot_continue_or_take_over_a_delete():
    api, maps, _ = _service(units=3)
    nodes = _chain(api, ALICE, 20)
    assert api.delete(ALICE, "t::Node", nodes[0]) == {"Ok": None}
    before = stored(maps)
    for caller in (BOB, ADMIN):
        assert "NotFound" in api.delete_continue(caller, "t::Node", nodes[0])["Err"]
    assert stored(maps) == before
    assert "NotFound" in api.delete_continue(BOB, "t::Nope", nodes[0])["Err"]
    assert "NotFound" in api.delete(BOB, "t::Node", nodes[0])["Err"]          # deleting twice
    assert "NotFound" in api.delete(ALICE, "t::Node", nodes[0])["Err"]
    assert "Forbidden" in api.delete(BOB, "t::Node", nodes[10])["Err"]        # not his, still live
    assert stored(maps) == before


def test_no_link_reaches_a_half_deleted_entity_and_a_late_child_goes_with_the_chain():
    api, maps, timers = _service(units=3)
    nodes = _chain(api, ALICE, 30)
    assert api.delete(ALICE, "t::Node", nodes[0]) == {"Ok": None}
    api.delete_continue(ALICE, "t::Node", nodes[0])
    gone = [n for n in nodes if "Err" in api.get(ALICE, "t::Node", n)]
    assert len(gone) >= 4
    late = _node(api, ALICE, "late")
    for target in gone:
        assert "NotFound" in api.link(ALICE, "t::Node", late, "parent", target)["Err"]
        assert "NotFound" in api.link(ALICE, "t::Node", target, "children", late)["Err"]
    assert api.link(ALICE, "t::Node", late, "parent", nodes[25]) == {"Ok": None}   # not reached yet
    while timers.armed and api.delete_continue(ALICE, "t::Node", nodes[0]).get("Ok", {}).get("done") is False:
        pass
    assert _count(api) == 0 and _job_keys(maps) == []


def test_a_restrict_link_deep_in_the_cascade_blocks_the_job_until_it_is_removed():
    api, maps, timers = _service(units=3)
    nodes = _chain(api, ALICE, 12)
    lock = api.create(BOB, "t::Lock", [{"name": "label", "value": {"Text": "l"}}])["Ok"]["id"]
    assert api.link(BOB, "t::Lock", lock, "nodes", nodes[9]) == {"Ok": None}
    assert api.delete(ALICE, "t::Node", nodes[0]) == {"Ok": None}
    runs = 0
    while timers.armed > runs:
        runs += 1
        api.continue_deletes()
    assert "Ok" in api.get(ALICE, "t::Node", nodes[9]) and _job_keys(maps) != []   # blocked, kept
    assert "Conflict" in api.delete_continue(ALICE, "t::Node", nodes[0])["Err"]
    assert api.unlink(BOB, "t::Lock", lock, "nodes", nodes[9]) == {"Ok": None}
    while not api.delete_continue(ALICE, "t::Node", nodes[0])["Ok"]["done"]:
        pass
    assert _count(api) == 0 and _job_keys(maps) == []


def test_an_upgrade_sets_the_timer_again_for_queued_deletes():
    api, maps, timers = _service(units=3)
    nodes = _chain(api, ALICE, 20)
    assert api.delete(ALICE, "t::Node", nodes[0]) == {"Ok": None}
    armed = timers.armed
    api.after_upgrade()
    assert timers.armed == armed + 1
    while timers.armed > armed:
        armed += 1
        api.continue_deletes()
    assert _count(api) == 0


def test_a_small_cascade_finishes_in_one_message_and_sets_no_timer():
    api, maps, timers = _service(units=100)
    nodes = _chain(api, ALICE, 5)
    assert api.delete(ALICE, "t::Node", nodes[0]) == {"Ok": None}
    assert _count(api) == 0 and timers.armed == 0 and _job_keys(maps) == []
