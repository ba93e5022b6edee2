"""A loopback HTTP proxy in front of a localnet that misbehaves on purpose, for retry tests: per
request it can forward, forward and then drop the reply (the update ran but the client never hears),
close the connection before forwarding, or answer with a canned status or body."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

FORWARD = "forward"
DROP_REPLY = "drop_reply"  # forward, then close the connection without answering
REFUSE = "refuse"  # close the connection without forwarding

# plan(method, path, n) -> FORWARD | DROP_REPLY | REFUSE | (status, headers, body); n counts from 1
# the requests seen so far with that method and path.
Plan = Callable[[str, str, int], object]


class FlakyProxy:
    """`with FlakyProxy(upstream_url, plan) as proxy:` then use `proxy.url`; `proxy.seen` counts."""

    def __init__(self, upstream: str, plan: Plan):
        self.upstream = upstream.rstrip("/")
        self.plan = plan
        self.seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy._lock:
                    key = (self.command, self.path)
                    proxy.seen[key] = proxy.seen.get(key, 0) + 1
                    count = proxy.seen[key]
                action = proxy.plan(self.command, self.path, count)
                if action == REFUSE:
                    self.close_connection = True
                    return
                if isinstance(action, tuple):
                    status, headers, payload = action
                else:
                    reply = proxy._client.request(
                        self.command,
                        proxy.upstream + self.path,
                        content=body,
                        headers={"Content-Type": self.headers.get("Content-Type", "application/cbor")},
                    )
                    if action == DROP_REPLY:
                        self.close_connection = True
                        return
                    status, headers, payload = reply.status_code, {}, reply.content
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/cbor")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def count(self, method: str, path_part: str) -> int:
        """How many requests with `method` had `path_part` in their path."""
        with self._lock:
            return sum(n for (m, p), n in self.seen.items() if m == method and path_part in p)

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()
