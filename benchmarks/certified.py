"""Costs of certified data in deterministic counts: `python -m benchmarks.certified [--n 100000]`.

Fills the Merkle tree of one certified type with `n` entities (ids 1..n), then measures, averaged over
sampled ids: an update (storage writes and reads of the tree, SHA-256 calls for the path; reads on a
heap that keeps the nodes it wrote lately), a certified get on a fresh heap (tree reads; witness bytes
as CBOR) for a present and an absent id, and the ICRC-3 chain's cost per audit entry. Prints the
figures beside the targets of issue 10: writes <= ceil(log16 n) + 1, reads <= ceil(log16 n) + 2,
witness < 2 KB at a million entities (computed from the measured witness shape).
"""

import math
import random
import sys
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "canister" / "src"))

import certification  # noqa: E402
import entity_merkle  # noqa: E402
import ic_hash_tree  # noqa: E402
from audit_chain import AuditChain  # noqa: E402
from certification import Certifier  # noqa: E402
from kybra_simple_db import MemoryMap  # noqa: E402
from kybra_simple_db.memory_map import CountingMap  # noqa: E402

TYPE = "bench::Doc"
SAMPLES = 200


class CountingSha256:
    """Stands in for the `hashlib` module of ic_hash_tree and counts sha256 calls."""

    def __init__(self, real):
        self.real = real
        self.calls = 0

    def sha256(self, data=b""):
        self.calls += 1
        return self.real.sha256(data)


def _leaf(entity_id: int, version: int = 0) -> bytes:
    return ic_hash_tree.hashlib.sha256(b"entity" + entity_id.to_bytes(8, "big") + bytes([version])).digest()


def _build(n: int):
    store, meta = CountingMap(MemoryMap()), CountingMap(MemoryMap())
    certified = []
    certifier = Certifier(store, meta, certified.append, lambda: b"certificate")
    merkle = certifier.merkle
    merkle.enable(TYPE)
    for entity_id in range(1, n + 1):
        merkle.set_leaf(TYPE, entity_id, _leaf(entity_id))
        if entity_id % 4096 == 0:
            merkle.flush()
            merkle.reset()
    merkle.flush()
    merkle.reset()
    return certifier, store, meta


def _fresh(store, meta) -> Certifier:
    """A certifier on a fresh heap (as after an upgrade) for the proofs: every node is read from storage,
    none taken from the nodes the updates wrote (EntityMerkle.flushed), the worst case; its state read
    once per heap (the types record, the chain's state) is read here, as the first message would."""
    certifier = Certifier(store, meta, lambda data: None, lambda: b"certificate")
    certifier.root_digest()
    return certifier


