"""Every shell example in docs/canister.md runs, in order, against localnet with the real icp CLI; dfx
examples run as the same call through icp (dfx cannot be installed here). Also checks the deployment
files the document describes."""

import json
import re
import shlex
from pathlib import Path

import pytest
from canister_harness import CONSUMER_ENTRY, ENTRY
from ic.principal import Principal

from localnet import LocalNet
from tests.client.doc_examples import reply_problem

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "canister.md"
ASSIGNMENT = re.compile(r"^([A-Z_]+)=\$\((.*)\)$")


def shell_examples(text: str) -> list[tuple[str | None, str]]:
    """(expected Err case or None, command) for every line of every ```sh block, in order."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        expect = None
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("# expect:"):
                expect = line.split(":", 1)[1].strip()
            elif line and not line.startswith("#"):
                commands.append((expect, line))
                expect = None
    return commands


def dfx_as_icp(argv: list[str], url: str) -> list[str]:
    """`dfx canister call --network URL --identity NAME CANISTER METHOD ARGS [--query]` as icp arguments."""
    assert argv[:3] == ["dfx", "canister", "call"], argv
    rest, options = argv[3:], {}
    positional, query = [], False
    while rest:
        token = rest.pop(0)
        if token in ("--network", "--identity"):
            options[token] = rest.pop(0)
        elif token == "--query":
            query = True
        else:
            positional.append(token)
    assert options["--network"] == url and len(positional) == 3, argv
    command = ["canister", "call", "-n", url, "-k", "fetch", "--identity", options["--identity"], *positional]
    return command + (["--query"] if query else [])


def test_doc_examples_run_in_order(icp, tmp_path):
    text = DOC.read_text()
    examples = shell_examples(text)
    assert sum(1 for _, c in examples if c.startswith("icp canister call")) >= 22
    admin_pem = tmp_path / "admin.pem"
    from tests.conftest import _private_key_pem

    admin_pem.write_bytes(_private_key_pem("ed25519"))
    with LocalNet(port=0) as net:
        probe = icp.run("identity", "import", "--storage", "plaintext", "--from-pem", str(admin_pem), "probe")
        assert probe.returncode == 0
        admin = icp.run("identity", "principal", "--identity", "probe").stdout.strip()
        icp.run("identity", "delete", "probe")
        controllers = [Principal.from_str(admin).bytes]
        db = Principal(net.replica.deploy("simple_db", ENTRY, controllers=controllers))
        consumer = Principal(net.replica.deploy("consumer", CONSUMER_ENTRY, controllers=controllers))
        variables = {
            "URL": net.url,
            "DB": db.to_str(),
            "CONSUMER": consumer.to_str(),
            "ADMIN_PEM": str(admin_pem),
        }
        methods = set()
        for expect, command in examples:
            assignment = ASSIGNMENT.match(command)
            line = assignment.group(2) if assignment else command
            for name, value in variables.items():
                line = line.replace("$" + name, value)
            argv = shlex.split(line)
            if argv[0] == "dfx":
                argv = ["icp", *dfx_as_icp(argv, net.url)]
            assert argv[0] == "icp", command
            result = icp.run(*argv[1:], check=False)
            assert result.returncode == 0, f"{command}\n{result.stderr}"
            if assignment:
                variables[assignment.group(1)] = result.stdout.strip()
                continue
            if argv[1:3] == ["canister", "call"]:
                if variables["DB"] in argv:
                    methods.add(argv[argv.index(variables["DB"]) + 1])
                claim = command if expect is None else command + "  # expect: " + expect
                problem = reply_problem(claim, result.stdout)
                assert problem is None, f"{command} {problem}:\n{result.stdout}"
    service = (ROOT / "canister" / "simple_db.did").read_text().split("service : {")[1]
    did_methods = set(re.findall(r'^\s+"?(\w+)"? :', service, re.M))
    assert len(did_methods) == 35 and did_methods <= methods


def test_dfx_json_matches_the_deployment_described():
    config = json.loads((ROOT / "dfx.json").read_text())
    db = config["canisters"]["simple_db"]
    assert db["type"] == "custom" and db["gzip"] is True
    assert db["build"] == "python -m kybra simple_db canister/src/main.py"
    assert db["candid"] == "canister/simple_db.did"
    assert db["wasm"] == ".kybra/simple_db/simple_db.wasm"
    assert {"name": "candid:service", "path": "canister/simple_db.did"} in db["metadata"]
    consumer = config["canisters"]["consumer"]
    assert (
        consumer["build"].endswith("examples/consumer/src/main.py") and (ROOT / consumer["candid"]).is_file()
    )


@pytest.mark.parametrize("canister", ["simple_db", "consumer"])
def test_icp_yaml_builds_with_kybra_except_for_localnet(icp, canister):
    shown = icp.run("project", "show", "--project-root-override", str(ROOT)).stdout
    assert f"name: {canister}" in shown
    assert f"sh scripts/icp_build.sh {canister} " in shown
    script = (ROOT / "scripts" / "icp_build.sh").read_text()
    # only the `local` environment (localnet) gets the source bundle; every other one Kybra's build
    assert 'if [ "${ICP_CLI_ENVIRONMENT:-}" = local ]; then' in script
    assert '"$python" -m kybra "$name" "$entry"' in script and "metadata candid:service" in script
