"""Every `simpledb` command against a canister on localnet, with tables, --json and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from simple_db_client import Ed25519Identity
from simple_db_client.cli import cli


@pytest.fixture
def run(net):
    """`run(*args, identity=admin PEM, code=0)` -> output; checks the exit code."""

    def invoke(*args: str, identity: str | None = None, code: int = 0, canister_id: str | None = None) -> str:
        env = {
            "SIMPLEDB_URL": net.url,
            "SIMPLEDB_CANISTER_ID": canister_id or net.canister_id,
            "SIMPLEDB_IDENTITY": identity or str(net.admin_pem),
            "SIMPLEDB_LOCAL": "1",
        }
        result = CliRunner().invoke(cli, list(args), env=env)
        assert result.exit_code == code, f"simpledb {' '.join(args)}: {result.output}"
        return result.output

    return invoke


def test_whoami_admins_and_stats(run, net, tmp_path):
    assert run("whoami").strip() == str(net.admin.principal)
    assert json.loads(run("whoami", "--json")) == {"principal": str(net.admin.principal)}
    assert json.loads(run("--json", "whoami"))["principal"] == str(net.admin.principal)
    assert str(net.admin.principal) in run("admins")
    other = Ed25519Identity()
    pem = tmp_path / "other.pem"
    pem.write_bytes(other.to_pem())
    assert run("whoami", identity=str(pem)).strip() == str(other.principal)
    vectors = Path(__file__).parent / "vectors"
    expected = json.loads((vectors / "principals.json").read_text())
    assert run("whoami", identity=str(vectors / "seed_phrase.txt")).strip() == expected["seed_secp256k1"]
    assert run("whoami", identity=str(vectors / "dfx_secp256k1.pem")).strip() == expected["dfx_secp256k1.pem"]
    assert run("--identity", "", "whoami").strip() == "2vxsx-fae"
    run("admins", "add", str(other.principal))
    assert str(other.principal) in json.loads(run("admins", "--json"))
    run("admins", "remove", str(other.principal))
    assert str(other.principal) not in run("admins")
    run("admins", "add", str(other.principal), identity=str(pem), code=3)
    run("admins", "add", "not-a-principal", code=2)
    assert "audit entries" in run("stats")
    assert json.loads(run("stats", "--json"))["entities"] >= 0


def test_define_type_from_flags_yaml_and_json(run, namespace, tmp_path):
    task = namespace("Task")
    run(
        "define-type",
        "--name",
        task,
        "--field",
        "title=text,required,max=80",
        "--field",
        "done=bool,default=false",
        "--field",
        "rank=int,indexed",
        "--alias",
        "title",
        "--read",
        "Public",
    )
    schema = json.loads(run("schema", task, "--json"))
    assert [f["name"] for f in schema["fields"]] == ["title", "done", "rank"] and schema["alias"] == "title"
    assert "title" in run("schema", task) and task in run("schema")
    yaml_file = tmp_path / "types.yaml"
    yaml_file.write_text(
        f"- name: {namespace('Tag')}\n  fields:\n    - {{name: label, kind: Text, required: true}}\n"
        f"- name: {namespace('Post')}\n  fields: [{{name: body, kind: text}}]\n"
        f"  relations: [{{name: tags, kind: ManyToMany, target: '{namespace('Tag')}', reverse: posts}}]\n"
        f"  policy: {{read: Owner}}\n"
    )
    run("define-type", str(yaml_file))
    json_file = tmp_path / "type.json"
    json_file.write_text(json.dumps({"name": namespace("Note"), "fields": [{"name": "n", "kind": "Float"}]}))
    run("define-type", str(json_file))
    names = [t["name"] for t in json.loads(run("schema", "--json"))]
    assert {namespace("Tag"), namespace("Post"), namespace("Note")} <= set(names)
    run(
        "define-type", "--name", task, "--field", "title=int", identity=None, code=3
    )  # destructive, no --force
    run("schema", namespace("Nope"), code=2)


def test_entity_commands(run, namespace, tmp_path):
    task = namespace("Task")
    run(
        "define-type",
        "--name",
        task,
        "--field",
        "title=text,required",
        "--field",
        "done=bool,default=false",
        "--field",
        "rank=int,indexed",
        "--field",
        "due=timestamp",
        "--alias",
        "title",
        "--relation",
        f"subtasks=OneToMany,{task},parent",
    )
    created = json.loads(
        run("create", task, "title=write docs", "rank=1", "due=2030-01-01T00:00:00Z", "--json")
    )
    assert created["fields"]["title"] == "write docs" and created["fields"]["due"] == "2030-01-01T00:00:00Z"
    tid = str(created["id"])
    assert "write docs" in run("get", task, tid)
    assert json.loads(run("find", task, "write docs", "--json"))["id"] == created["id"]
    updated = json.loads(
        run("update", task, tid, "done=true", "rank:=2", "--expected-version", "1", "--json")
    )
    assert updated["fields"]["done"] is True and updated["version"] == 2
    run("update", task, tid, "rank=3", "--expected-version", "1", code=3)
    run("update", task, tid, "nosuch=1", code=2)
    run("create", task, "rank=x", code=2)
    child = json.loads(run("create", task, "title=child", "rank=1", "--json"))["id"]
    run("link", task, tid, "subtasks", str(child))
    assert json.loads(run("links", task, tid, "subtasks", "--json")) == [child]
    assert str(child) in run("links", task, tid, "subtasks")
    unlinked = json.loads(run("unlink", task, tid, "subtasks", str(child), "--json"))
    assert unlinked == {
        "unlinked": {"type": task, "id": int(tid), "relation": "subtasks", "target_id": child}
    }
    assert json.loads(run("links", task, tid, "subtasks", "--json")) == []
    listing = run("list", task)
    assert "write docs" in listing and "child" in listing and listing.splitlines()[0].startswith("id")
    assert [e["fields"]["title"] for e in json.loads(run("list", task, "rank=1", "--json"))] == ["child"]
    assert len(json.loads(run("list", task, "--limit", "1", "--page-size", "1", "--json"))) == 1
    assert run("count", task).strip() == "2"
    assert json.loads(run("count", task, "rank=1", "--json")) == {"type": task, "count": 1}
    heir = Ed25519Identity().principal
    assert json.loads(run("transfer", task, str(child), str(heir), "--json"))["owner"] == str(heir)
    assert json.loads(run("delete", task, tid, "--json")) == {"deleted": {"type": task, "id": int(tid)}}
    run("get", task, tid, code=3)
    run("delete-continue", task, tid, code=3)     # finished in its message: nothing to continue
    audit = json.loads(run("audit", "--json"))
    mine = [a for a in audit if a["type_name"] == task]
    assert [a["operation"] for a in mine][:3] == ["create", "update", "create"]
    assert "operation" in run("audit", "--limit", "2")
    assert len(json.loads(run("audit", "--from", str(mine[0]["seq"]), "--limit", "2", "--json"))) == 2


def test_export_import_round_trip_through_the_cli(run, net, namespace, tmp_path):
    kind = namespace("Item")
    run("define-type", "--name", kind, "--field", "n=int")
    for i in range(5):
        run("create", kind, f"n={i}")
    first = tmp_path / "first.jsonl"
    run("export", str(first), "--page-size", "2")
    fresh = net.fresh_canister()
    out = run("import", str(first), canister_id=fresh)
    assert "imported" in out
    again = json.loads(run("import", str(first), "--skip-existing", "--json", canister_id=fresh))
    assert again["entities"] == 0 and again["skipped"] >= 5
    second = tmp_path / "second.jsonl"
    run("dump", str(second), "--page-size", "2", canister_id=fresh)
    pages = lambda path: path.read_text().splitlines()[1:]  # noqa: E731 - headers differ in canister id and time
    assert pages(first) == pages(second)
    assert run("export", "-", canister_id=fresh).splitlines()[1:] == run("export", "-").splitlines()[1:]
    before = run("count", kind, canister_id=fresh)
    refused = run("import", str(first), canister_id=fresh, code=3)  # the ids exist already
    assert "refused after 0 entities restored" in refused and "already exists" in refused
    assert run("count", kind, canister_id=fresh) == before == "5\n"


def test_the_installed_entry_point_runs(net):
    simpledb = Path(sys.executable).with_name("simpledb")
    env = {
        "SIMPLEDB_URL": net.url,
        "SIMPLEDB_CANISTER_ID": net.canister_id,
        "SIMPLEDB_LOCAL": "1",
        "PATH": "",
    }
    result = subprocess.run([str(simpledb), "whoami"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "2vxsx-fae"
    result = subprocess.run([str(simpledb), "get", "no::Such", "1"], env=env, capture_output=True, text=True)
    assert result.returncode == 3 and "error:" in result.stderr
