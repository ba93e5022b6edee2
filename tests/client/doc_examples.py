"""Run a Markdown file's examples against a canister: ```python blocks in order in one namespace (with
`url`, `canister_id`, `admin_pem` and `fresh_canister_id` injected), and ```shell-console blocks command
by command.

Conventions (documented in docs/client.md, "Examples in the docs are tests"):
- Only fences tagged exactly `python` or `shell-console` run; use `py`, `text` or `console` for code
  that must not.
- In `shell-console` blocks, lines starting with `$ ` are commands (a trailing `\\` continues a command
  on the next line); other lines are sample output and are not compared. Every command must exit 0,
  unless it ends with a comment `# exit N`. A command whose output holds a Candid reply (`icp` or
  `dfx canister call`, which exit 0 on an `Err` too) must answer `Ok`, unless it ends with a comment
  `# expect: KIND`: then it must answer `Err` of that kind (`NotFound`, `Forbidden`, ...). The
  simpledb CLI exits 3 on any `Err` and prints `error: KIND: ...`: a `# exit 3` command must also
  carry `# expect: KIND` (`# expect: NotFound  # exit 3`), and print that kind.
  A document's commands share one bash session (stdin empty) in a scratch directory with
  SIMPLEDB_URL, SIMPLEDB_CANISTER_ID, SIMPLEDB_IDENTITY (the admin's PEM) and SIMPLEDB_LOCAL=1 set,
  and URL, CANISTER_ID (also as DB), ADMIN_PEM and FRESH_CANISTER_ID (an empty canister, not the
  python blocks' one); `icp` is on PATH with the admin key imported as the identity
  `simpledb-admin`, named by ADMIN_IDENTITY (as `make run` prints them). Commands starting with `dfx`
  are skipped (dfx cannot be installed here).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
EXPECTED_EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")
EXPECTED_ERR = re.compile(r"#\s*expect:\s*(\w+)")
REFUSED_EXIT = re.compile(r"#\s*exit\s+3\s*$")  # the simpledb CLI's exit code for any Err reply
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


@dataclass
class Block:
    lang: str
    code: str
    line: int


def blocks(markdown: str) -> list[Block]:
    """The runnable fenced blocks, with the line each starts on."""
    found = []
    for match in FENCE.finditer(markdown):
        if match.group(1) in ("python", "shell-console"):
            found.append(Block(match.group(1), match.group(2), markdown.count("\n", 0, match.start()) + 1))
    return found


def reply_problem(command: str, output: str) -> str | None:
    """Why the Candid reply in `output` contradicts what `command` claims (`Ok`, or the `Err` kind of a
    `# expect: KIND` comment), or None when it agrees or there is no Candid reply."""
    reply = " ".join(output.split())
    expected = EXPECTED_ERR.search(command)
    if expected is not None:
        kind = expected.group(1)
        if f"Err = variant {{ {kind} =" not in reply and f"error: {kind}:" not in output:
            return f"expected Err {kind}"
    elif "Err = variant {" in reply:
        return "answered Err"
    elif REFUSED_EXIT.search(command):
        return "exits 3 on any refusal: name the Err kind with `# expect: KIND  # exit 3`"
    return None


def commands(block: Block) -> list[str]:
    """The `$ ` commands of a shell-console block, continuation lines and here-documents joined."""
    result: list[str] = []
    pending: str | None = None
    heredoc: str | None = None
    for line in block.code.splitlines():
        if heredoc is not None:
            pending += "\n" + line
            if line.strip() == heredoc:
                heredoc = None
                result.append(pending)
                pending = None
            continue
        if pending is not None:
            pending += "\n" + line
        elif line.startswith("$ "):
            pending = line[2:]
        else:
            continue
        opened = HEREDOC.search(line)
        if opened:
            heredoc = opened.group(2)
        elif not pending.endswith("\\"):
            result.append(pending)
            pending = None
    if pending is not None:
        result.append(pending)
    return result


class ShellSession:
    """One bash process for all the shell-console commands of a document, so variables set by one
    command (`BOB=$(...)`) are seen by the next, as in a terminal."""

    def __init__(
        self,
        url: str,
        canister_id: str,
        fresh_canister_id: str,
        admin_pem: Path,
        workdir: Path,
        icp_bin: Path | None,
    ):
        home = workdir / ".home"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SIMPLEDB_", "ICP_"))}
        env.update(
            SIMPLEDB_URL=url,
            SIMPLEDB_CANISTER_ID=canister_id,
            SIMPLEDB_IDENTITY=str(admin_pem),
            SIMPLEDB_LOCAL="1",
            URL=url,
            CANISTER_ID=canister_id,
            DB=canister_id,
            ADMIN_PEM=str(admin_pem),
            ADMIN_IDENTITY="simpledb-admin",
            FRESH_CANISTER_ID=fresh_canister_id,
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local/share"),
            XDG_CACHE_HOME=str(home / ".cache"),
            DO_NOT_TRACK="1",
            NO_COLOR="1",
        )
        path = [str(Path(sys.executable).parent)]
        self.icp = icp_bin if icp_bin and icp_bin.is_file() else None
        if self.icp:
            path.append(str(self.icp.parent))
        env["PATH"] = os.pathsep.join(path + [env.get("PATH", "")])
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=workdir,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        if self.icp:
            for setup in (
                "icp settings telemetry false",
                "icp settings update-check false",
                f"icp identity import --storage plaintext --from-pem {shlex.quote(str(admin_pem))} "
                "simpledb-admin",
            ):
                code, output = self.run(setup)
                if code != 0:
                    raise AssertionError(f"`{setup}` failed: {output}")

    def run(self, command: str, timeout: float = 120) -> tuple[int, str]:
        """Run one command (stdin from /dev/null, stderr merged); its exit code and output."""
        marker = f"__doc_example_done_{os.urandom(6).hex()}__"
        self.proc.stdin.write(f"{{\n{command}\n}} < /dev/null 2>&1\necho {marker}$?\n")
        self.proc.stdin.flush()
        watchdog = threading.Timer(timeout, self.proc.kill)
        watchdog.start()
        lines = []
        try:
            for line in self.proc.stdout:
                if line.startswith(marker):
                    return int(line[len(marker) :]), "".join(lines)
                lines.append(line)
        finally:
            watchdog.cancel()
        raise AssertionError(f"`{command}` did not finish within {timeout:.0f} s:\n{''.join(lines)}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def run_document(
    path: Path,
    url: str,
    canister_id: str,
    new_canister: Callable[[], str],
    admin_pem: Path,
    workdir: Path,
    icp_bin: Path | None,
) -> int:
    """Run every example of `path`; return how many blocks ran. Raise AssertionError on a failure.
    `new_canister()` deploys an empty canister: one for the python blocks, one for the shell ones."""
    text = path.read_text(encoding="utf-8")
    namespace: dict = {
        "url": url,
        "canister_id": canister_id,
        "admin_pem": str(admin_pem),
        "fresh_canister_id": new_canister(),
        "__name__": "__doc_example__",
    }
    shell: ShellSession | None = None
    ran = 0
    cwd = os.getcwd()
    try:
        for block in blocks(text):
            where = f"{path.name}:{block.line}"
            if block.lang == "python":
                os.chdir(workdir)
                try:
                    exec(compile(block.code, where, "exec"), namespace)
                except Exception as exc:
                    raise AssertionError(f"{where}: python example failed: {exc!r}") from exc
                finally:
                    os.chdir(cwd)
            else:
                shell = shell or ShellSession(url, canister_id, new_canister(), admin_pem, workdir, icp_bin)
                for command in commands(block):
                    if command.lstrip().startswith("dfx "):
                        continue
                    if command.lstrip().startswith("icp ") and shell.icp is None:
                        continue
                    code, output = shell.run(command)
                    expected = EXPECTED_EXIT.search(command)
                    want = int(expected.group(1)) if expected else 0
                    assert code == want, f"{where}: `{command}` exited {code}, expected {want}:\n{output}"
                    problem = reply_problem(command, output)
                    assert problem is None, f"{where}: `{command}` {problem}:\n{output}"
            ran += 1
    finally:
        if shell is not None:
            shell.close()
    return ran
