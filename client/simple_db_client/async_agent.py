"""The IC HTTP agent on httpx.AsyncClient, for asyncio applications: the same flows as `Agent`
(signing, retries, certificate and query-signature checks), driven with `await`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from .agent_flow import AgentCore, Flow, Request, Sleep
from .identity import Identity
from .principal import Principal


class AsyncAgent(AgentCore):
    """`Agent` for asyncio. With `fetch_root_key=True` the key is fetched on first use."""

    def __init__(
        self,
        url: str,
        identity: Identity | None = None,
        *,
        fetch_root_key: bool = False,
        force_fetch_root_key: bool = False,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
        **settings: Any,
    ):
        """`settings`: root_key, call_timeout, ingress_expiry, max_certificate_age,
        verify_query_signatures, retry (a RetryPolicy), node_key_ttl (see AgentCore)."""
        super().__init__(url, identity, **settings)
        self._http = httpx.AsyncClient(
            timeout=timeout,
            headers={"Content-Type": "application/cbor"},
            transport=transport or self.plain_http_transport(httpx.AsyncHTTPTransport),
            limits=httpx.Limits(max_connections=max_connections),
        )
        self._pending_root_key = self.wants_root_key(fetch_root_key, force_fetch_root_key)
        self._force = force_fetch_root_key
        self._root_key_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncAgent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def run(self, flow: Flow) -> Any:
        """Drive a flow: send its requests with httpx.AsyncClient, sleep its sleeps, return its result."""
        step = next(flow)
        while True:
            try:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    step = flow.send(None)
                    continue
                assert isinstance(step, Request)
                try:
                    response = await self._http.request(step.method, self.url + step.path, content=step.body)
                except httpx.HTTPError as exc:
                    step = flow.throw(exc)
                    continue
                step = flow.send(response)
            except StopIteration as stop:
                return stop.value

    async def _ready(self) -> None:
        if self._pending_root_key:
            async with self._root_key_lock:
                if self._pending_root_key:
                    self.root_key = await self.run(self.fetch_root_key_flow(force=self._force))
                    self._pending_root_key = False

    async def status(self) -> dict:
        return await self.run(self.status_flow())

    async def fetch_root_key(self, force: bool = False) -> bytes:
        return await self.run(self.fetch_root_key_flow(force))

    async def query(self, canister_id: Principal, method: str, arg: bytes) -> bytes:
        await self._ready()
        return await self.run(self.query_flow(Principal.of(canister_id), method, arg))

    async def update(self, canister_id: Principal, method: str, arg: bytes) -> bytes:
        await self._ready()
        return await self.run(self.update_flow(Principal.of(canister_id), method, arg))

    async def read_state(self, canister_id: Principal, paths: list[list[bytes]]) -> dict:
        await self._ready()
        return await self.run(self.read_state_flow(Principal.of(canister_id), paths))
