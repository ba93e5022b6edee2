"""The certificates `ic.data_certificate()` returns in queries: a canister's certified data and the
time, signed by the root key; each is reused for up to a second while the data is unchanged (as the
IC's come from the latest block), so queries do not each pay for a BLS signature."""

from __future__ import annotations

import threading
from collections.abc import Callable

from localnet.certificate import certify
from localnet.state_tree import nat
from localnet.subnet_keys import SubnetKeys

REUSE_NS = 1_000_000_000


class DataCertificates:
    """Per-canister cache of data certificates."""

    def __init__(self, keys: SubnetKeys, clock: Callable[[], int]):
        self.keys = keys
        self.clock = clock
        self._cache: dict[bytes, tuple[bytes, int, bytes]] = {}
        self._lock = threading.Lock()

    def certificate(self, canister_id: bytes, data: bytes) -> bytes:
        """A certificate with `/canister/<id>/certified_data` = `data` and `/time`."""
        now = self.clock()
        with self._lock:
            cached = self._cache.get(canister_id)
            if cached is not None and cached[0] == data and now - cached[1] < REUSE_NS:
                return cached[2]
        labeled = {b"time": nat(now), b"canister": {canister_id: {b"certified_data": data}}}
        certificate = certify(labeled, self.keys)
        with self._lock:
            self._cache[canister_id] = (data, now, certificate)
        return certificate
