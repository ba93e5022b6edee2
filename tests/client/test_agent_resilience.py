"""The agent on a flaky network and with untrusted keys: retries (an update resubmitted after its reply
was lost runs once), the node-key cache timer, fetch_root_key only from loopback, the --local hint,
the NNS node keys refused for a canister outside the NNS, and malformed certificates as CertificateError
(exit code 4 in the CLI)."""

from __future__ import annotations

import warnings
from pathlib import Path

import cbor2
import httpx
import pytest
from click.testing import CliRunner
from ic.candid import decode
from simple_db_client import Ed25519Identity, Principal
from simple_db_client.agent import Agent
from simple_db_client.cli import cli
from simple_db_client.errors import CertificateError, TransportError
from simple_db_client.retry import RetryPolicy

from tests.client.flaky_proxy import DROP_REPLY, FORWARD, REFUSE, FlakyProxy
from tests.client.store_kit import NO_ARGS, history, text_args

VECTORS = Path(__file__).resolve().parents[1] / "protocol" / "vectors"
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05)


def test_an_update_whose_reply_is_lost_is_resubmitted_and_runs_once(store):
    net, canister = store

    def plan(method, path, n):
        return DROP_REPLY if path.endswith("/call") and n == 1 else FORWARD

    with FlakyProxy(net.url, plan) as proxy:
        agent = Agent(proxy.url, Ed25519Identity(), root_key=net.root_key, retry=FAST)
        before = history(agent, canister)
        reply = agent.update(canister, "put", text_args("lost", "reply"))
        assert decode(reply)[0]["value"] is None or isinstance(decode(reply)[0]["value"], list)
        assert history(agent, canister) == before + 1  # ran exactly once
        assert proxy.count("POST", "/call") == 2  # the same signed request, sent twice
        agent.close()


def test_refused_connections_and_5xx_and_429_are_retried(store):
    net, canister = store
    faults = {1: REFUSE, 2: (503, {}, b"busy"), 3: (429, {"Retry-After": "0"}, b"slow down")}

    def plan(method, path, n):
        return faults.get(n, FORWARD) if path.endswith("/query") else FORWARD

    with FlakyProxy(net.url, plan) as proxy:
        agent = Agent(proxy.url, root_key=net.root_key, retry=RetryPolicy(attempts=5, base_delay=0.01))
        assert history(agent, canister) >= 0
        agent.close()


def test_retries_are_bounded(store):
    net, canister = store
    with FlakyProxy(
        net.url, lambda m, p, n: (503, {}, b"down") if p.endswith("/query") else FORWARD
    ) as proxy:
        agent = Agent(proxy.url, root_key=net.root_key, retry=FAST)
        with pytest.raises(TransportError, match="503"):
            history(agent, canister)
        assert proxy.count("POST", "/query") == FAST.attempts
        agent.close()


def test_node_keys_are_read_again_when_the_cache_expires(store):
    net, canister = store
    with FlakyProxy(net.url, lambda m, p, n: FORWARD) as proxy:
        agent = Agent(proxy.url, root_key=net.root_key, node_key_ttl=300)
        now = [1000.0]
        agent.clock = lambda: now[0]
        history(agent, canister)
        history(agent, canister)
        assert proxy.count("POST", "/read_state") == 1
        now[0] += 301
        history(agent, canister)
        assert proxy.count("POST", "/read_state") == 2
        agent.close()


def test_a_local_url_failing_against_the_mainnet_key_hints_at_local(store):
    net, canister = store
    agent = Agent(net.url, Ed25519Identity())  # no fetch_root_key: the mainnet key
    with pytest.raises(CertificateError, match="--local"):
        agent.update(canister, "put", text_args("k", "v"))
    agent.close()
    result = CliRunner().invoke(cli, ["--url", net.url, "--canister-id", str(canister), "whoami"])
    assert result.exit_code == 4 and "--local" in result.output


def _status_transport(request: httpx.Request) -> httpx.Response:
    status = cbor2.dumps({"root_key": b"forged key", "impl_version": "x"})
    return httpx.Response(200, content=status)


def test_fetch_root_key_is_refused_for_a_remote_host_unless_forced():
    transport = httpx.MockTransport(_status_transport)
    with pytest.raises(TransportError, match="refusing to fetch the root key"):
        Agent("https://icp-api.io", fetch_root_key=True, transport=transport)
    with pytest.warns(UserWarning, match="remote host"):
        agent = Agent("https://example.org", force_fetch_root_key=True, transport=transport)
    assert agent.root_key == b"forged key"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert (
            Agent("http://localhost:4943", fetch_root_key=True, transport=transport).root_key == b"forged key"
        )
        assert Agent("http://[::1]:4943", fetch_root_key=True, transport=transport).root_key == b"forged key"


def test_nns_node_keys_are_not_trusted_for_a_canister_outside_the_nns():
    """Gap 1 through the agent: agent-js's mainnetSystem served as ivg37's /subnet read_state."""
    system = bytes.fromhex((VECTORS / "agent_js_mainnetSystem.hex").read_text().strip())
    ego73 = Principal.from_text("ego73-sreyv-vpdjs-gxxxh-jormr-swyro-toj4x-obghz-sbk32-duwid-dae").bytes

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/read_state"):
            return httpx.Response(200, content=cbor2.dumps({"certificate": system}))
        reply = {
            "status": "replied",
            "reply": {"arg": NO_ARGS},
            "signatures": [{"timestamp": 0, "signature": b"\x00" * 64, "identity": ego73}],
        }
        return httpx.Response(200, content=cbor2.dumps(reply))

    agent = Agent(
        "https://icp-api.io", transport=httpx.MockTransport(handler), max_certificate_age=float("inf")
    )
    with pytest.raises(CertificateError, match="outside the subnet's canister ranges"):
        agent.query(Principal.from_text("ivg37-qiaaa-aaaab-aaaga-cai"), "greet", NO_ARGS)


@pytest.mark.parametrize(
    "certificate",
    [
        b"\x00",
        cbor2.dumps({"tree": [1, [0]], "signature": b"x" * 48}),
        cbor2.dumps({"tree": [9], "signature": 5}),
    ],
)
def test_a_malformed_certificate_exits_4_without_a_traceback(store, certificate):
    net, canister = store
    body = cbor2.dumps({"status": "replied", "certificate": certificate})

    def plan(method, path, n):
        return (200, {}, body) if path.endswith("/call") else FORWARD

    with FlakyProxy(net.url, plan) as proxy:
        result = CliRunner().invoke(
            cli, ["--url", proxy.url, "--canister-id", str(canister), "--local", "delete", "T", "1"]
        )
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output and "malformed" in result.output
