"""What makes `LocalNet` a test library (PocketIC style): agents that call in process, the clock under
the test's control with timers that fire when it moves, and canisters created, installed and
upgraded through the management canister."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ic_protocol.principal import from_text, to_text
from localnet import wasm_bundle
from localnet.inprocess import EMPTY_ARG, Agent, CanisterReject, principal_of
from localnet.management import MANAGEMENT_ID
from localnet.management_types import CANISTER_SETTINGS
from localnet.outcome import Reject

Code = str | Path | bytes  # an entry module's path, or a wasm module's bytes


class CanisterControl:
    """Mixed into LocalNet; needs `self.replica` (a started Replica) and `canister_ids()`."""

    replica: Any

    def canister_ids(self) -> dict[str, str]:  # provided by LocalNet
        raise NotImplementedError

    def resolve(self, canister: str | bytes) -> bytes:
        """A canister's principal bytes from its name, principal text or bytes ("aaaaa-aa" too)."""
        if isinstance(canister, bytes | bytearray):
            return bytes(canister)
        ids = self.canister_ids()
        return from_text(ids.get(canister, canister))

    def agent(self, identity: Any = None) -> Agent:
        """An agent calling in process as `identity` (None: anonymous; a principal text or bytes; an
        identity object with `.principal`): `agent.call("simple_db", "whoami")`."""
        if self.replica is None:
            raise RuntimeError("LocalNet is not running")
        return Agent(self.replica, principal_of(identity), self.resolve)

    # -- time ---------------------------------------------------------------------------------------------

    def time_ns(self) -> int:
        """The replica's current time (what the next message's ic.time() is at least)."""
        return self.replica.time_ns()

    def set_time(self, time_ns: int) -> None:
        """Take the clock off the wall clock (it cannot go back); timers then fire only when told."""
        self.replica.set_time(time_ns)

    def advance_time(self, nanoseconds: int) -> int:
        """Move the clock forward and run the timers (and heartbeats) now due; how many ran."""
        return self.replica.advance_time(nanoseconds)

    def tick(self) -> int:
        """Run the timers due at the current time; how many ran."""
        return self.replica.tick()

    # -- canisters through the management canister --------------------------------------------------------

    def create_canister(self, controllers: list[Any] | None = None, sender: Any = None) -> str:
        """A new empty canister (provisional_create_canister_with_cycles); controllers default to
        `sender` (anonymous when None). Its principal text."""
        settings = None
        if controllers is not None:
            settings = dict.fromkeys((name for name, _ in CANISTER_SETTINGS.fields), None)
            settings["controllers"] = [principal_of(c) for c in controllers]
        args = {"amount": None, "settings": settings, "specified_id": None, "sender_canister_version": None}
        created = self.agent(sender).call(MANAGEMENT_ID, "provisional_create_canister_with_cycles", args)
        return to_text(created["canister_id"].bytes)

    def install(
        self,
        canister: str | bytes,
        code: str | Path | bytes,
        arg: bytes = EMPTY_ARG,
        mode: str = "install",
        sender: Any = None,
    ) -> None:
        """install_code: `code` is an entry module (.py, packed with localnet.wasm_bundle) or a module's
        bytes; `mode` "install", "reinstall" or "upgrade"; `sender` defaults to the first controller.
        Raises CanisterReject with the IC's error (e.g. IC0512 for a sender that is not a controller)."""
        cid = self.resolve(canister)
        module = code if isinstance(code, bytes) else wasm_bundle.build(Path(code))
        if sender is None:
            info = self.replica.canister_info(cid)
            if info is None:
                raise CanisterReject(_not_found(cid))
            sender = info["controllers"][0] if info["controllers"] else None
        value = {
            "mode": {mode: None},
            "canister_id": cid,
            "wasm_module": module,
            "arg": arg,
            "sender_canister_version": None,
        }
        self.agent(sender).call(MANAGEMENT_ID, "install_code", value)

    def upgrade(
        self, canister: str | bytes, code: str | Path | bytes, arg: bytes = EMPTY_ARG, sender: Any = None
    ):
        """install(mode="upgrade"): pre_upgrade in the old code, post_upgrade in the new; memory kept."""
        self.install(canister, code, arg, "upgrade", sender)

    def reinstall(
        self, canister: str | bytes, code: str | Path | bytes, arg: bytes = EMPTY_ARG, sender: Any = None
    ):
        """install(mode="reinstall"): memory wiped, init runs."""
        self.install(canister, code, arg, "reinstall", sender)


def _not_found(cid: bytes) -> Reject:
    return Reject(3, f"Canister {to_text(cid)} not found", "IC0301")
