"""The IC HTTP transport: signed queries and updates with the fixes ic-py lacks (nonce, reject errors,
certificate and query-signature verification, v3 synchronous calls with fallback to v2 polling)."""

from __future__ import annotations

import os
import time
from typing import Any

import cbor2
import httpx
import leb128

from ic_protocol import errors as protocol_errors
from ic_protocol.certificate import lookup, parse_certificate, verify_certificate
from ic_protocol.constants import MAINNET_ROOT_KEY, REQUEST_DOMAIN
from ic_protocol.hash_tree import ABSENT, UNKNOWN
from ic_protocol.query_signature import subnet_node_keys, verify_query_reply
from ic_protocol.request_id import request_id
from ic_protocol.tagged_cbor import dumps_tagged

from .errors import CertificateError, RejectError, TransportError
from .identity import Identity
from .principal import Principal

PENDING = (b"received", b"processing")


class Agent:
    """Sends signed requests to one IC HTTP endpoint (`url`) as `identity`."""

    def __init__(
        self,
        url: str,
        identity: Identity | None = None,
        *,
        root_key: bytes | None = None,
        fetch_root_key: bool = False,
        timeout: float = 60.0,
        call_timeout: float = 300.0,
        ingress_expiry: float = 240.0,
        max_certificate_age: float = 300.0,
        verify_query_signatures: bool = True,
    ):
        self.url = url.rstrip("/")
        self.verify_query_signatures = verify_query_signatures
        self._node_keys: dict[bytes, dict[bytes, bytes]] = {}  # canister id -> node id -> DER key
        self.identity = identity or Identity()
        self.call_timeout = call_timeout
        self.ingress_expiry = ingress_expiry
        self.max_certificate_age = max_certificate_age
        self._http = httpx.Client(timeout=timeout, headers={"Content-Type": "application/cbor"})
        self._use_v3 = True
        self.root_key = root_key or MAINNET_ROOT_KEY
        if fetch_root_key:
            self.root_key = self.fetch_root_key()

    def close(self) -> None:
        self._http.close()

    # HTTP plumbing

    def _request(self, method: str, path: str, body: bytes | None = None) -> httpx.Response:
        try:
            return self._http.request(method, self.url + path, content=body)
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot reach {self.url}: {exc}") from exc

    @staticmethod
    def _fail(response: httpx.Response, what: str) -> TransportError:
        text = response.text.strip()[:500] or response.reason_phrase
        return TransportError(f"{what} failed with HTTP {response.status_code}: {text}")

    @staticmethod
    def _cbor(response: httpx.Response) -> Any:
        try:
            return cbor2.loads(response.content)
        except Exception as exc:
            raise TransportError(f"malformed CBOR reply from {response.request.url}: {exc}") from exc

    def status(self) -> dict:
        """The decoded /api/v2/status map (root_key, impl_version, ...)."""
        response = self._request("GET", "/api/v2/status")
        if response.status_code != 200:
            raise self._fail(response, "status")
        status = self._cbor(response)
        if not isinstance(status, dict):
            raise TransportError("malformed /api/v2/status reply")
        return status

    def fetch_root_key(self) -> bytes:
        """The root key the network reports; trust it only for a local network."""
        key = self.status().get("root_key")
        if not isinstance(key, bytes):
            raise TransportError("/api/v2/status has no root_key")
        return key

    # envelopes

    def _expiry(self) -> int:
        return int((time.time() + self.ingress_expiry) * 1e9)

    def _envelope(self, content: dict) -> tuple[bytes, bytes]:
        rid = request_id(content)
        envelope: dict[str, Any] = {"content": content}
        if not self.identity.is_anonymous:
            envelope["sender_pubkey"] = self.identity.public_key_der
            envelope["sender_sig"] = self.identity.sign(REQUEST_DOMAIN + rid)
        return rid, dumps_tagged(envelope)

    def _content(self, request_type: str, canister_id: Principal, method: str, arg: bytes) -> dict:
        return {
            "request_type": request_type,
            "sender": self.identity.sender,
            "canister_id": canister_id.bytes,
            "method_name": method,
            "arg": arg,
            "ingress_expiry": self._expiry(),
        }

    # queries

    def query(self, canister_id: Principal, method: str, arg: bytes) -> bytes:
        """Run a query; return the Candid reply or raise RejectError. The answering node's signature
        is checked against the node keys certified for the canister's subnet."""
        rid, body = self._envelope(self._content("query", canister_id, method, arg))
        response = self._request("POST", f"/api/v2/canister/{canister_id}/query", body)
        if response.status_code != 200:
            raise self._fail(response, f"query {method}")
        reply = self._cbor(response)
        status = reply.get("status") if isinstance(reply, dict) else None
        if status in ("replied", "rejected") and self.verify_query_signatures:
            self._check_query_signatures(canister_id, reply, rid)
        if status == "replied":
            return reply["reply"]["arg"]
        if status == "rejected":
            raise RejectError(
                reply.get("reject_code", 0), reply.get("reject_message", ""), reply.get("error_code")
            )
        raise TransportError(f"malformed query reply: {reply!r}")

    # updates

    def update(self, canister_id: Principal, method: str, arg: bytes) -> bytes:
        """Run an update (with a fresh random nonce); return the certified Candid reply or raise."""
        content = self._content("call", canister_id, method, arg)
        content["nonce"] = os.urandom(16)
        rid, body = self._envelope(content)
        if self._use_v3:
            response = self._request("POST", f"/api/v3/canister/{canister_id}/call", body)
            if response.status_code == 200:
                return self._sync_reply(self._cbor(response), rid, canister_id)
            if response.status_code == 202:
                return self._poll(canister_id, rid)
            if response.status_code not in (404, 405):
                raise self._fail(response, f"call {method}")
        response = self._request("POST", f"/api/v2/canister/{canister_id}/call", body)
        if response.status_code not in (200, 202):
            raise self._fail(response, f"call {method}")
        self._use_v3 = False
        return self._poll(canister_id, rid)

    def _sync_reply(self, reply: Any, rid: bytes, canister_id: Principal) -> bytes:
        status = reply.get("status") if isinstance(reply, dict) else None
        if status == "replied":
            cert = self._verified(reply.get("certificate"), canister_id)
            outcome = self._outcome(cert, rid)
            if outcome is None:
                raise TransportError("the call's certificate does not hold its reply")
            return outcome
        if status == "non_replicated_rejection":
            raise RejectError(
                reply.get("reject_code", 0), reply.get("reject_message", ""), reply.get("error_code")
            )
        raise TransportError(f"malformed call reply: {reply!r}")

    def _verified(self, raw: Any, canister_id: Principal) -> dict:
        if not isinstance(raw, bytes):
            raise TransportError("the reply carries no certificate")
        try:
            cert = parse_certificate(raw)
            verify_certificate(cert, self.root_key, canister_id.bytes, self.max_certificate_age)
        except protocol_errors.CertificateError as exc:
            raise CertificateError(str(exc)) from exc
        return cert

    def _outcome(self, cert: dict, rid: bytes) -> bytes | None:
        """The reply in a verified certificate, None while pending; raise on reject."""
        base = [b"request_status", rid]
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
                leb128.u.decode(code) if isinstance(code, bytes) else 0,
                message.decode(errors="replace") if isinstance(message, bytes) else "",
                error_code.decode() if isinstance(error_code, bytes) else None,
            )
        if status == b"done":
            raise TransportError("the call is done but its reply was already pruned")
        raise TransportError(f"unknown request status {status!r}")

    def read_state(self, canister_id: Principal, paths: list[list[bytes]]) -> dict:
        """The verified certificate of a canister read_state request for `paths`."""
        content = {
            "request_type": "read_state",
            "sender": self.identity.sender,
            "paths": paths,
            "ingress_expiry": self._expiry(),
        }
        _, body = self._envelope(content)
        response = self._request("POST", f"/api/v2/canister/{canister_id}/read_state", body)
        if response.status_code != 200:
            raise self._fail(response, "read_state")
        state = self._cbor(response)
        return self._verified(state.get("certificate") if isinstance(state, dict) else None, canister_id)

    def _subnet_node_keys(self, canister_id: Principal) -> dict[bytes, bytes]:
        """Node id -> key for the canister's subnet (the delegated subnet, else the root subnet)."""
        cert = self.read_state(canister_id, [[b"subnet"]])
        try:
            return subnet_node_keys(cert, self.root_key, canister_id.bytes)
        except protocol_errors.CertificateError as exc:
            raise CertificateError(str(exc)) from exc

    def _check_query_signatures(self, canister_id: Principal, reply: dict, rid: bytes) -> None:
        keys = self._node_keys.get(canister_id.bytes)
        signers = {s.get("identity") for s in reply.get("signatures") or [] if isinstance(s, dict)}
        if keys is None or not signers <= set(keys):  # first use, or the subnet's nodes changed
            keys = self._node_keys[canister_id.bytes] = self._subnet_node_keys(canister_id)
        try:
            verify_query_reply(reply, rid, keys, self.max_certificate_age)
        except protocol_errors.CertificateError as exc:
            raise CertificateError(str(exc)) from exc

    def _poll(self, canister_id: Principal, rid: bytes) -> bytes:
        deadline = time.monotonic() + self.call_timeout
        delay = 0.02
        while True:
            cert = self.read_state(canister_id, [[b"request_status", rid]])
            outcome = self._outcome(cert, rid)
            if outcome is not None:
                return outcome
            if time.monotonic() > deadline:
                raise TransportError(f"no reply after {self.call_timeout:.0f} s (request {rid.hex()})")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
