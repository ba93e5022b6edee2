"""The CLI's argument syntax, usage errors (exit 2) and network failures (exit 4), without a canister."""

import json
import socket

import click
import pytest
from click.testing import CliRunner
from simple_db_client.cli import cli
from simple_db_client.cli_args import parse_assignments, parse_field_spec, parse_relation_spec
from simple_db_client.cli_output import entity_table, table
from simple_db_client.dump_file import DumpFileError, read_dump
from simple_db_client.models import FieldDef, TypeDef
from simple_db_client.principal import Principal
from simple_db_client.values import Timestamp

USER = TypeDef(
    "app::User",
    [
        FieldDef("name", "Text"),
        FieldDef("age", "Int"),
        FieldDef("score", "Float"),
        FieldDef("admin", "Bool"),
        FieldDef("seen", "Timestamp"),
        FieldDef("who", "Principal"),
    ],
)


def test_assignments_convert_by_field_kind():
    values = parse_assignments(
        ("name=Ada", "age=36", "score=1.5", "admin=true", "seen=2024-01-01T00:00:00Z", "who=2vxsx-fae"), USER
    )
    assert (
        values["name"] == "Ada" and values["age"] == 36 and values["score"] == 1.5 and values["admin"] is True
    )
    assert values["seen"].year == 2024 and values["who"] == Principal.anonymous()
    assert parse_assignments(("name:=null", "age:=7", "name=a=b"), USER) == {"name": "a=b", "age": 7}


@pytest.mark.parametrize(
    "arg,message",
    [
        ("name", "FIELD=VALUE"),
        ("=x", "FIELD=VALUE"),
        ("nope=1", "has no field 'nope'"),
        ("age=old", "not a valid Int"),
        ("age:={", "not JSON"),
    ],
)
def test_bad_assignments_are_usage_errors(arg, message):
    with pytest.raises(click.BadParameter, match=message):
        parse_assignments((arg,), USER)


def test_field_and_relation_specs():
    field = parse_field_spec("age=int,required,indexed,min=0,max=150,default=18")
    assert field == FieldDef("age", "int", required=True, default=18, min=0.0, max=150.0, indexed=True)
    relation = parse_relation_spec("posts=OneToMany,app::Post,author,Cascade")
    assert (relation.name, relation.kind, relation.target, relation.reverse, relation.on_delete) == (
        "posts",
        "OneToMany",
        "app::Post",
        "author",
        "Cascade",
    )
    for bad in ("age", "age=int,sorted", "age=int,min=x"):
        with pytest.raises(click.BadParameter):
            parse_field_spec(bad)
    with pytest.raises(click.BadParameter):
        parse_relation_spec("posts=OneToMany,app::Post")


def test_tables_align_columns():
    text = table(["id", "name"], [[1, "Ada"], [22, None]])
    assert text.splitlines() == ["id  name", "--  ----", "1   Ada", "22"]


def test_entity_table_lists_every_field():
    from simple_db_client.models import Entity

    p, t = Principal.anonymous(), Timestamp.from_ns(0)
    entity = Entity("app::User", 1, {"name": "Ada"}, {}, p, p, p, t, t, 1)
    assert entity_table([entity]).splitlines()[0].split() == ["id", "name", "owner", "version"]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_exit_codes_for_usage_and_network_failures(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["get", "app::User", "1"]).exit_code == 2  # no canister id
    assert runner.invoke(cli, ["--canister-id", "bad", "whoami"]).exit_code == 2
    assert runner.invoke(cli, ["--canister-id", "aaaaa-aa", "get", "T", "-1"]).exit_code == 2
    assert runner.invoke(cli, ["nosuchcommand"]).exit_code == 2
    (tmp_path / "key.pem").write_text("not a key")
    bad_identity = runner.invoke(
        cli, ["--canister-id", "aaaaa-aa", "--identity", str(tmp_path / "key.pem"), "whoami"]
    )
    assert bad_identity.exit_code == 2 and "seed phrase" in bad_identity.output
    unreachable = runner.invoke(
        cli, ["--url", f"http://127.0.0.1:{_free_port()}", "--canister-id", "aaaaa-aa", "whoami"]
    )
    assert unreachable.exit_code == 4 and "cannot reach" in unreachable.output


def test_environment_variables_configure_the_cli():
    result = CliRunner().invoke(
        cli,
        ["whoami"],
        env={"SIMPLEDB_URL": f"http://127.0.0.1:{_free_port()}", "SIMPLEDB_CANISTER_ID": "aaaaa-aa"},
    )
    assert result.exit_code == 4


def test_define_type_usage_errors(tmp_path):
    runner = CliRunner()
    base = ["--canister-id", "aaaaa-aa", "define-type"]
    assert runner.invoke(cli, base).exit_code == 2
    assert runner.invoke(cli, [*base, "--name", "T", "--field", "x=blob"]).exit_code == 2
    bad = tmp_path / "t.yaml"
    bad.write_text("name: T\nfields: [{name: x, kind: Text, colour: red}]\n")
    result = runner.invoke(cli, [*base, str(bad)])
    assert result.exit_code == 2 and "colour" in result.output
    bad.write_text("name: T\npolicy: {read: Everyone}\n")
    assert runner.invoke(cli, [*base, str(bad)]).exit_code == 2
    assert runner.invoke(cli, [*base, str(bad), "--name", "X"]).exit_code == 2


def test_import_refuses_files_that_are_not_exports(tmp_path):
    path = tmp_path / "x.jsonl"
    for content, message in [
        ("", "not a Simple DB export"),
        ('{"format": "other"}\n', "not a Simple DB export"),
        ('{"format": "kybra-simple-db-dump", "version": 9}\n', "version 9"),
        ('{"format": "kybra-simple-db-dump", "version": 1}\n{"data": 5}\n', "text `data`"),
        ('{"format": "kybra-simple-db-dump", "version": 1}\nnot json\n', "not JSON Lines"),
    ]:
        path.write_text(content)
        with pytest.raises(DumpFileError, match=message):
            read_dump(path)
    result = CliRunner().invoke(cli, ["--canister-id", "aaaaa-aa", "import", str(path)])
    assert result.exit_code == 2
    path.write_text(
        json.dumps({"format": "kybra-simple-db-dump", "version": 1}) + "\n" + json.dumps({"data": "x"})
    )
    assert read_dump(path)[1] == ["x"]
