"""`LocalNet`: a Replica with its canisters deployed, served over the IC HTTP interface in a thread."""

from __future__ import annotations

import functools
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from ic_protocol.principal import to_text
from localnet.gateway import Gateway
from localnet.http_server import LocalHttpServer
from localnet.net_control import CanisterControl
from localnet.request_store import RequestStore
from localnet.subnet_keys import SubnetKeys

REQUESTS_FILE = "requests.sqlite3"


def _default_replica(state_dir: Path, runtime: str = "cpython"):
    from localnet.replica import Replica

    return Replica(state_dir, runtime=runtime)


class LocalNet(CanisterControl):
    """A local IC for development and tests. `controllers` (principal bytes, the first one installs)
    apply to the `canisters` given here; None keeps an existing canister's controllers. `runtime`:
    "cpython", or "rustpython" (Kybra's interpreter in wasm, metered; docs/localnet-runtime.md).

    with LocalNet(canisters={"simple_db": "canister/src/main.py"}) as net:
        net.url, net.canister_id("simple_db"), net.root_key, net.replica
        net.agent(identity).call("simple_db", "whoami")   # in process, no HTTP

    `http=False` serves nothing (a test library: agents, clock, canisters; see CanisterControl).
    """

    def __init__(
        self,
        canisters: Mapping[str, str | Path] | None = None,
        state_dir: str | Path | None = None,
        port: int = 0,
        host: str = "127.0.0.1",
        replica_factory: Callable[[Path], object] = _default_replica,
        verbose: bool = False,
        controllers: list[bytes] | None = None,
        runtime: str = "cpython",
        http: bool = True,
    ):
        if replica_factory is _default_replica:
            replica_factory = functools.partial(_default_replica, runtime=runtime)
        self._canisters = dict(canisters or {})
        self._controllers = controllers
        self._state_arg = state_dir
        self._host, self._port = host, port
        self._replica_factory = replica_factory
        self._verbose = verbose
        self._http = http
        self._temp_dir: str | None = None
        self._server: LocalHttpServer | None = None
        self._thread: threading.Thread | None = None
        self._requests: RequestStore | None = None
        self.replica = None
        self.keys: SubnetKeys | None = None
        self.state_dir: Path | None = None

    def start(self) -> LocalNet:
        """Create or open the state, deploy (install or upgrade) the canisters, and start serving."""
        if self._server is not None or self.replica is not None:
            return self
        if self._state_arg is None:
            self._temp_dir = tempfile.mkdtemp(prefix="localnet-")
            self.state_dir = Path(self._temp_dir)
        else:
            self.state_dir = Path(self._state_arg)
            self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.keys = SubnetKeys.load_or_create(self.state_dir)
            self.replica = self._replica_factory(self.state_dir)
            self.replica.subnet_id = self.keys.subnet_id
            for name, entry in self._canisters.items():
                self.replica.deploy(name, entry, controllers=self._controllers)
            if not self._http:
                return self
            self._requests = RequestStore(self.state_dir / REQUESTS_FILE)
            gateway = Gateway(self.replica, self.keys, store=self._requests)
            self._server = LocalHttpServer((self._host, self._port), gateway, self._verbose)
        except BaseException:
            self.stop()
            raise
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="localnet-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the replica and remove a temporary state directory."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.replica is not None:
            self.replica.close()
            self.replica = None
        if self._requests is not None:
            self._requests.close()
            self._requests = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None

    def __enter__(self) -> LocalNet:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalNet is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. "http://127.0.0.1:4943"."""
        return f"http://{self._host}:{self.port}"

    @property
    def root_key(self) -> bytes:
        """The DER-encoded BLS root key certificates verify under (what /api/v2/status serves)."""
        if self.keys is None:
            raise RuntimeError("LocalNet is not running")
        return self.keys.root_key_der

    def deploy(
        self,
        name: str,
        entry: str | Path,
        init_arg: bytes = b"DIDL\x00\x00",
        controllers: list[bytes] | None = None,
    ) -> str:
        """Install `entry` as canister `name` (or upgrade it) while serving; its principal text."""
        if self.replica is None:
            raise RuntimeError("LocalNet is not running")
        return to_text(self.replica.deploy(name, entry, init_arg=init_arg, controllers=controllers))

    def canister_ids(self) -> dict[str, str]:
        """Every hosted canister: name -> principal text."""
        return {name: to_text(cid) for name, cid in self.replica.canisters().items()}

    def canister_id(self, name: str) -> str:
        """The principal text of the canister deployed under `name`; KeyError if there is none."""
        ids = self.canister_ids()
        if name not in ids:
            raise KeyError(f"no canister named {name!r} (have: {', '.join(sorted(ids)) or 'none'})")
        return ids[name]
