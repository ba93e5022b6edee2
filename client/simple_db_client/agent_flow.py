"""The IC HTTP protocol as an agent speaks it, without doing I/O: each operation is a generator that
yields `Request`s and `Sleep`s and receives httpx responses (or has the transport's exception thrown
in). `Agent` drives these flows with httpx.Client and `AsyncAgent` with httpx.AsyncClient, so both
share every rule: signing, retries, certificate and query-signature checks, polling.

Retries: transient failures (connection errors, timeouts, HTTP 408/429/5xx) are retried under a
RetryPolicy. An update is retried by resubmitting the same signed request, which the IC executes at
most once (same request id), and its outcome is then read from the certified request status.
"""

from __future__ import annotations

import ipaddress
import os
import time
import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ic_protocol import errors as protocol_errors
from ic_protocol.certificate import lookup, parse_certificate, verify_certificate
from ic_protocol.constants import MAINNET_ROOT_KEY, REQUEST_DOMAIN
from ic_protocol.hash_tree import ABSENT, UNKNOWN
from ic_protocol.request_id import request_id
from ic_protocol.tagged_cbor import dumps_tagged, loads

from .errors import CertificateError, RejectError, TransportError
from .identity import Identity
from .principal import Principal
from .retry import TRANSIENT_STATUS, RetryPolicy

