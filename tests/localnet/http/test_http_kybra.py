"""End to end with the Kybra host: `python -m localnet start` serving a Kybra canister to the icp CLI
and ic-py, restarts keeping the root key, canister ids and stable memory, and data certificates."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import cbor2
import pytest
from ic.candid import Types, encode
from signing_kit import Http, Signer, content, envelope, verify_certificate

from ic_protocol import hash_tree
from ic_protocol.principal import from_text

COUNTER = Path(__file__).parent / "kybra_counter" / "main.py"


class Server:
    """`python -m localnet start` in a subprocess, on a free port."""

    def __init__(self, state: Path, *canisters: str, background: bool = False):
        """`background`: started as `cmd &` in a script is, with SIGINT ignored (it must still stop on it)."""
        args = [sys.executable, "-m", "localnet", "start", "--port", "0", "--state", str(state)]
        for spec in canisters:
            args += ["--canister", spec]
        ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ignore
        )
        self.lines = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"localnet exited: {self.proc.wait()} {self.proc.stderr.read()}")
            self.lines.append(line.strip())
            if line.startswith("http://"):
                self.url = line.strip()
                break

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


def test_cli_start_serves_icp_and_survives_restarts(state, icp, ic_agent):
    server = Server(state, f"counter={COUNTER}")
    try:
        ids = json.loads((state / "canisters.json").read_text())
        cid = ids["counter"]
        assert server.lines == [f"counter: {cid}", server.url]
        assert server.url.startswith("http://127.0.0.1:")
        icp.new_identity("proto-kybra")
        assert (
            icp.call(server.url, cid, "inc", '("a")', identity="proto-kybra").stdout.strip() == "(1 : nat64)"
        )
        assert icp.call(server.url, cid, "get", '("a")', query=True).stdout.strip() == "(1 : nat64)"
        agent = ic_agent(server.url)
        root_key = agent.client.status()
        assert agent.update_raw(cid, "inc", encode([{"type": Types.Text, "value": "a"}]))[0]["value"] == 2
    finally:
        assert server.stop() == 0
    restarted = Server(state, f"counter={COUNTER}", background=True)
    try:
        assert json.loads((state / "canisters.json").read_text()) == {"counter": cid}
        assert ic_agent(restarted.url).client.status() == root_key
        assert icp.call(restarted.url, cid, "get", '("a")', query=True).stdout.strip() == "(2 : nat64)"
    finally:
        assert restarted.stop(signal.SIGINT) == 0


def _start_once(*args: str) -> subprocess.CompletedProcess:
    """`python -m localnet start --port 0 ARGS...` expected to exit by itself (an error)."""
    command = [sys.executable, "-m", "localnet", "start", "--port", "0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_cli_refuses_bad_canister_specs(state):
    for spec in ("nameonly", "=x.py", f"c={COUNTER.parent / 'missing.py'}"):
        result = _start_once("--state", str(state), "--canister", spec)
        assert result.returncode == 2
        assert "--canister" in result.stderr


def test_cli_reports_a_port_in_use_in_one_line(state, localnet):
    busy = localnet()
    result = _start_once("--state", str(state), "--port", str(busy.port))
    assert result.returncode == 1
    assert (
        result.stderr == f"Error: port {busy.port} on 127.0.0.1 is already in use (another localnet? "
        "choose another with --port)\n"
    )


def test_cli_reports_a_state_directory_in_use_in_one_line(localnet, tmp_path):
    localnet(state_dir=tmp_path / "shared")
    result = _start_once("--state", str(tmp_path / "shared"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "is in use by another localnet replica" in result.stderr


def test_make_run_reports_a_busy_port_in_one_line(localnet, tmp_path):
    busy = localnet()
    script = Path(__file__).resolve().parents[3] / "scripts" / "run_local.py"
    command = [sys.executable, str(script), "--port", str(busy.port), "--state", str(tmp_path / "s")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert (
        result.stderr == f"make run: port {busy.port} on 127.0.0.1 is already in use (another localnet? "
        "choose another with PORT=N)\n"
    )


def test_traps_roll_back_and_data_certificates_verify(localnet, ic_agent, icp):
    net = localnet({"counter": COUNTER})
    cid = net.canister_id("counter")
    agent = ic_agent(net.url)
    key = encode([{"type": Types.Text, "value": "k"}])
    with pytest.raises(Exception, match="deliberate trap"):
        agent.update_raw(cid, "inc_then_trap", key)
    assert agent.query_raw(cid, "get", key)[0]["value"] == 0
    result = icp.call(net.url, cid, "inc_then_trap", '("k")', check=False)
    assert result.returncode != 0 and "deliberate trap" in result.stderr
    agent.update_raw(cid, "certify", encode([{"type": Types.Vec(Types.Nat8), "value": b"state-hash"}]))
    reply = agent.query_raw(cid, "certificate", encode([]))
    certificate = bytes(reply[0]["value"][0])
    tree = verify_certificate(certificate, net.root_key)
    assert hash_tree.lookup(tree, [b"canister", from_text(cid), b"certified_data"]) == b"state-hash"
    assert _read_certified_data(net, cid) == b"state-hash"
    with pytest.raises(Exception, match="deliberate trap"):
        other = encode([{"type": Types.Vec(Types.Nat8), "value": b"other"}])
        agent.update_raw(cid, "certify_then_trap", other)
    assert _read_certified_data(net, cid) == b"state-hash"
    reply = agent.query_raw(cid, "certificate", encode([]))
    tree = verify_certificate(bytes(reply[0]["value"][0]), net.root_key)
    assert hash_tree.lookup(tree, [b"canister", from_text(cid), b"certified_data"]) == b"state-hash"


def test_a_synchronous_call_certificate_carries_the_certified_data(localnet):
    net = localnet({"counter": COUNTER})
    cid = net.canister_id("counter")
    signer = Signer()
    arg = encode([{"type": Types.Vec(Types.Nat8), "value": b"after-call"}])
    body = envelope(content("call", signer, cid, method_name="certify", arg=arg), signer)
    http = Http(net.url)
    try:
        response = http.post(f"/api/v3/canister/{cid}/call", body)
    finally:
        http.close()
    assert response.status_code == 200, response.text
    tree = verify_certificate(cbor2.loads(response.content)["certificate"], net.root_key)
    assert hash_tree.lookup(tree, [b"canister", from_text(cid), b"certified_data"]) == b"after-call"


def _read_certified_data(net, cid: str) -> bytes:
    """`/canister/<cid>/certified_data` as read_state certifies it."""
    signer = Signer()
    path = [b"canister", from_text(cid), b"certified_data"]
    http = Http(net.url)
    try:
        body = envelope(content("read_state", signer, paths=[path]), signer)
        response = http.post(f"/api/v2/canister/{cid}/read_state", body)
    finally:
        http.close()
    assert response.status_code == 200, response.text
    tree = verify_certificate(cbor2.loads(response.content)["certificate"], net.root_key)
    return hash_tree.lookup(tree, path)


def test_cli_reports_a_canister_that_does_not_deploy(state, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from kybra import query\n\n\n@query\ndef f(x) -> int:\n    return 1\n")
    result = _start_once("--state", str(state), "--canister", f"bad={bad}")
    assert result.returncode == 1
    assert "cannot deploy the canisters" in result.stderr and "needs a type annotation" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_call_repeated_after_kill_9_is_not_executed_again(state, icp):
    from signing_kit import Http, Signer, content, envelope

    server = Server(state, f"counter={COUNTER}")
    cid = json.loads((state / "canisters.json").read_text())["counter"]
    signer = Signer()
    signed = envelope(
        content("call", signer, cid, method_name="inc", arg=encode([{"type": Types.Text, "value": "x"}])),
        signer,
    )
    http = Http(server.url)
    assert http.post(f"/api/v3/canister/{cid}/call", signed).status_code == 200
    http.close()
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    restarted = Server(state, f"counter={COUNTER}")
    try:
        http = Http(restarted.url)
        assert http.post(f"/api/v3/canister/{cid}/call", signed).status_code == 200
        http.close()
        assert icp.call(restarted.url, cid, "get", '("x")', query=True).stdout.strip() == "(1 : nat64)"
    finally:
        assert restarted.stop() == 0


def test_controllers_are_installed_and_certified(localnet):
    import cbor2
    from signing_kit import Http, Signer, content, envelope

    admin = Signer()
    net = localnet({"counter": COUNTER}, controllers=[admin.sender])
    cid = net.canister_id("counter")
    raw = from_text(cid)
    http = Http(net.url)
    body = envelope(content("read_state", admin, paths=[[b"canister", raw, b"controllers"]]), admin)
    response = http.post(f"/api/v2/canister/{cid}/read_state", body)
    http.close()
    tree = verify_certificate(cbor2.loads(response.content)["certificate"], net.root_key)
    assert cbor2.loads(hash_tree.lookup(tree, [b"canister", raw, b"controllers"])) == [admin.sender]


def test_cli_refuses_a_malformed_controller(state):
    result = _start_once("--state", str(state), "--controller", "not-a-principal")
    assert result.returncode == 2
    assert "--controller" in result.stderr
