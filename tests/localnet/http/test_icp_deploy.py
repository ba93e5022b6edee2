"""The real `icp` CLI deploys to localnet and manages canisters by name, as it does on the IC: `icp deploy`
(create through the cycles ledger, install, upgrade), `icp canister create / install / status / stop /
start / delete`, and `icp canister call NAME ...`, with the build step the repository's icp.yaml
declares for the local environment (scripts/icp_build.sh -> localnet.wasm_bundle)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
COUNTER = Path(__file__).resolve().parent / "kybra_counter" / "main.py"


def project_yaml(url: str) -> str:
    build = f"sh {ROOT}/scripts/icp_build.sh"
    return f"""\
canisters:
  - name: simple_db
    build:
      steps:
        - type: script
          commands:
            - {build} simple_db canister/src/main.py canister/simple_db.did
  - name: counter
    build:
      steps:
        - type: script
          commands:
            - {sys.executable} -m localnet.wasm_bundle {COUNTER}
networks:
  - name: local
    mode: connected
    url: {url}
    root-key: fetch
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, icp):
    """A localnet with simple_db deployed by `icp deploy` from a project using the repo's build step."""
    from localnet import LocalNet

    project = tmp_path_factory.mktemp("project")
    with LocalNet(port=0) as net:
        (project / "icp.yaml").write_text(project_yaml(net.url))
        icp.env["PYTHON"] = sys.executable
        deployer = icp.new_identity("deployer")
        icp.new_identity("stranger")

        def run(*args: str, identity: str | None = "deployer", check: bool = True):
            who = ("--identity", identity) if identity else ()
            where = ("--project-root-override", str(project))
            return icp.run(*args, *who, *where, check=check, timeout=180)

        run("deploy", "-y", "simple_db")
        yield net, run, deployer


def test_icp_deploy_creates_and_installs_a_canister_callable_by_name(deployed):
    net, run, deployer = deployed
    assert run("canister", "call", "simple_db", "whoami", "()").stdout.strip() == f'(principal "{deployer}")'
    assert deployer in run("canister", "call", "simple_db", "whoami", "()", "--query").stdout
    status = run("canister", "status", "simple_db").stdout
    assert "Status: Running" in status and f"controller: {deployer}" in status
    assert "Module hash: 0x" in status


def test_icp_deploy_again_upgrades_and_keeps_data(deployed):
    net, run, deployer = deployed
    define = (
        '(record { name = "demo::Kept"; fields = vec { record { name = "title"; kind = variant { Text }; '
        "required = true; default = null; min = null; max = null; indexed = false } }; alias = null; "
        "relations = vec {}; policy = record { read = variant { Public }; create = variant { Anyone }; "
        "modify = variant { Owner }; delete = variant { Owner } } }, false)"
    )
    run("canister", "call", "simple_db", "define_type", define)
    before = run("canister", "call", "simple_db", "schema", "()", "--query").stdout
    run("deploy", "-y", "simple_db")
    after = run("canister", "call", "simple_db", "schema", "()", "--query").stdout
    assert after == before and "demo::Kept" in after


def test_stop_start_and_the_controller_check(deployed):
    net, run, deployer = deployed
    refused = run("canister", "stop", "simple_db", identity="stranger", check=False)
    assert refused.returncode != 0 and "Only the controllers of the canister" in refused.stderr
    run("canister", "stop", "simple_db")
    assert "Status: Stopped" in run("canister", "status", "simple_db").stdout
    stopped = run("canister", "call", "simple_db", "whoami", "()", check=False)
    assert stopped.returncode != 0 and "IC0508" in stopped.stderr
    run("canister", "start", "simple_db")
    assert "Status: Running" in run("canister", "status", "simple_db").stdout
    assert deployer in run("canister", "call", "simple_db", "whoami", "()").stdout


def test_create_install_then_delete_a_second_canister(deployed):
    net, run, deployer = deployed
    run("canister", "create", "counter")
    empty = run("canister", "call", "counter", "get", '("a")', check=False)
    assert empty.returncode != 0 and "IC0537" in empty.stderr
    run("build", "counter", identity=None)
    run("canister", "install", "counter")
    assert run("canister", "call", "counter", "inc", '("a")').stdout.strip() == "(1 : nat64)"
    run("canister", "install", "counter", "--mode", "reinstall", "-y")  # memory wiped, init runs again
    assert run("canister", "call", "counter", "get", '("a")', "--query").stdout.strip() == "(0 : nat64)"
    run("canister", "stop", "counter")
    run("canister", "delete", "counter")
    gone = run("canister", "status", "counter", check=False)
    assert gone.returncode != 0


def test_web_pages_cannot_call_the_management_canister(localnet):
    """Code installed on localnet may run unsandboxed (CPython): a page in a browser (which sends an
    Origin header) must not be able to create a canister and install code; CLIs and agents can."""
    import httpx
    from signing_kit import Signer, content, envelope

    from localnet import candid_codec
    from localnet.management_types import MANAGEMENT, SYSTEM_IFACE

    net = localnet()
    signer = Signer()
    params, _ = MANAGEMENT["provisional_create_canister_with_cycles"]
    value = {"amount": None, "settings": None, "specified_id": None, "sender_canister_version": None}
    arg = candid_codec.encode(params, [value], SYSTEM_IFACE)
    body = content("call", signer, "aaaaa-aa", method_name="provisional_create_canister_with_cycles", arg=arg)
    url = f"{net.url}/api/v3/canister/bkyz2-fmaaa-aaaaa-qaaaq-cai/call"
    headers = {"Content-Type": "application/cbor", "Origin": "https://example.org"}
    refused = httpx.post(url, content=envelope(body, signer), headers=headers)
    assert refused.status_code == 403 and "web pages" in refused.text
    assert net.canister_ids() == {}
    again = content(
        "call", signer, "aaaaa-aa", method_name="provisional_create_canister_with_cycles", arg=arg
    )
    accepted = httpx.post(url, content=envelope(again, signer), headers={"Content-Type": "application/cbor"})
    assert accepted.status_code == 200 and len(net.canister_ids()) == 1
