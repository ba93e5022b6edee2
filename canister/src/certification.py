"""What the canister certifies, and the proofs it hands out: one root set with `ic.set_certified_data`.

The root hash tree has three labels: `entities` (entity_merkle: every entity of a certified type),
`last_block_hash` and `last_block_index` (the ICRC-3 tip of audit_chain; LEB128 index). After every
update that appends audit entries, `after_update` chains them, rehashes the certified entities they
name and sets the new root, all in the same message (a trap rolls all of it back).
"""

import hashlib

import ic_hash_tree as tree
import rep_hash
from audit_chain import UNREAD, AuditChain
from entity_merkle import EntityMerkle
from stored_values import entity_hash

ENTITIES = b"entities"
LAST_BLOCK_HASH = b"last_block_hash"
LAST_BLOCK_INDEX = b"last_block_index"
# the bytes hashed before a labeled subtree's or a leaf's content (ic_hash_tree.labeled_digest / leaf_digest)
_ENTITIES_PREFIX = tree.labeled_prefix(ENTITIES)
_LAST_HASH_PREFIX = tree.labeled_prefix(LAST_BLOCK_HASH)
_LAST_INDEX_PREFIX = tree.labeled_prefix(LAST_BLOCK_INDEX)
_LEAF_PREFIX = tree.leaf_prefix()
_FORK_PREFIX = tree.fork_prefix()
uleb128 = rep_hash.uleb128
_BYTES, _MORE = rep_hash.BYTES, rep_hash.MORE
_sha256 = hashlib.sha256


def _root_digest(entities: bytes, index: int, block_hash: bytes) -> bytes:
    """The root digest over the entities digest and the tip (the subtree digests and the LEB128 of an
    index below 2**21 inlined: this runs in every update)."""
    sha256 = _sha256
    if index < 0x4000:
        leb = _BYTES[index] if index < 0x80 else _MORE[index & 0x7F] + _BYTES[index >> 7]
    elif index < 0x200000:
        leb = _MORE[index & 0x7F] + _MORE[index >> 7 & 0x7F] + _BYTES[index >> 14]
    else:
        leb = uleb128(index)
    # tree.fork_digest(entities, tree.fork_digest(labeled hash leaf, labeled index leaf)), inlined
    return sha256(_FORK_PREFIX + entities + sha256(
        _FORK_PREFIX + sha256(_LAST_HASH_PREFIX + sha256(_LEAF_PREFIX + block_hash).digest()).digest()
        + sha256(_LAST_INDEX_PREFIX + sha256(_LEAF_PREFIX + leb).digest()).digest()).digest()).digest()


def _after_update(certifier: "Certifier", chain: AuditChain, set_certified_data):
    """`certifier.after_update(gateway, audit_start)`: chain the audit entries written since the chain's end
    and rehash the certified entities they touch; set the new root when anything changed. A closure over
    the certifier's audit chain and certified-data setter (neither is ever replaced): every update passes
    here, without reading them as attributes."""

    def after_update(gateway, audit_start: int) -> None:
        state = chain.known   # (chain.state() but the first time: no call)
        if state is UNREAD:
            state = chain.state()
        start = state[1] if state is not None else audit_start
        copies = gateway.copies_since(start)   # (block body, type name, id) of each entry (see `take`)
        merkle = certifier.merkle
        certified = merkle.names   # (merkle.certified_names() once read: no call)
        if certified is None:
            certified = merkle.certified_names()
            gateway.keep_types(certified)   # the gateway holds these types' changed entities
        touched = None
        if copies.__class__ is tuple and state is not None:   # most updates: one block, its copy alone
            block_hash = chain.append_body(copies[0])
            tip = state[1]   # (the state before: the new block's index)
            appended = True
            if certified and copies[1] in certified:
                touched = [(copies[1], copies[2])]
        else:
            if copies.__class__ is tuple:   # one entry, the chain not yet begun
                copies = [copies]
            if copies is not None:
                state, appended = chain.append_bodies(copies, start, state)
            else:   # an entry not kept: chain the entries as stored
                entries = gateway.audit_since(start)
                state, appended = chain.append(entries, start, state)
                copies = [(None, entry["type_name"], entry["id"]) for entry in entries]
            tip = state[1] - 1 if state[1] > state[0] else None   # the last block's index, if any
            block_hash = chain.last_hash
            if certified:
                for copy in copies:
                    if copy[1] in certified:
                        if touched is None:
                            touched = []
                        touched.append((copy[1], copy[2]))
        if touched is not None:
            certifier._rehash(gateway, touched)
        # only a rehash or a type turning certification on or off changes the tree
        if merkle.types_dirty:
            changed = merkle.flush()
            gateway.keep_types(merkle.certified_names())
            if touched is None:   # (else _rehash took them)
                gateway.take_changed()
        else:
            changed = merkle.flush() if touched else False
        if changed or appended:
            entities = certifier.entities
            if changed or entities is None:
                entities = certifier.entities = certifier._entities_digest()
            if tip is not None:
                set_certified_data(_root_digest(entities, tip, block_hash))
            else:
                set_certified_data(entities)

    return after_update


