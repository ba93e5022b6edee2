"""The HTTP server: routes the IC HTTP interface's URLs to the Gateway (stdlib ThreadingHTTPServer)."""

from __future__ import annotations

import io
import re
import socket
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from localnet.envelope import MAX_BODY_BYTES
from localnet.gateway import Gateway
from localnet.http_error import HttpError

_CANISTER = re.compile(r"^/api/v(\d)/canister/([a-z0-9-]+)/(query|call|read_state)$")
_SUBNET = re.compile(r"^/api/v(\d)/subnet/([a-z0-9-]+)/read_state$")
_VERSIONS = {"query": {"2", "3"}, "call": {"2", "3", "4"}, "read_state": {"2", "3"}}
IDLE_TIMEOUT_S = 120  # seconds a keep-alive connection may wait for its next request
# Seconds a request may take to arrive whole, from its first byte: the socket timeout alone restarts with
# every byte received, so a client trickling a request (a byte a minute) would hold its thread forever.
REQUEST_DEADLINE_S = 60


class _DeadlineReader(io.RawIOBase):
    """The connection's reads, each bounded by the current request's deadline (none while idle)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        timeout = float(IDLE_TIMEOUT_S)
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
            if timeout <= 0:
                raise TimeoutError("the request did not arrive within its deadline")
        self.sock.settimeout(timeout)
        read = self.sock.recv_into(buffer)
        if self.deadline is None and read:
            self.deadline = time.monotonic() + REQUEST_DEADLINE_S  # the request has started
        return read


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One buffered write per reply and no Nagle delay: otherwise each reply waits ~40 ms for an ACK.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_S
    server_version = "localnet"
    server: LocalHttpServer

    def setup(self) -> None:
        super().setup()
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        self._reader.deadline = None  # idle until the next request's first byte
        try:
            started = self.rfile.peek(1)  # waits for that byte under the idle timeout
        except OSError:  # idle too long, or the client went away
            started = b""
        if not started:
            self.close_connection = True
            return
        if self._reader.deadline is None:  # the request was already buffered behind the previous one
            self._reader.deadline = time.monotonic() + REQUEST_DEADLINE_S
        super().handle_one_request()

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str = "application/cbor") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error(self, error: HttpError) -> None:
        self._send(error.status, error.message.encode(), "text/plain; charset=utf-8")

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise HttpError(411, "a Content-Length header is required")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise HttpError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
        try:
            body = self.rfile.read(int(length))
        except OSError:  # the deadline passed (TimeoutError) or the client went away
            body = b""
        if len(body) < int(length):
            self.close_connection = True
            raise HttpError(408, "the request body did not arrive within the request's deadline")
        return body

    def _dispatch(self, handle) -> None:
        try:
            status, body = handle()
            self._send(status, body)
        except HttpError as error:
            self._send_error(error)
        except Exception as exc:  # a bug must answer 500, not kill the connection silently
            traceback.print_exc(file=sys.stderr)
            self._send_error(HttpError(500, f"internal error: {exc}"))

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/api/v2/status":
            self._dispatch(lambda: (200, self.server.gateway.status()))
        else:
            self._send_error(HttpError(404, f"no such endpoint: GET {self.path}"))

    def do_POST(self) -> None:
        self._dispatch(self._post)

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "Content-Type")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _post(self) -> tuple[int, bytes]:
        gateway = self.server.gateway
        path = self.path.split("?")[0]
        body = self._read_body()
        match = _CANISTER.match(path)
        if match and match.group(1) in _VERSIONS[match.group(3)]:
            version, target, kind = match.groups()
            if kind == "query":
                return 200, gateway.query(target, body)
            if kind == "call":
                origin = self.headers.get("Origin")
                return gateway.call(target, body, synchronous=version != "2", origin=origin)
            return 200, gateway.read_state(body, canister_text=target)
        match = _SUBNET.match(path)
        if match and match.group(1) in _VERSIONS["read_state"]:
            return 200, gateway.read_state(body, subnet_text=match.group(2))
        raise HttpError(404, f"no such endpoint: POST {path}")


class LocalHttpServer(ThreadingHTTPServer):
    """A threading HTTP server bound to one Gateway."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the listen backlog: with 5, a burst of connections waited 1 s for a SYN retry

    def __init__(self, address: tuple[str, int], gateway: Gateway, verbose: bool = False):
        self.gateway = gateway
        self.verbose = verbose
        super().__init__(address, _Handler)
