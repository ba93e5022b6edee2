"""Every ```python and ```shell-console example of README.md and docs/client.md runs against a fresh
canister on localnet (see doc_examples.py for the conventions)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .doc_examples import Block, blocks, commands, reply_problem, run_document

REPO = Path(__file__).resolve().parents[2]
ICP_BIN = Path(os.environ.get("ICP_BIN") or REPO / ".tools/node_modules/@icp-sdk/icp-cli-linux-x64/bin/icp")
DOCUMENTS = [REPO / "README.md", REPO / "docs" / "client.md"]


def test_block_and_command_extraction():
    text = (
        "x\n```python\na = 1\n```\n```py\nnot run\n```\n"
        "```shell-console\n$ echo a \\\n  b\nout\n$ false # exit 1\n```\n"
    )
    found = blocks(text)
    assert [b.lang for b in found] == ["python", "shell-console"] and found[0].line == 2
    assert commands(found[1]) == ["echo a \\\n  b", "false # exit 1"]
    assert commands(Block("shell-console", "no commands\n", 1)) == []
    heredoc = Block("shell-console", "$ cat > f <<'EOF'\n$ not a command\nEOF\n$ echo next\n", 1)
    assert commands(heredoc) == ["cat > f <<'EOF'\n$ not a command\nEOF", "echo next"]


def test_candid_replies_must_match_what_the_command_claims():
    err = '(\n  variant {\n    Err = variant { NotFound = "app::Project 99 does not exist" }\n  },\n)\n'
    ok = "(variant { Ok = record { id = 1 : nat64 } })\n"
    assert reply_problem("icp canister call x get '(1)'", err) == "answered Err"
    assert reply_problem("icp canister call x get '(1)'  # expect: NotFound", err) is None
    wrong = reply_problem("icp canister call x get '(1)'  # expect: Forbidden", err)
    assert wrong == "expected Err Forbidden"
    assert reply_problem("icp canister call x get '(1)'  # expect: NotFound", ok) == "expected Err NotFound"
    assert reply_problem("icp canister call x get '(1)'", ok) is None
    assert reply_problem("echo hello", "hello\n") is None


def test_a_refused_cli_command_must_name_and_print_its_err_kind():
    refused = "error: NotFound: app::Task 999 does not exist\n"
    assert reply_problem("simpledb get app::Task 999  # expect: NotFound  # exit 3", refused) is None
    wrong = reply_problem("simpledb get app::Task 999  # expect: Forbidden  # exit 3", refused)
    assert wrong == "expected Err Forbidden"
    assert reply_problem("simpledb get app::Task 999  # exit 3", refused).startswith("exits 3 on any refusal")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_document_examples_run(document, net, tmp_path):
    if not document.exists() or not blocks(document.read_text(encoding="utf-8")):
        pytest.skip(f"{document.name} has no runnable examples")
    ran = run_document(
        document, net.url, net.fresh_canister(), net.fresh_canister, net.admin_pem, tmp_path, ICP_BIN
    )
    assert ran > 0


def test_shell_session_keeps_variables_and_reports_exit_codes(tmp_path):
    from .doc_examples import ShellSession

    shell = ShellSession("http://127.0.0.1:1", "aaaaa-aa", "aaaaa-aa", tmp_path / "k.pem", tmp_path, None)
    try:
        assert shell.run("NAME=$(echo Ada)") == (0, "")
        assert shell.run('echo "hello $NAME from $DB"') == (0, "hello Ada from aaaaa-aa\n")
        assert shell.run("ls /no/such/dir")[0] != 0
        assert shell.run("cat > f.txt <<'EOF'\nline\nEOF") == (0, "")
        assert shell.run("cat f.txt; read x; echo read=$?") == (0, "line\nread=1\n")  # stdin is /dev/null
        assert shell.run("simpledb --help")[0] == 0
    finally:
        shell.close()
