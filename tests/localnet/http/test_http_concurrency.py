"""Concurrent requests: duplicates racing each other execute once, and a synchronous call whose
duplicate is still executing falls back to 202 (poll read_state) instead of waiting forever."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fake_replica import FakeReplica
from signing_kit import Http, Signer, content, envelope

from localnet import gateway


class SlowReplica(FakeReplica):
    """Updates wait until the test releases them."""

    def __init__(self, state_dir=None):
        super().__init__(state_dir)
        self.entered = threading.Event()
        self.release = threading.Event()

    def update(self, canister_id, method, arg, sender):
        self.entered.set()
        assert self.release.wait(30)
        return super().update(canister_id, method, arg, sender)


def test_racing_duplicates_execute_once(localnet):
    net = localnet({"counter": "c.py"}, replica_factory=FakeReplica)
    cid = net.canister_id("counter")
    signer = Signer()
    body = envelope(content("call", signer, cid, method_name="inc"), signer)

    def submit(version: str) -> int:
        client = Http(net.url)
        try:
            return client.post(f"/api/{version}/canister/{cid}/call", body).status_code
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(submit, ["v2", "v3", "v4"] * 8))
    assert set(statuses) <= {200, 202}
    assert net.replica.executions == 1


def test_a_sync_duplicate_still_executing_falls_back_to_202(localnet, monkeypatch):
    monkeypatch.setattr(gateway, "SYNC_CALL_TIMEOUT_S", 0.2)
    net = localnet({"counter": "c.py"}, replica_factory=SlowReplica)
    cid = net.canister_id("counter")
    signer = Signer()
    body = envelope(content("call", signer, cid, method_name="inc"), signer)
    first_status = []

    def submit_first() -> None:
        client = Http(net.url)
        first_status.append(client.post(f"/api/v3/canister/{cid}/call", body))
        client.close()

    first = threading.Thread(target=submit_first)
    first.start()
    assert net.replica.entered.wait(10)
    duplicate = Http(net.url)
    try:
        response = duplicate.post(f"/api/v3/canister/{cid}/call", body)
        assert (response.status_code, response.content) == (202, b"")
    finally:
        net.replica.release.set()
        duplicate.close()
        first.join(30)
    assert first_status[0].status_code == 200
    assert net.replica.executions == 1


@pytest.mark.parametrize("kind", ["query", "read_state"])
def test_queries_and_reads_are_served_concurrently(localnet, kind):
    net = localnet({"counter": "c.py"}, replica_factory=FakeReplica)
    cid = net.canister_id("counter")

    def submit(_: int) -> int:
        signer = Signer("anonymous")
        client = Http(net.url)
        try:
            return client.post(
                f"/api/v2/canister/{cid}/{kind}", envelope(content(kind, signer, cid), signer)
            ).status_code
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(submit, range(40))) == {200}
