"""Shared pytest fixtures: a LocalNet factory, the real `icp` CLI with throwaway identities, and ic-py
agents. Servers bind 127.0.0.1 on a free port and are always stopped."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from localnet import LocalNet

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ICP = REPO / ".tools/node_modules/@icp-sdk/icp-cli-linux-x64/bin/icp"
CANISTER_SOURCE = str(REPO / "canister" / "src")


def _canister_modules() -> dict:
    return {name: module for name, module in sys.modules.items()
            if (getattr(module, "__file__", None) or "").startswith(CANISTER_SOURCE)}


@pytest.fixture(autouse=True, scope="module")
def _one_copy_of_the_canister_modules() -> Iterator[None]:
    """benchmarks.canister_wasm.CpythonCanister imports the canister afresh (it drops the canister/src
    modules from sys.modules, the engine's included); after each test module the modules from before
    are put back, so the tests that follow keep using the one copy of kybra_simple_db they imported."""
    before = _canister_modules()
    yield
    for name in _canister_modules():
        if name not in before:
            del sys.modules[name]
    sys.modules.update(before)


@pytest.fixture
def localnet() -> Iterator[Callable[..., LocalNet]]:
    """Factory: `localnet({"name": "path/to/main.py"}, state_dir=None, **kwargs)` starts a LocalNet on a
    free 127.0.0.1 port and returns it; every net it started is stopped after the test."""
    started: list[LocalNet] = []

    def start(
        canisters: Mapping[str, str | Path] | None = None, state_dir: str | Path | None = None, **kwargs
    ):
        net = LocalNet(canisters=canisters, state_dir=state_dir, port=0, host="127.0.0.1", **kwargs)
        net.start()
        started.append(net)
        return net

    yield start
    for net in reversed(started):
        net.stop()


def _private_key_pem(key_type: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if key_type == "ed25519":
        key, fmt = ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.PKCS8
    elif key_type in ("secp256k1", "prime256v1"):
        curve = ec.SECP256K1() if key_type == "secp256k1" else ec.SECP256R1()
        key, fmt = ec.generate_private_key(curve), serialization.PrivateFormat.TraditionalOpenSSL
    else:
        raise ValueError(f"unknown key type {key_type!r}: use ed25519, secp256k1 or prime256v1")
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


class IcpCli:
    """The real `icp` CLI with its own HOME (telemetry and update checks off, plaintext identities)."""

    def __init__(self, binary: Path, home: Path):
        self.binary = binary
        self.home = home
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("ICP_")}
        self.env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local/share"),
            XDG_CACHE_HOME=str(home / ".cache"),
            DO_NOT_TRACK="1",
            RUST_BACKTRACE="0",
            NO_COLOR="1",
        )
        self.run("settings", "telemetry", "false")
        self.run("settings", "update-check", "false")

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run `icp ARGS...` from the throwaway HOME (never inside a project); text output captured."""
        result = subprocess.run(
            [str(self.binary), *args],
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"icp {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def new_identity(self, name: str, key_type: str = "ed25519") -> str:
        """Create (once) a plaintext identity from a fresh key; its principal text."""
        listed = self.run("identity", "list").stdout.split()
        if name not in listed:
            pem = self.home / f"{name}.pem"
            pem.write_bytes(_private_key_pem(key_type))
            self.run("identity", "import", "--storage", "plaintext", "--from-pem", str(pem), name)
        return self.run("identity", "principal", "--identity", name).stdout.strip()

    def call(
        self,
        url: str,
        canister: str,
        method: str,
        args: str = "()",
        *,
        identity: str = "anonymous",
        query: bool = False,
        check: bool = True,
        extra: tuple[str, ...] = (),
    ) -> subprocess.CompletedProcess:
        """`icp canister call -n URL -k fetch CANISTER METHOD ARGS` (certificates or node signatures
        verified by the CLI); `query=True` adds `--query`."""
        command = [
            "canister",
            "call",
            "-n",
            url,
            "-k",
            "fetch",
            "--identity",
            identity,
            canister,
            method,
            args,
        ]
        if query:
            command.append("--query")
        return self.run(*command, *extra, check=check)


@pytest.fixture(scope="session")
def icp(tmp_path_factory: pytest.TempPathFactory) -> IcpCli:
    """The real icp CLI 1.5.0 (ICP_BIN, else the copy `make setup` installs under .tools/)."""
    binary = Path(os.environ.get("ICP_BIN") or DEFAULT_ICP)
    if not binary.is_file():
        pytest.skip(f"icp CLI not found at {binary}: run `make setup`")
    return IcpCli(binary, tmp_path_factory.mktemp("icp-home"))


@pytest.fixture
def ic_agent() -> Callable:
    """Factory: `ic_agent(url, identity=None)` -> an ic-py Agent; identity None is a fresh Ed25519
    identity, "anonymous" the anonymous principal, "secp256k1" a fresh secp256k1 one, or an Identity."""
    from ic.agent import Agent
    from ic.client import Client
    from ic.identity import Identity

    def make(url: str, identity=None):
        if identity is None or identity == "ed25519":
            identity = Identity()
        elif identity == "anonymous":
            identity = Identity(anonymous=True)
        elif identity == "secp256k1":
            identity = Identity(type="secp256k1")
        return Agent(identity, Client(url))

    return make


def pytest_terminal_summary(terminalreporter) -> None:
    """Say once when the runs on Kybra's RustPython were skipped, and how to get the runtime."""
    from localnet import rustpython_runtime

    if not rustpython_runtime.available():
        terminalreporter.write_line(f"RustPython runs skipped: {rustpython_runtime.HOW_TO_GET}")
