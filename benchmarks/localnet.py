"""The localnet benchmark: `python -m benchmarks.localnet [--n 200] [--updates 1000]`.

Starts `python -m localnet start` in a subprocess with a small Kybra counter canister and prints:
query and update round trips through ic-py 1.0.1 as it is (median, p99); the same requests sent over
one keep-alive HTTP connection (what the server itself costs, without ic-py's per-request TLS setup);
and N sequential updates, with latency and the server's memory (its process tree's RSS) over time.
Figures only: nothing here is asserted on timing.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cbor2
import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from ic.agent import Agent
from ic.candid import Types, encode
from ic.client import Client
from ic.identity import Identity
from tqdm import tqdm

from ic_protocol.principal import from_text, self_authenticating
from ic_protocol.request_id import request_id

COUNTER = Path(__file__).resolve().parents[1] / "tests" / "localnet" / "http" / "kybra_counter" / "main.py"


def _start(state: Path) -> tuple[subprocess.Popen, str, str]:
    args = [sys.executable, "-m", "localnet", "start", "--port", "0", "--state", str(state)]
    proc = subprocess.Popen(args + ["--canister", f"counter={COUNTER}"], stdout=subprocess.PIPE, text=True)
    canister = ""
    for line in proc.stdout:
        if line.startswith("counter: "):
            canister = line.split(": ", 1)[1].strip()
        if line.startswith("http://"):
            return proc, line.strip(), canister
    raise RuntimeError(f"localnet exited with status {proc.wait()}")


def _rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total


def _timed(action: Callable[[], object], n: int, label: str) -> list[float]:
    samples = []
    for _ in tqdm(range(n), desc=label, leave=False, disable=not sys.stderr.isatty()):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _row(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{label:<44} n={len(samples):<5} median {statistics.median(samples):7.2f} ms   p99 {p99:7.2f} ms"


_KEYS = itertools.count()


def _fresh_key() -> bytes:
    """A distinct argument per update: ic-py sends no nonce, so identical updates within one second
    share a request id and the repeat is (correctly) not executed again."""
    return encode([{"type": Types.Text, "value": f"k{next(_KEYS)}"}])


class KeepAlive:
    """Signed requests over one keep-alive connection (an agent that reuses its HTTP client)."""

    def __init__(self, url: str, canister: str):
        self.http = httpx.Client(base_url=url, timeout=30)
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.canister = canister
        self.nonce = 0

    def send(self, kind: str, method: str, arg: bytes) -> bytes:
        self.nonce += 1
        content = {
            "request_type": kind,
            "sender": self_authenticating(self.der),
            "ingress_expiry": time.time_ns() + 120 * 10**9,
            "nonce": self.nonce.to_bytes(8, "big"),
            "canister_id": from_text(self.canister),
            "method_name": method,
            "arg": arg,
        }
        envelope = {
            "content": content,
            "sender_pubkey": self.der,
            "sender_sig": self.key.sign(b"\x0aic-request" + request_id(content)),
        }
        path = f"/api/v3/canister/{self.canister}/{'query' if kind == 'query' else 'call'}"
        response = self.http.post(
            path, content=cbor2.dumps(envelope), headers={"Content-Type": "application/cbor"}
        )
        if response.status_code != 200 or cbor2.loads(response.content)["status"] != "replied":
            raise RuntimeError(f"{kind} {method} failed: {response.status_code} {response.content[:200]!r}")
        return response.content


def run(n: int, updates: int) -> list[str]:
    """Run the workload; the report lines."""
    lines = []
    with tempfile.TemporaryDirectory(prefix="bench-localnet-") as tmp:
        proc, url, canister = _start(Path(tmp) / "state")
        try:
            agent = Agent(Identity(), Client(url))
            key = encode([{"type": Types.Text, "value": "bench"}])
            agent.update_raw(canister, "inc", key)  # warm up the canister process
            lines.append(
                _row("ic-py query (v2)", _timed(lambda: agent.query_raw(canister, "get", key), n, "ic-py q"))
            )
            lines.append(
                _row(
                    "ic-py update (v2 call + read_state poll)",
                    _timed(lambda: agent.update_raw(canister, "inc", _fresh_key()), n, "ic-py u"),
                )
            )
            lines.append(
                _row(
                    "  of which ic-py's new HTTP client per request",
                    _timed(lambda: httpx.Client().close(), n, "client"),
                )
            )
            fast = KeepAlive(url, canister)
            lines.append(
                _row("keep-alive query (v3)", _timed(lambda: fast.send("query", "get", key), n, "ka q"))
            )
            lines.append(
                _row(
                    "keep-alive update (v3 sync call, certified)",
                    _timed(lambda: fast.send("call", "inc", key), n, "ka u"),
                )
            )

            lines.append(f"{updates} sequential ic-py updates (window of {max(1, updates // 10)}):")
            window = max(1, updates // 10)
            samples: list[float] = []
            for done in tqdm(
                range(1, updates + 1), desc="sequential", leave=False, disable=not sys.stderr.isatty()
            ):
                started = time.perf_counter()
                agent.update_raw(canister, "inc", _fresh_key())
                samples.append((time.perf_counter() - started) * 1000)
                if done % window == 0:
                    recent = samples[-window:]
                    lines.append(
                        f"  after {done:>5}: median {statistics.median(recent):7.2f} ms, "
                        f"max {max(recent):7.2f} ms, server RSS {_rss_kib(proc.pid) / 1024:7.1f} MiB"
                    )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="round trips per latency figure")
    parser.add_argument("--updates", type=int, default=1000, help="sequential updates for the drift check")
    args = parser.parse_args()
    print(f"localnet benchmark (Python {sys.version.split()[0]}, loopback)")
    for line in run(args.n, args.updates):
        print(line)


if __name__ == "__main__":
    main()
