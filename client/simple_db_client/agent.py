"""The IC HTTP agent on httpx.Client: signed queries and updates with the fixes ic-py lacks (nonce,
reject errors, certificate and query-signature verification, v3 synchronous calls with fallback to v2
polling, bounded retries). The protocol itself is in `agent_flow`; this class only does the I/O."""

from __future__ import annotations

import time
from typing import Any

import httpx

from .agent_flow import AgentCore, Flow, Request, Sleep
from .identity import Identity
from .principal import Principal


class Agent(AgentCore):
    """Sends signed requests to one IC HTTP endpoint (`url`) as `identity`.

    `transport`: an httpx transport (e.g. `httpx.MockTransport`, `httpx.HTTPTransport(retries=...)`)
    to run requests in process or through your own stack. `fetch_root_key=True` trusts the root key the
    network reports: allowed for a loopback URL only, unless `force_fetch_root_key=True` (warned).
    """

    def __init__(
        self,
        url: str,
        identity: Identity | None = None,
        *,
        fetch_root_key: bool = False,
        force_fetch_root_key: bool = False,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        **settings: Any,
    ):
        """`settings`: root_key, call_timeout, ingress_expiry, max_certificate_age,
        verify_query_signatures, retry (a RetryPolicy), node_key_ttl (see AgentCore)."""
        super().__init__(url, identity, **settings)
        self._http = httpx.Client(
            timeout=timeout,
            headers={"Content-Type": "application/cbor"},
            transport=transport or self.plain_http_transport(httpx.HTTPTransport),
        )
        if self.wants_root_key(fetch_root_key, force_fetch_root_key):
            self.root_key = self.run(self.fetch_root_key_flow(force=force_fetch_root_key))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, flow: Flow) -> Any:
        """Drive a flow: send its requests with httpx.Client, sleep its sleeps, return its result."""
        step = next(flow)
        while True:
            try:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    step = flow.send(None)
                    continue
                assert isinstance(step, Request)
                try:
                    response = self._http.request(step.method, self.url + step.path, content=step.body)
                except httpx.HTTPError as exc:
                    step = flow.throw(exc)
                    continue
                step = flow.send(response)
            except StopIteration as stop:
                return stop.value

    # the public operations, each one flow

    def status(self) -> dict:
        """The decoded /api/v2/status map (root_key, impl_version, ...)."""
        return self.run(self.status_flow())

    def fetch_root_key(self, force: bool = False) -> bytes:
        """The root key the network reports (refused for a non-loopback URL unless `force`)."""
        return self.run(self.fetch_root_key_flow(force))

    def query(self, canister_id: Principal, method: str, arg: bytes) -> bytes:
        """Run a query; return the Candid reply or raise RejectError."""
        return self.run(self.query_flow(Principal.of(canister_id), method, arg))

    def update(self, canister_id: Principal, method: str, arg: bytes) -> bytes:
        """Run an update; return the certified Candid reply or raise."""
        return self.run(self.update_flow(Principal.of(canister_id), method, arg))

    def read_state(self, canister_id: Principal, paths: list[list[bytes]]) -> dict:
        """The verified certificate of a read_state request for `paths`."""
        return self.run(self.read_state_flow(Principal.of(canister_id), paths))