PENDING = (b"received", b"processing")
NODE_KEY_TTL_S = 300.0  # as agent-rs's subnet cache: node keys are read again after five minutes
LOCAL_HINT = (
    " The URL is a local network: its certificates are signed by its own root key, not the IC's."
    " Use --local (or SIMPLEDB_LOCAL=1, or fetch_root_key=True in Python) to trust it."
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


Flow = Generator[Request | Sleep, Any, Any]


def is_loopback(url: str) -> bool:
    """Whether `url`'s host is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fail(response: httpx.Response, what: str) -> TransportError:
    text = response.text.strip()[:500] or response.reason_phrase
    return TransportError(f"{what} failed with HTTP {response.status_code}: {text}")


def _cbor(response: httpx.Response) -> Any:
    try:
        return loads(response.content)
    except ValueError as exc:
        raise TransportError(f"malformed CBOR reply from {response.request.url}: {exc}") from exc


def _reject(reply: dict) -> RejectError:
    return RejectError(reply.get("reject_code", 0), reply.get("reject_message", ""), reply.get("error_code"))


class AgentCore:
    """Settings, keys and caches of an agent, and its operations as flows."""

    def __init__(
        self,
        url: str,
        identity: Identity | None,
        *,
        root_key: bytes | None = None,
        call_timeout: float = 300.0,
        ingress_expiry: float = 240.0,
        max_certificate_age: float = 300.0,
        verify_query_signatures: bool = True,
        retry: RetryPolicy | None = None,
        node_key_ttl: float = NODE_KEY_TTL_S,
    ):
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"the url must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self.identity = identity or Identity()
        self.root_key = root_key or MAINNET_ROOT_KEY
        self.call_timeout = call_timeout
        self.ingress_expiry = ingress_expiry
        self.max_certificate_age = max_certificate_age
        self.verify_query_signatures = verify_query_signatures
        self.retry = retry or RetryPolicy()
        self.node_key_ttl = node_key_ttl
        self.clock: Callable[[], float] = time.monotonic
        self._node_keys: dict[bytes, tuple[dict[bytes, bytes], float]] = {}  # canister -> (keys, expiry)
        self._use_v3 = True

    def wants_root_key(self, fetch: bool, force: bool) -> bool:
        """Whether to fetch the network's root key; warns when `force` trusts a remote host's."""
        if force and not is_loopback(self.url):
            warnings.warn(
                f"trusting the root key reported by {self.url}, a remote host: certificates prove nothing"
                " if that key is forged",
                stacklevel=3,
            )
        return fetch or force

    def plain_http_transport(self, transport_class: type) -> Any:
        """For an http:// URL, a transport that skips loading the TLS CA bundle (plain HTTP never
        uses TLS; loading it costs tens of ms per process); None otherwise."""
        return transport_class(verify=False) if self.url.startswith("http://") else None

    # transport with retries

    def send(self, request: Request, what: str, ok: tuple[int, ...] = (200,)) -> Flow:
        """Send `request` (retrying transient failures); the response if its status is in `ok`."""
        attempts = self.retry.attempts
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = yield request
            except httpx.TransportError as exc:  # connect/read/write errors and timeouts
                if last:
                    raise TransportError(f"cannot reach {self.url} ({what}): {exc}") from exc
                yield Sleep(self.retry.delay(attempt))
                continue
            except httpx.HTTPError as exc:
                raise TransportError(f"cannot reach {self.url} ({what}): {exc}") from exc
            if response.status_code in ok:
                return response
            if response.status_code in TRANSIENT_STATUS and not last:
                yield Sleep(self.retry.delay(attempt, response.headers.get("retry-after")))
                continue
            raise _fail(response, what)
        raise AssertionError("unreachable")

    # status and root key

    def status_flow(self) -> Flow:
        response = yield from self.send(Request("GET", "/api/v2/status"), "status")
        status = _cbor(response)
        if not isinstance(status, dict):
            raise TransportError("malformed /api/v2/status reply")
        return status

    def fetch_root_key_flow(self, force: bool = False) -> Flow:
        """The root key the network reports. Only a loopback URL is trusted for it, unless `force`."""
        if not is_loopback(self.url) and not force:
            raise TransportError(
                f"refusing to fetch the root key from {self.url}: anyone between you and a remote host could"
                " forge it. Only a local network (localhost, 127.0.0.1, ::1) may report its key; pass"
                " force_fetch_root_key=True (CLI: --force-root-key) to trust this host anyway."
            )
        key = (yield from self.status_flow()).get("root_key")
        if not isinstance(key, bytes):
            raise TransportError("/api/v2/status has no root_key")
        return key

    # envelopes

    def _expiry(self) -> int:
        return int((time.time() + self.ingress_expiry) * 1e9)

    def envelope(self, content: dict) -> tuple[bytes, bytes]:
        """The request id and the signed CBOR body of `content`."""
        rid = request_id(content)
        envelope: dict[str, Any] = {"content": content}
        if not self.identity.is_anonymous:
            envelope["sender_pubkey"] = self.identity.public_key_der
            envelope["sender_sig"] = self.identity.sign(REQUEST_DOMAIN + rid)
        return rid, dumps_tagged(envelope)

    def _content(self, request_type: str, canister_id: Principal, method: str, arg: bytes) -> dict:
        if not isinstance(arg, bytes):
            raise TypeError(f"arg must be bytes (Candid), not {type(arg).__name__}")
        return {
            "request_type": request_type,
            "sender": self.identity.sender,
            "canister_id": canister_id.bytes,
            "method_name": method,
            "arg": arg,
            "ingress_expiry": self._expiry(),
        }

    # certificates

    def verified(self, raw: Any, canister_id: Principal) -> dict:
        """A certificate blob decoded and verified for `canister_id`; CertificateError otherwise."""
        if not isinstance(raw, bytes):
            raise TransportError("the reply carries no certificate")
        try:
            cert = parse_certificate(raw)
            verify_certificate(cert, self.root_key, canister_id.bytes, self.max_certificate_age)
        except protocol_errors.CertificateError as exc:
            hint = LOCAL_HINT if self.root_key == MAINNET_ROOT_KEY and is_loopback(self.url) else ""
            raise CertificateError(f"{exc}.{hint}" if hint else str(exc)) from exc
        return cert

    def outcome(self, cert: dict, rid: bytes) -> bytes | None:
        """The reply in a verified certificate, None while pending; raise on reject."""
        base = [b"request_status", rid]
        try:
            status = lookup(cert, [*base, b"status"])
            if status in (ABSENT, UNKNOWN) or status in PENDING:
                return None
            if status == b"replied":
                reply = lookup(cert, [*base, b"reply"])
                if not isinstance(reply, bytes):
                    raise TransportError("the certificate says replied but holds no reply")
                return reply
            if status == b"rejected":
                code = lookup(cert, [*base, b"reject_code"])
                message = lookup(cert, [*base, b"reject_message"])
                error_code = lookup(cert, [*base, b"error_code"])
                raise RejectError(
                    _nat(code) if isinstance(code, bytes) else 0,
                    message.decode(errors="replace") if isinstance(message, bytes) else "",
                    error_code.decode(errors="replace") if isinstance(error_code, bytes) else None,
                )
        except protocol_errors.CertificateError as exc:
            raise CertificateError(str(exc)) from exc
        if status == b"done":
            raise TransportError("the call is done but its reply was already pruned")
        raise TransportError(f"unknown request status {status!r}")

    def read_state_flow(self, canister_id: Principal, paths: list[list[bytes]]) -> Flow:
        """The verified certificate of a canister read_state request for `paths`."""
        content = {
            "request_type": "read_state",
            "sender": self.identity.sender,
            "paths": paths,
            "ingress_expiry": self._expiry(),
        }
        _, body = self.envelope(content)
        path = f"/api/v2/canister/{canister_id}/read_state"
        response = yield from self.send(Request("POST", path, body), "read_state")
        state = _cbor(response)
        return self.verified(state.get("certificate") if isinstance(state, dict) else None, canister_id)

    # queries

    def query_flow(self, canister_id: Principal, method: str, arg: bytes) -> Flow:
        """Run a query; the Candid reply, or RejectError. The answering node's signature is checked
        against the node keys certified for the canister's subnet."""
        rid, body = self.envelope(self._content("query", canister_id, method, arg))
        path = f"/api/v2/canister/{canister_id}/query"
        response = yield from self.send(Request("POST", path, body), f"query {method}")
        reply = _cbor(response)
        status = reply.get("status") if isinstance(reply, dict) else None
        if status in ("replied", "rejected") and self.verify_query_signatures:
            keys = yield from self._node_keys_for(canister_id, reply)
            self._check_query(reply, rid, keys)
        if status == "replied" and isinstance(reply.get("reply"), dict) and "arg" in reply["reply"]:
            return reply["reply"]["arg"]
        if status == "rejected":
            raise _reject(reply)
        raise TransportError(f"malformed query reply: {reply!r}"[:500])

    def _node_keys_for(self, canister_id: Principal, reply: dict) -> Flow:
        """The canister's subnet node keys: cached for `node_key_ttl` seconds, and read again at once
        when a node not in the cache signs (the subnet's membership changed)."""
        from ic_protocol.query_signature import subnet_node_keys

        cached = self._node_keys.get(canister_id.bytes)
        signers = {s.get("identity") for s in reply.get("signatures") or [] if isinstance(s, dict)}
        if cached is not None and cached[1] > self.clock() and signers <= set(cached[0]):
            return cached[0]
        cert = yield from self.read_state_flow(canister_id, [[b"subnet"]])
        try:
            keys = subnet_node_keys(cert, self.root_key, canister_id.bytes)
        except protocol_errors.CertificateError as exc:
            raise CertificateError(str(exc)) from exc
        self._node_keys[canister_id.bytes] = (keys, self.clock() + self.node_key_ttl)
        return keys

    def _check_query(self, reply: dict, rid: bytes, keys: dict[bytes, bytes]) -> None:
        from ic_protocol.query_signature import verify_query_reply

        try:
            verify_query_reply(reply, rid, keys, self.max_certificate_age)
        except protocol_errors.CertificateError as exc:
            raise CertificateError(str(exc)) from exc

    # updates

    def update_flow(self, canister_id: Principal, method: str, arg: bytes) -> Flow:
        """Run an update (with a fresh random nonce); the certified Candid reply, or raise. Transient
        failures resubmit the same signed request; the IC runs it at most once."""
        content = self._content("call", canister_id, method, arg)
        content["nonce"] = os.urandom(16)
        rid, body = self.envelope(content)
        try:
            if self._use_v3:
                path = f"/api/v3/canister/{canister_id}/call"
                response = yield from self.send(
                    Request("POST", path, body), f"call {method}", (200, 202, 404, 405)
                )
                if response.status_code == 200:
                    return self._sync_reply(_cbor(response), rid, canister_id)
                if response.status_code == 202:
                    return (yield from self._poll(canister_id, rid))
            path = f"/api/v2/canister/{canister_id}/call"
            response = yield from self.send(
                Request("POST", path, body), f"call {method}", (200, 202, 404, 405)
            )
            if response.status_code in (404, 405):
                raise _fail(response, f"call {method}")
            self._use_v3 = False
            return (yield from self._poll(canister_id, rid))
        except CertificateError:
            raise
        except TransportError as exc:
            raise TransportError(
                f"{exc} (update {method}, request id {rid.hex()}: it may or may not have been applied;"
                " resubmitting this same request can never apply it twice)"
            ) from exc

    def _sync_reply(self, reply: Any, rid: bytes, canister_id: Principal) -> bytes:
        status = reply.get("status") if isinstance(reply, dict) else None
        if status == "replied":
            outcome = self.outcome(self.verified(reply.get("certificate"), canister_id), rid)
            if outcome is None:
                raise TransportError("the call's certificate does not hold its reply")
            return outcome
        if status == "non_replicated_rejection":
            raise _reject(reply)
        raise TransportError(f"malformed call reply: {reply!r}"[:500])

    def _poll(self, canister_id: Principal, rid: bytes) -> Flow:
        deadline = self.clock() + self.call_timeout
        delay = 0.02
        while True:
            cert = yield from self.read_state_flow(canister_id, [[b"request_status", rid]])
            outcome = self.outcome(cert, rid)
            if outcome is not None:
                return outcome
            if self.clock() > deadline:
                raise TransportError(f"no reply after {self.call_timeout:.0f} s")
            yield Sleep(delay)
            delay = min(delay * 2, 1.0)


def _nat(raw: bytes) -> int:
    import leb128

    return leb128.u.decode(raw)
