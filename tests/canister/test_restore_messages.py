"""What a refused restore record is told: each check of restore_rules names the record and the fault
(the checks run in line and make their message only for a refusal: the messages must stay these)."""

import json

import pytest
from test_canister_traps import MEASURE, record


def page(*records) -> str:
    """A restore page of format /2 (which may hold records announcing more links)."""
    return json.dumps({"format": "kybra-simple-db-dump/2", "records": list(records)})

MAX_NAT64 = 2**64 - 1
LABEL = "trap::Measure 500"
REFUSALS = [
    ({"id": True}, "restore: the id of trap::Measure True must be an integer from 1 to 9223372036854775807"),
    ({"id": 2**63}, "restore: the id of trap::Measure 9223372036854775808 must be an integer from 1 to "
                    "9223372036854775807"),
    ({"fields": 5}, f"restore: fields of {LABEL} must be an object"),
    ({"refs": []}, f"restore: refs of {LABEL} must be an object"),
    ({"refs": {"x": 1}}, "restore: trap::Measure has no to-one relation x"),
    ({"links": 0}, f"restore: links of {LABEL} must be an object"),
    ({"links": {"x": [1]}}, "restore: trap::Measure has no many-to-many relation x"),
    ({"more_links": 1}, f"restore: more_links of {LABEL} must be true or false"),
    ({"owner": None}, f"restore: owner of {LABEL} is not a principal's text form"),
    ({"owner": "2vxsx-fae"}, f"restore: the anonymous principal cannot own {LABEL}"),
    ({"creator": ["aaaaa-aa"]}, f"restore: creator of {LABEL} is not a principal's text form"),
    ({"updater": "AAAAA-AA"}, f"restore: updater of {LABEL} is not a principal's text form"),
    ({"created": -1}, f"restore: created of {LABEL} must be an integer from 0 to {MAX_NAT64}"),
    ({"created": 5, "updated": 4}, f"restore: updated of {LABEL} (at least created, at most now) must be an "
                                   "integer from 5 to "),
    ({"updated": 1.5}, f"restore: updated of {LABEL} (at least created, at most now) must be an integer from "
                       "1700000000000000000 to "),
    ({"version": 0}, f"restore: version of {LABEL} must be an integer from 1 to {MAX_NAT64}"),
    ({"version": False}, f"restore: version of {LABEL} must be an integer from 1 to {MAX_NAT64}"),
]


@pytest.fixture(scope="module")
def net(db):
    assert db.admin.call("define_type", MEASURE, False) == {"Ok": None}
    return db


@pytest.mark.parametrize("changes, message", REFUSALS, ids=[str(c) for c, _ in REFUSALS])
def test_a_refused_record_is_told_its_fault(net, changes, message):
    kind, got = net.admin.err("restore", page(record(id=400), record(**changes)))
    assert kind == "Invalid" and got.startswith(message), got


def test_the_same_owner_on_many_records_is_checked_once_and_still_refused_when_bad(net):
    records = [record(id=600 + i, owner="aaaaa-aa") for i in range(3)] + [record(id=700, owner="mallory")]
    kind, got = net.admin.err("restore", page(*records))
    assert kind == "Invalid" and got == "restore: owner of trap::Measure 700 is not a principal's text form"
