"""The IC HTTP interface's request handling, independent of the HTTP server: status, query, call
(asynchronous and synchronous) and read_state, each taking the raw CBOR body and returning the reply."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ic_protocol.principal import from_text, to_text
from ic_protocol.query_signature import response_hash
from ic_protocol.tagged_cbor import dumps_tagged
from localnet.certificate import certify
from localnet.data_certificates import DataCertificates
from localnet.envelope import MAX_INGRESS_BYTES, Envelope, parse_envelope
from localnet.http_error import HttpError
from localnet.ingress_expiry import check_expiry
from localnet.management import MANAGEMENT_ID, is_system
from localnet.outcome import Outcome, Reject, Reply
from localnet.request_store import RequestRecord, RequestStore
from localnet.sender_auth import authenticate
from localnet.state_tree import StateTree
from localnet.subnet_keys import SubnetKeys

IMPL_VERSION = "localnet-0.1.0"
SYNC_CALL_TIMEOUT_S = 10.0
PRUNE_INTERVAL_NS = 10 * 1_000_000_000


def _reject_fields(outcome: Reject) -> dict:
    return {"reject_code": outcome.code, "reject_message": outcome.message, "error_code": outcome.error_code}


class Gateway:
    """Answers IC HTTP interface requests against a Replica (see docs/architecture.md)."""

    def __init__(
        self,
        replica,
        keys: SubnetKeys,
        clock: Callable[[], int] = time.time_ns,
        store: RequestStore | None = None,
    ):
        self.replica = replica
        self.keys = keys
        self.clock = clock
        self.store = store if store is not None else RequestStore()
        self.state_tree = StateTree(replica, keys, self.store)
        self._last_prune = 0
        self._prune_lock = threading.Lock()
        self.data_certificates = DataCertificates(keys, clock)

    # --- shared checks -------------------------------------------------------------------------

    def _admit(self, body: bytes, request_type: str) -> tuple[Envelope, bytes, int]:
        """Parse, check the expiry window and authenticate; the envelope, the sender and the time."""
        envelope = parse_envelope(body, request_type)
        if request_type == "call" and len(body) > MAX_INGRESS_BYTES:
            raise HttpError(
                413,
                f"Request 0x{envelope.request_id.hex()} is too large. Message byte size {len(body)} "
                f"is larger than the max allowed {MAX_INGRESS_BYTES}.",
            )
        now = self.clock()
        check_expiry(envelope.ingress_expiry, now)
        return envelope, authenticate(envelope, now), now

    @staticmethod
    def _principal(text: str, what: str) -> bytes:
        try:
            return from_text(text)
        except ValueError as exc:
            raise HttpError(400, f"invalid {what} in the URL: {exc}") from exc

    def _target(self, envelope: Envelope, effective_text: str) -> bytes:
        """The called canister: it must be the URL's effective canister id."""
        canister_id = envelope.content["canister_id"]
        effective = self._principal(effective_text, "effective canister id")
        if canister_id == MANAGEMENT_ID:
            return canister_id  # the effective id names the canister the call is about (or any, to create)
        if canister_id != effective:
            raise HttpError(400, "the canister_id differs from the effective canister id in the URL")
        return canister_id

    def _hosted(self, canister_id: bytes) -> bool:
        return is_system(canister_id) or canister_id in self.replica.canisters().values()

    def _unavailable(self, canister_id: bytes) -> Reject | None:
        """The replica's reason a hosted canister runs no message now (empty, stopped), if it has one."""
        check = getattr(self.replica, "unavailable", None)
        return check(canister_id) if check is not None else None

    @staticmethod
    def _not_found(canister_id: bytes) -> Reject:
        return Reject(3, f"Canister {to_text(canister_id)} not found", "IC0301")

    @staticmethod
    def _no_method(canister_id: bytes, kind: str, method: str) -> Reject:
        return Reject(5, f"Canister {to_text(canister_id)} has no {kind} method '{method}'", "IC0536")

    # --- endpoints -----------------------------------------------------------------------------

    def status(self) -> bytes:
        """GET /api/v2/status: the root key (DER) and health, for agents that fetch the root key."""
        return dumps_tagged(
            {
                "ic_api_version": "0.18.0",
                "impl_version": IMPL_VERSION,
                "root_key": self.keys.root_key_der,
                "replica_health_status": "healthy",
                "certified_height": 0,
            }
        )

    def query(self, effective_text: str, body: bytes) -> bytes:
        """POST .../query: run a query method and return its node-signed reply or reject."""
        envelope, sender, _ = self._admit(body, "query")
        canister_id = self._target(envelope, effective_text)
        if not self._hosted(canister_id):
            raise HttpError(404, self._not_found(canister_id).message)
        method = envelope.content["method_name"]
        refused = self._unavailable(canister_id)
        if refused is not None:
            outcome: Outcome = refused
        elif self.replica.method_kind(canister_id, method) != "query":
            outcome = self._no_method(canister_id, "query", method)
        else:
            outcome = self._run_query(canister_id, method, envelope.content["arg"], sender)
        if isinstance(outcome, Reply):
            response = {"status": "replied", "reply": {"arg": outcome.arg}}
        else:
            response = {"status": "rejected", **_reject_fields(outcome)}
        timestamp = self.clock()
        signed = response_hash(response, envelope.request_id, timestamp)
        signature = {
            "timestamp": timestamp,
            "signature": self.keys.sign_response(signed),
            "identity": self.keys.node_id,
        }
        return dumps_tagged({**response, "signatures": [signature]})

    def _run_query(self, canister_id: bytes, method: str, arg: bytes, sender: bytes) -> Outcome:
        """Run a query; a replica that keeps certified data also gets the certificate for
        `ic.data_certificate()`."""
        if not hasattr(self.replica, "certified_data"):
            return self.replica.query(canister_id, method, arg, sender)
        certificate = self.data_certificates.certificate(
            canister_id, self.replica.certified_data(canister_id)
        )
        return self.replica.query(canister_id, method, arg, sender, data_certificate=certificate)

    def call(
        self, effective_text: str, body: bytes, synchronous: bool, origin: str | None = None
    ) -> tuple[int, bytes]:
        """POST .../call: execute an update once per request id. Asynchronous (v2): 202 and the client
        polls read_state. Synchronous (v3/v4): 200 with a certificate of the outcome, or 202 on timeout.
        `origin`: the request's Origin header (sent by browsers): web pages may not call the system
        canisters, since code installed on localnet may run unsandboxed on this machine."""
        envelope, sender, now = self._admit(body, "call")
        canister_id = self._target(envelope, effective_text)
        if origin is not None and is_system(canister_id):
            raise HttpError(
                403,
                f"localnet refuses calls to system canisters from web pages (Origin: {origin[:100]}): the "
                "code it installs may run unsandboxed on this machine; deploy with icp or an agent instead",
            )
        self._prune(now)
        rid = envelope.request_id
        fresh = RequestRecord(sender, canister_id, envelope.ingress_expiry)
        record, is_new = self.store.claim(rid, fresh)
        if is_new:
            self.store.finish(rid, self._execute(canister_id, envelope.content, sender))
            if isinstance(record.outcome, Reject) and record.outcome.error_code == "IC0301":
                raise HttpError(404, record.outcome.message)
        if not synchronous:
            return 202, b""
        if not record.finished.wait(SYNC_CALL_TIMEOUT_S):
            return 202, b""
        # with the canister's certified data, so a client sees what the call certified without a read_state
        paths = [[b"request_status", rid], [b"canister", canister_id, b"certified_data"]]
        labeled = self.state_tree.labeled_map(paths, sender, canister_id, self.clock())
        return 200, dumps_tagged({"status": "replied", "certificate": certify(labeled, self.keys)})

    def _execute(self, canister_id: bytes, content: dict, sender: bytes) -> Outcome:
        if not self._hosted(canister_id):
            return self._not_found(canister_id)
        method = content["method_name"]
        refused = self._unavailable(canister_id)
        if refused is not None:
            return refused
        if self.replica.method_kind(canister_id, method) is None:
            return self._no_method(canister_id, "update", method)
        try:
            return self.replica.update(canister_id, method, content["arg"], sender)
        except Exception as exc:  # the Replica should return a Reject; never leave a call processing
            return Reject(5, f"Canister {to_text(canister_id)} failed: {exc}", "IC0503")

    def read_state(
        self, body: bytes, canister_text: str | None = None, subnet_text: str | None = None
    ) -> bytes:
        """POST .../read_state at a canister (`canister_text`) or subnet (`subnet_text`) endpoint."""
        envelope, sender, now = self._admit(body, "read_state")
        effective_id = None
        if subnet_text is not None:
            if self._principal(subnet_text, "subnet id") != self.keys.subnet_id:
                raise HttpError(404, f"subnet {subnet_text} not found")
        else:
            effective_id = self._principal(canister_text or "", "effective canister id")
        labeled = self.state_tree.labeled_map(envelope.content["paths"], sender, effective_id, now)
        return dumps_tagged({"certificate": certify(labeled, self.keys)})

    def _prune(self, now: int) -> None:
        with self._prune_lock:
            if now - self._last_prune < PRUNE_INTERVAL_NS:
                return
            self._last_prune = now
        self.store.prune(now)
