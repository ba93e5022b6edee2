"""audit_capture's bound: an entry's JSON text never has more bytes than the bound its repr gives, so an
entry the certifier hashes from its copy is never one the audit log truncated; copies with values JSON
would not give back exactly are not used."""

import json
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "canister" / "src"))
import audit_capture  # noqa: E402

plain = st.one_of(
    st.text(),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=2**64),
    st.text(),
    st.text(max_size=10),
    st.text(max_size=40),
    st.integers(min_value=0, max_value=2**64),
    st.dictionaries(st.text(max_size=20), plain, max_size=6),
)
def test_the_json_text_of_an_entry_fits_the_bound_of_its_repr(when, caller, operation, type_name, entity_id,
                                                              changes):
    text = json.dumps([when, caller, operation, type_name, entity_id, changes], separators=(",", ":"),
                      ensure_ascii=False)
    bound = audit_capture.entry_bound(caller, operation, type_name, changes)
    assert len(text.encode("utf-8", "surrogatepass")) <= bound


def test_a_copy_with_an_odd_value_is_not_used():
    class Log:
        next_seq = 0

        def set_listener(self, listener):
            self.listener = listener

        def append(self, operation, type_name, entity_id, changes, when, caller):
            self.next_seq += 1
            self.listener(self.next_seq - 1, operation, type_name, entity_id, changes, when, caller)

    class Db:
        audit = Log()

        def on_rollback_call(self, function, args):
            pass

    capture = audit_capture.AuditCapture(Db(), 1024)
    Db.audit.append("update", "t::T", 1, {"a": 1}, 5, "caller")
    assert capture.since(0, 1)[0]["changes"] == {"a": 1}
    Db.audit.append("update", "t::T", 1, {"a": [1, 2]}, 5, "caller")
    Db.audit.append("update", "t::T", 1, {"a": float("nan")}, 5, "caller")
    Db.audit.append("update", "t::T", 1, {"a": "é" * 300}, 5, "caller")
    Db.audit.append("update", "t::T", 1, {1: "a"}, 5, "caller")
    Db.audit.append("update", "t::T", 1, {"a": float("-inf")}, 5, "caller")
    Db.audit.append("update", "t::T", 10**20, {"a": 1}, 5, "caller")
    for seq in range(1, 7):
        assert capture.since(seq, seq + 1) is None
    plain = {"a": 1.5, "b": True, "c": None, "d": "x", "e": -(2**70)}
    Db.audit.append("update", "t::T", 10**20 - 1, plain, 5, "caller")
    assert capture.since(7, 8)[0]["changes"] == plain
    assert capture.since(0, 9) is None  # seq 8 was never appended