def measure(n: int, samples: int = SAMPLES) -> dict:
    """Average counts per operation at `n` entities."""
    certifier, store, meta = _build(n)
    merkle = certifier.merkle
    rng = random.Random(n)
    ids = [rng.randint(1, n) for _ in range(samples)]
    counter = CountingSha256(ic_hash_tree.hashlib)
    # (entity_merkle inlines its path's forks, certification the labels of the root)
    ic_hash_tree.hashlib = entity_merkle.hashlib = certification.hashlib = counter
    try:
        writes = reads = hashes = most_writes = 0
        for version, entity_id in enumerate(ids):
            store.reset(), meta.reset()
            before = counter.calls
            merkle.reset()
            merkle.set_leaf(TYPE, entity_id, _leaf(entity_id, 1 + version % 255))
            merkle.flush()
            certifier.root_digest()
            hashes += counter.calls - before
            writes += store.writes + meta.writes
            most_writes = max(most_writes, store.writes + meta.writes)
            reads += store.reads + meta.reads
        certifier = _fresh(store, meta)
        merkle = certifier.merkle
        get_reads = witness_bytes = 0
        for entity_id in ids:
            store.reset(), meta.reset()
            merkle.reset()
            witness, _ = certifier.entity_proof(TYPE, entity_id)
            get_reads += store.reads + meta.reads
            witness_bytes += len(witness)
        store.reset(), meta.reset()
        merkle.reset()
        first = max(1, min(ids[0], n - 100))
        page_witness, _ = certifier.page_proof(TYPE, first - 1, list(range(first, min(n, first + 99) + 1)))
        page_reads = store.reads + meta.reads
        store.reset(), meta.reset()
        merkle.reset()
        certifier.merkle.set_leaf(TYPE, ids[0], None)
        merkle.flush()
        certifier = _fresh(store, meta)
        store.reset(), meta.reset()
        absent_witness, _ = certifier.entity_proof(TYPE, ids[0])
        absent_reads = store.reads + meta.reads
    finally:
        ic_hash_tree.hashlib = entity_merkle.hashlib = certification.hashlib = counter.real
    chain_store = CountingMap(MemoryMap())
    chain = AuditChain(chain_store)
    entry = {
        "seq": 0,
        "time": 1,
        "caller": "x",
        "operation": "create",
        "type_name": TYPE,
        "id": 1,
        "changes": {"title": "t"},
    }
    chain.append([entry], 0, chain.state())
    chain_store.reset()
    chain.append([dict(entry, seq=1), dict(entry, seq=2)], 1, chain.state())  # one message: one state read
    levels = max(1, math.ceil(math.log(n + 1, 16)))
    return {
        "n": n,
        "levels": levels,
        "update_writes": writes / samples,
        "update_writes_max": most_writes,
        "update_reads": reads / samples,
        "update_sha256": hashes / samples,
        "get_reads": get_reads / samples,
        "witness_bytes": witness_bytes / samples,
        "absent_reads": absent_reads,
        "absent_witness_bytes": len(absent_witness),
        "page_reads": page_reads,
        "page_witness_bytes": len(page_witness),
        "chain_writes_per_message_of_2": chain_store.writes,
        "chain_reads_per_message": chain_store.reads,
        "target_writes": math.ceil(math.log(n, 16)) + 1,
        "target_reads": math.ceil(math.log(n, 16)) + 2,
    }


def witness_at(n: int, measured: dict) -> float:
    """The presence witness at `n` entities: the measured bytes per level times the levels at `n`, plus
    the fixed part (root labels, type label, leaf). Every level adds at most 4 pruned siblings."""
    per_level = 4 * (3 + 32) + 4 * 2  # 4 pruned nodes ([4, h]: 35 bytes) and 4 fork headers
    levels = max(1, math.ceil(math.log(n + 1, 16)))
    fixed = measured["witness_bytes"] - per_level * measured["levels"]
    return fixed + per_level * levels


def render(results: list[dict]) -> str:
    head = (
        "n",
        "h",
        "upd writes (max)",
        "target",
        "upd reads",
        "upd sha256",
        "get reads",
        "target",
        "witness B",
        "absent reads",
        "absent witness B",
    )
    rows = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in results:
        cells = (
            f"{r['n']:,}",
            r["levels"],
            f"{r['update_writes']:.2f} ({r['update_writes_max']})",
            r["target_writes"],
            f"{r['update_reads']:.2f}",
            f"{r['update_sha256']:.1f}",
            f"{r['get_reads']:.2f}",
            r["target_reads"],
            f"{r['witness_bytes']:.0f}",
            r["absent_reads"],
            r["absent_witness_bytes"],
        )
        rows.append(" | ".join(str(x) for x in cells))
    last = results[-1]
    rows.append("")
    rows.append(
        f"witness at 1,000,000 entities (h = 5), bound from the measured shape: "
        f"{witness_at(1_000_000, last):.0f} bytes (target < 2,048)"
    )
    rows.append(
        f"list_certified page of 100 at {last['n']:,}: {last['page_reads']} reads, witness "
        f"{last['page_witness_bytes']:,} bytes"
    )
    rows.append(
        f"ICRC-3 chain: {last['chain_writes_per_message_of_2']} writes and "
        f"{last['chain_reads_per_message']} reads for a message that appends 2 entries "
        "(one hash per block; the chain's state is kept in the heap)"
    )
    return "\n".join(rows)


@click.command()
@click.option("--n", "sizes", multiple=True, type=int, default=(1_000, 10_000, 100_000), show_default=True)
def main(sizes: tuple[int, ...]) -> None:
    print(render([measure(n) for n in sizes]))


if __name__ == "__main__":
    main()
