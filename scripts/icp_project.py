"""The icp project `make run` deploys with: the repository's icp.yaml, pointed at the running localnet.

The copy lives in the localnet state directory (STATE/project/icp.yaml), so the canister ids `icp`
records for it (STATE/project/.icp/) live and die with the canisters they name. Its build steps run the
repository's scripts/icp_build.sh, so what it builds is exactly what the repository's icp.yaml builds.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ICP_BIN = REPO / ".tools/node_modules/@icp-sdk/icp-cli-linux-x64/bin/icp"
DEFAULT_URL = "http://127.0.0.1:4943"
BUILD_SCRIPT = "sh scripts/icp_build.sh"


class IcpError(RuntimeError):
    """An icp command failed; the message holds its output."""


def write_project(directory: Path, url: str) -> Path:
    """STATE/project/icp.yaml: the repository's icp.yaml with the local network at `url`."""
    text = (REPO / "icp.yaml").read_text(encoding="utf-8")
    if DEFAULT_URL not in text or BUILD_SCRIPT not in text:
        raise IcpError("icp.yaml no longer has the local network URL or the build script run_local expects")
    text = text.replace(DEFAULT_URL, url).replace(BUILD_SCRIPT, f"sh {REPO}/scripts/icp_build.sh")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "icp.yaml").write_text(text, encoding="utf-8")
    return directory


def mappings_file(project: Path) -> Path:
    return project / ".icp" / "data" / "mappings" / "local.ids.json"


def canister_ids(project: Path) -> dict[str, str]:
    """The canister ids icp recorded for the project's local environment (name -> principal text)."""
    path = mappings_file(project)
    return json.loads(path.read_text()) if path.exists() else {}


def forget_missing(project: Path, hosted: set[str]) -> None:
    """Drop recorded ids that localnet no longer hosts (a state directory made afresh)."""
    ids = canister_ids(project)
    kept = {name: cid for name, cid in ids.items() if cid in hosted}
    if kept != ids:
        mappings_file(project).write_text(json.dumps(kept, indent=2))


class Icp:
    """Runs the pinned icp CLI on one project (telemetry off, the project's Python for build steps)."""

    def __init__(self, project: Path, python: str, env: dict[str, str] | None = None):
        self.env = dict(env if env is not None else os.environ)
        self.env.update(DO_NOT_TRACK="1", PYTHON=python, ICP_PROJECT_ROOT=str(project), NO_COLOR="1")
        self.project = project

    def __call__(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [str(ICP_BIN), *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise IcpError(f"icp {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def identity(self, name: str, pem: Path, principal: str) -> str:
        """An icp identity holding `pem` (imported once, plaintext); a suffixed name if `name` is taken
        by another key. Returns the name to use."""
        self("settings", "telemetry", "false")
        self("settings", "update-check", "false")
        listed = self("identity", "list").split()
        for candidate in (name, f"{name}-{principal[:5]}"):
            if candidate not in listed:
                self("identity", "import", "--storage", "plaintext", "--from-pem", str(pem), candidate)
                return candidate
            if self("identity", "principal", "--identity", candidate).strip() == principal:
                return candidate
        raise IcpError(f"icp identities {name} and {name}-{principal[:5]} hold other keys")
