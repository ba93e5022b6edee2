"""The agent's handling of decoded replies, without a network."""

import time

import leb128
import pytest
from simple_db_client.agent import Agent
from simple_db_client.errors import RejectError, TransportError

from ic_protocol.hash_tree import build


def now_leb():
    return bytes(leb128.u.encode(time.time_ns()))


def test_request_status_in_a_certificate_maps_to_reply_reject_or_errors():
    agent = Agent("http://127.0.0.1:1")
    rid = b"\x09" * 32

    def status(**fields):
        labels = {name.encode(): value for name, value in fields.items()}
        return {"tree": build({b"request_status": {rid: labels}, b"time": now_leb()})}

    assert agent.outcome(status(status=b"replied", reply=b"DIDL\x00\x00"), rid) == b"DIDL\x00\x00"
    assert agent.outcome(status(status=b"processing"), rid) is None
    assert agent.outcome({"tree": build({b"time": now_leb()})}, rid) is None
    with pytest.raises(RejectError) as info:
        agent.outcome(
            status(status=b"rejected", reject_code=b"\x04", reject_message=b"no", error_code=b"IC0406"), rid
        )
    assert (info.value.code, info.value.reject_message, info.value.error_code) == (4, "no", "IC0406")
    with pytest.raises(TransportError, match="pruned"):
        agent.outcome(status(status=b"done"), rid)
    with pytest.raises(TransportError, match="holds no reply"):
        agent.outcome(status(status=b"replied"), rid)
    agent.close()
