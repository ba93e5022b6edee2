"""Through localnet with real Candid: a cascade larger than one message's share (the engine's delete
budget, 2,000 entities) is finished by the timer the canister sets, as the caller who started it;
`delete_continue` answers NotFound to anyone else and once the delete is done."""

from canister_fixtures import callers, deploy
from canister_harness import field_def, relation_def, type_def

from localnet.replica import Replica

FAN = 2_050     # just past one message's share
NODE = type_def("t::Node", [field_def("label", "Text")],
                relations=[relation_def("parent", "ManyToOne", "t::Node", "children", "Cascade")])


def _value(text: str) -> dict:
    return {"name": "label", "value": {"Text": text}}


def test_the_timer_finishes_a_cascade_past_one_message():
    with Replica() as replica:
        net = callers(replica, deploy(replica))
        assert net.admin.call("define_type", NODE, False) == {"Ok": None}
        root = net.alice.ok("create", "t::Node", [_value("root")])["id"]
        for start in range(0, FAN, 100):
            ops = [{"Create": {"type_name": "t::Node",
                               "fields": [_value(str(i)), {"name": "parent", "value": {"Int": root}}]}}
                   for i in range(start, min(start + 100, FAN))]
            net.alice.ok("batch", ops)
        replica.set_time(replica.time_ns())         # timers now run only when the test ticks
        assert net.alice.call("delete", "t::Node", root) == {"Ok": None}
        assert net.alice.err("get", "t::Node", root)[0] == "NotFound"
        left = net.admin.ok("count", "t::Node", [])
        assert 0 < left < FAN
        assert net.bob.err("delete_continue", "t::Node", root)[0] == "NotFound"
        ran = 0
        while replica.advance_time(1_000_000_000):     # each due timer is one message; it sets the next
            ran += 1
        assert ran >= 1 and net.admin.ok("count", "t::Node", []) == 0
        assert net.alice.err("delete_continue", "t::Node", root)[0] == "NotFound"
