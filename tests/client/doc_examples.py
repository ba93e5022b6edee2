"""Run a Markdown file's examples against a canister: ```python blocks in order in one namespace (with
`url`, `canister_id`, `admin_pem` and `fresh_canister_id` injected), and ```shell-console blocks command
by command.

Conventions (documented in docs/client.md, "Examples in the docs are tests"):
- Only fences tagged exactly `python` or `shell-console` run; use `py`, `text` or `console` for code
  that must not.
- In `shell-console` blocks, lines starting with `$ ` are commands (a trailing `\\` continues a command
  on the next line); other lines are sample output and are not compared. Every command must exit 0,
  unless it ends with a comment `# exit N`. Commands run under bash in a scratch directory with
  SIMPLEDB_URL, SIMPLEDB_CANISTER_ID, SIMPLEDB_IDENTITY (the admin's PEM) and SIMPLEDB_LOCAL=1 set, and
  URL, CANISTER_ID, ADMIN_PEM and FRESH_CANISTER_ID (an empty canister, not the python blocks' one);
  `icp` is on PATH with the admin key imported as the identity `simpledb-admin`. Commands starting with
  `dfx` are skipped (dfx cannot be installed here).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
EXPECTED_EXIT = re.compile(r"#\s*exit\s+(\d+)\s*$")
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


class ShellEnv:
    """The environment shell-console commands run in."""

    def __init__(
        self,
        url: str,
        canister_id: str,
        fresh_canister_id: str,
        admin_pem: Path,
        workdir: Path,
        icp_bin: Path | None,
    ):
        self.workdir = workdir
        bin_dir = Path(sys.executable).parent
        path = [str(bin_dir)]
        home = workdir / ".home"
        home.mkdir(exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SIMPLEDB_", "ICP_"))}
        self.env.update(
            SIMPLEDB_URL=url,
            SIMPLEDB_CANISTER_ID=canister_id,
            SIMPLEDB_IDENTITY=str(admin_pem),
            SIMPLEDB_LOCAL="1",
            URL=url,
            CANISTER_ID=canister_id,
            ADMIN_PEM=str(admin_pem),
            FRESH_CANISTER_ID=fresh_canister_id,
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local/share"),
            XDG_CACHE_HOME=str(home / ".cache"),
            DO_NOT_TRACK="1",
            NO_COLOR="1",
        )
        self.icp = icp_bin if icp_bin and icp_bin.is_file() else None
        if self.icp:
            path.append(str(self.icp.parent))
            for args in (
                ["settings", "telemetry", "false"],
                ["settings", "update-check", "false"],
                [
                    "identity",
                    "import",
                    "--storage",
                    "plaintext",
                    "--from-pem",
                    str(admin_pem),
                    "simpledb-admin",
                ],
            ):
                self._raw([str(self.icp), *args], check=True)
        self.env["PATH"] = os.pathsep.join(path + [self.env.get("PATH", "")])

    def _raw(self, argv: list[str], check: bool = False) -> subprocess.CompletedProcess:
        result = subprocess.run(
            argv, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=120
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{shlex.join(argv)} failed: {result.stderr}")
        return result

    def run(self, command: str) -> subprocess.CompletedProcess:
        return self._raw(["bash", "-c", command])


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
    shell: ShellEnv | None = None
    ran = 0
    cwd = os.getcwd()
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
            shell = shell or ShellEnv(url, canister_id, new_canister(), admin_pem, workdir, icp_bin)
            for command in commands(block):
                if command.lstrip().startswith("dfx "):
                    continue
                if command.lstrip().startswith("icp ") and shell.icp is None:
                    continue
                result = shell.run(command)
                expected = EXPECTED_EXIT.search(command)
                want = int(expected.group(1)) if expected else 0
                assert result.returncode == want, (
                    f"{where}: `{command}` exited {result.returncode}, expected {want}\n"
                    f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
                )
        ran += 1
    return ran