class Certifier:
    """The audit chain and the entity tree over the certification map, and the root over both."""

    def __init__(self, store, meta, set_certified_data, data_certificate):
        self.chain = AuditChain(store)
        self.merkle = EntityMerkle(store, meta)
        self.set_certified_data = set_certified_data
        self.data_certificate = data_certificate
        self.entities = None   # the labeled digest of `entities` as of the last update's root (heap only)
        self.after_update = _after_update(self, self.chain, set_certified_data)

    def begin(self) -> None:
        """Start of a message: drop node caches (a failed message may have left some)."""
        merkle = self.merkle
        if merkle.used:
            merkle.reset()

    # --- updates ---

    def _rehash(self, gateway, touched: list) -> None:
        """Put the hashes of the certified entities (type, id) an update touched into the tree. The
        entities the update created or changed are still held by the gateway (see its `keep_types`): their
        records come from the engine's identity map, as stored, without a stable read and a JSON parse."""
        merkle = self.merkle
        if len(touched) == 1:   # most updates
            type_name, entity_id = touched[0]
            record = gateway.changed_record(type_name, entity_id)
            merkle.set_leaf(type_name, entity_id, None if record is None else entity_hash(type_name, record))
        else:   # each type's leaves at once: the nodes they share are rehashed once (set_leaves)
            leaves = {}   # type name -> {id: leaf}, in the order first touched
            for type_name, entity_id in touched:
                of_type = leaves.get(type_name)
                if of_type is None:
                    of_type = leaves[type_name] = {}
                if entity_id not in of_type:
                    record = gateway.changed_record(type_name, entity_id)
                    of_type[entity_id] = None if record is None else entity_hash(type_name, record)
            for type_name, of_type in leaves.items():
                merkle.set_leaves(type_name, list(of_type.items()))
        gateway.take_changed()   # (the entities held, also of a create or change rolled back since)

    def publish(self) -> None:
        self.set_certified_data(self.root_digest())

    # --- the root ---

    def _tip_nodes(self):
        tip = self.chain.tip()
        if tip is None:
            return None
        index, block_hash = tip
        return tree.fork(
            [tree.LABELED, LAST_BLOCK_HASH, [tree.LEAF, block_hash]],
            [tree.LABELED, LAST_BLOCK_INDEX, [tree.LEAF, rep_hash.uleb128(index)]],
        )

    def _root(self, entities: list, tip) -> list:
        node = [tree.LABELED, ENTITIES, entities]
        return node if tip is None else tree.fork(node, tip)

    def root_digest(self) -> bytes:
        return self.root_digest_at(self.chain.tip())

    def root_digest_at(self, tip) -> bytes:
        """The digest of _root([PRUNED, entities digest], tip nodes), from the digests directly."""
        entities = self._entities_digest()
        return entities if tip is None else _root_digest(entities, tip[0], tip[1])

    def _entities_digest(self) -> bytes:
        """The digest of the `entities` label over the certified-entity trees."""
        return hashlib.sha256(_ENTITIES_PREFIX + self.merkle.digest()).digest()

    def _certificate(self) -> bytes:
        certificate = self.data_certificate()
        if certificate is None:
            raise ValueError("no data certificate: call this method as a query")
        return bytes(certificate)

    # --- proofs ---

    def tip_certificate(self):
        """ICRC-3 DataCertificate {certificate, hash_tree} of the tip, or None before the first block."""
        tip = self._tip_nodes()
        if tip is None:
            return None
        entities = [tree.LABELED, ENTITIES, [tree.PRUNED, self.merkle.digest()]]
        witness = tree.fork(tree.pruned(entities), tip)
        certificate = self.data_certificate()
        if certificate is None:
            return None
        return {"certificate": bytes(certificate), "hash_tree": tree.to_cbor(witness)}

    def entity_proof(self, type_name: str, entity_id: int) -> tuple:
        """(witness CBOR, certificate) for ["entities", type, id as 8 bytes big-endian]."""
        return self._proof(self.merkle.witness(type_name, entity_id))

    def page_proof(self, type_name: str, after, ids: list) -> tuple:
        """(witness CBOR, certificate) showing the ids of a page and that no other id lies among them."""
        return self._proof(self.merkle.range_witness(type_name, after, ids))

    def _proof(self, entities: list) -> tuple:
        tip = self._tip_nodes()
        witness = self._root(entities, None if tip is None else tree.pruned(tip))
        return tree.to_cbor(witness), self._certificate()
