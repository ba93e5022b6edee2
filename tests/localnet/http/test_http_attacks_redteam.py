"""Attacks on the HTTP interface through the content of a request: values the IC never sends (integers
past 64 bits, integer map keys, cycles built with CBOR's value-sharing tags) must be refused with 400
before any work grows with them, never stall the server or answer 500."""

from __future__ import annotations

import socket
import sys
import time

import cbor2
import httpx
import pytest
from fake_replica import FakeReplica
from signing_kit import Signer, content, envelope, submit

from ic_protocol.principal import to_text
from ic_protocol.request_id import hash_map, request_id
from localnet.gateway import Gateway
from localnet.http_error import HttpError
from localnet.subnet_keys import SubnetKeys

REPLICA = FakeReplica()
CANISTER = to_text(REPLICA.deploy("counter", "c.py"))
GATEWAY = Gateway(REPLICA, SubnetKeys.generate())
HUGE = 1 << (8 * 100_000)  # a 100 KB bignum (CBOR tag 2): LEB128-encoding it for the request id is quadratic


def _refused(kind: str, body: bytes) -> HttpError:
    """The HttpError the gateway answers for `body`, counting the C calls made (a deterministic work
    measure: hashing a bignum or a huge blob key makes one call per 7 bits or per byte chunk)."""
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event == "c_call":
            count += 1

    before = REPLICA.executions
    sys.setprofile(profile)
    try:
        submit(GATEWAY, CANISTER, kind, body)
    except HttpError as error:
        assert error.status == 400, error.message
        assert count < 5_000, count
        assert REPLICA.executions == before
        return error
    finally:
        sys.setprofile(None)
    raise AssertionError(f"{kind} with a hostile content was accepted")


def _body(kind: str, **fields) -> bytes:
    signer = Signer("anonymous")
    return envelope(
        content(kind, signer, CANISTER, method_name="inc" if kind == "call" else "get", **fields), signer
    )


@pytest.mark.parametrize("kind", ["query", "call", "read_state"])
def test_an_integer_past_64_bits_is_refused_before_it_is_hashed(kind):
    for fields in ({"ingress_expiry": HUGE}, {"other": HUGE}, {"other": [[HUGE]]}, {"other": -HUGE}):
        error = _refused(kind, _body(kind, **fields))
        assert "64" in error.message


@pytest.mark.parametrize("kind", ["query", "call", "read_state"])
def test_an_integer_map_key_is_refused_before_it_is_hashed(kind):
    # hashing the key {2**30: ...} built a 1 GiB blob; 2**40 asked for a terabyte
    for key in (2**30, 2**40):
        error = _refused(kind, _body(kind, other={key: b"x"}))
        assert "key" in error.message


@pytest.mark.parametrize("kind", ["query", "call", "read_state"])
def test_a_cyclic_content_is_refused(kind):
    signer = Signer("anonymous")
    base = content(kind, signer, CANISTER, method_name="get")
    pairs = b"".join(cbor2.dumps(key) + cbor2.dumps(value) for key, value in base.items())
    # tag 28 marks the content map shareable, tag 29 refers back to it: content["other"] is content
    cyclic = bytes([0xA0 + len(base) + 1]) + pairs + cbor2.dumps("other") + b"\xd8\x1d\x00"
    body = b"\xa1" + cbor2.dumps("content") + b"\xd8\x1c" + cyclic
    decoded = cbor2.loads(body)["content"]
    assert decoded["other"] is decoded
    _refused(kind, body)


def test_a_hostile_delegation_is_refused_before_it_is_hashed():
    signer = Signer()
    body = content("query", signer, CANISTER)
    for delegation in (
        {"pubkey": Signer().public_der, "expiration": HUGE},
        {"pubkey": Signer().public_der, "expiration": 1, "other": {2**40: b"x"}},
        {"pubkey": Signer().public_der, "expiration": 1, "targets": [[[HUGE]]]},
    ):
        signed = envelope(
            body,
            signer,
            sender_sig=signer.sign(b"\x0aic-request" + request_id(body)),
            sender_delegation=[{"delegation": delegation, "signature": b"s" * 64}],
        )
        _refused("query", signed)


def test_ordinary_requests_still_pass():
    signer = Signer()
    body = content("query", signer, CANISTER, nonce=b"n" * 32)
    assert GATEWAY.query(CANISTER, envelope(body, signer))
    assert hash_map({"paths": [[b"time"], [b"request_status", b"x" * 32]]})


# --- slow requests: a connection that sends a request bit by bit is closed once the request's deadline
# passes (the socket timeout alone restarts with every byte, so a trickle held a thread forever) ---


HEAD_OF_100 = b"POST /api/v2/canister/aaaaa-aa/query HTTP/1.1\r\nContent-Length: 100\r\n\r\n"


@pytest.fixture
def slow_net(localnet, monkeypatch):
    from localnet import http_server

    monkeypatch.setattr(http_server, "REQUEST_DEADLINE_S", 0.5)
    return localnet({"counter": "counter.py"}, replica_factory=FakeReplica)


def _address(net) -> tuple[str, int]:
    host, port = net.url.removeprefix("http://").split(":")
    return host, int(port)


def _closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> bytes:
    """Send `trickle` one byte per 50 ms (none if empty) and collect what the server sends until it
    closes the connection; AssertionError if it is still open after `seconds`."""
    sock.settimeout(0.05)
    received = b""
    deadline = time.monotonic() + seconds
    for i in range(int(seconds / 0.05)):
        try:
            if trickle:
                sock.send(trickle[i % len(trickle) : i % len(trickle) + 1])
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return received
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"the connection was still open after {seconds} s: {received!r}")


def test_a_trickled_request_head_is_cut_off_at_the_deadline(slow_net):
    with socket.create_connection(_address(slow_net)) as sock:
        sock.sendall(b"POST /api/v2/canister/aaaaa-aa/query HTTP/1.1\r\n")
        _closed_within(sock, 3, trickle=b"X-Slow: " + b"a" * 200)


def test_a_partial_body_is_answered_408_at_the_deadline(slow_net):
    with socket.create_connection(_address(slow_net)) as sock:
        sock.sendall(HEAD_OF_100 + b"0123456789")
        answer = _closed_within(sock, 3)
    assert answer.startswith(b"HTTP/1.1 408"), answer
    with socket.create_connection(_address(slow_net)) as sock:
        sock.sendall(HEAD_OF_100)
        assert _closed_within(sock, 3, trickle=b"0123456789").startswith(b"HTTP/1.1 408")


def test_a_slow_client_does_not_delay_others(slow_net):
    with socket.create_connection(_address(slow_net)) as sock:
        sock.sendall(HEAD_OF_100 + b"0")
        with httpx.Client(base_url=slow_net.url, timeout=5) as client:
            assert client.get("/api/v2/status").status_code == 200
