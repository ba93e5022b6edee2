"""Fixtures for the client's end-to-end tests: one localnet per session running `simple_db`, installed by
an admin identity, plus helpers to deploy fresh copies of the canister."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from simple_db_client import Ed25519Identity, Identity, Principal, SimpleDB

from localnet import LocalNet

REPO = Path(__file__).resolve().parents[2]
ENTRY = REPO / "canister" / "src" / "main.py"
_names = itertools.count(1)


class Net:
    """A running localnet with `simple_db` and its installer (an admin)."""

    def __init__(self, net: LocalNet, admin: Ed25519Identity, admin_pem: Path):
        self.localnet, self.admin, self.admin_pem = net, admin, admin_pem
        self.url = net.url
        self.canister_id = self.deploy("simple_db")

    def deploy(self, name: str) -> str:
        """Install `simple_db` under a new name (admin = the installer); its canister id."""
        self.localnet.deploy(name, ENTRY, controllers=[self.admin.principal.bytes])
        return self.localnet.canister_id(name)

    def fresh_canister(self) -> str:
        return self.deploy(f"simple_db_{next(_names)}")

    def client(
        self, identity: Identity | str | Path | None = None, canister_id: str | None = None
    ) -> SimpleDB:
        return SimpleDB(self.url, canister_id or self.canister_id, identity, fetch_root_key=True)


@pytest.fixture(scope="session")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    state = tmp_path_factory.mktemp("client-localnet")
    admin = Ed25519Identity()
    pem = state / "admin.pem"
    pem.write_bytes(admin.to_pem())
    with LocalNet(state_dir=state / "state", port=0, host="127.0.0.1") as localnet:
        yield Net(localnet, admin, pem)


@pytest.fixture(scope="session")
def admin_db(net: Net) -> Iterator[SimpleDB]:
    with net.client(net.admin) as db:
        yield db


@pytest.fixture(scope="module")
def store() -> Iterator[tuple[LocalNet, Principal]]:
    """A localnet of its own (per test module) running the sample `store` canister."""
    from tests.client.store_kit import STORE, text_args

    with LocalNet(port=0, host="127.0.0.1") as net:
        net.deploy("store", STORE, init_arg=text_args("hi"))
        yield net, Principal.from_text(net.canister_id("store"))


@pytest.fixture
def namespace() -> Callable[[str], str]:
    """Unique qualified type names per test: `namespace("User")` -> "tN::User"."""
    prefix = f"t{next(_names)}"
    return lambda name: f"{prefix}::{name}"
