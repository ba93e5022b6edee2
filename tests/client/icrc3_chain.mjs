// Reads simple_db's audit log through the ICRC-3 interface with the JS agent (@icp-sdk/core) and the
// standard's Candid types (GetBlocksResult with its `func` callback), and verifies it on its own: the
// tip certificate (BLS, canister, freshness), its hash_tree against certified_data, then every block's
// representation-independent hash against the next block's phash and the last one against
// last_block_hash. Prints one line for test_certified_e2e.py.
import { createHash } from 'node:crypto';
import { HttpAgent, Actor, Certificate, Cbor, reconstruct, lookup_path, LookupPathStatus } from '@icp-sdk/core/agent';
import { Ed25519KeyIdentity } from '@icp-sdk/core/identity';
import { Principal } from '@icp-sdk/core/principal';

const [url, canisterText, seedHex, mode] = process.argv.slice(2);
const idl = ({ IDL }) => {
  const Value = IDL.Rec();
  Value.fill(IDL.Variant({ Blob: IDL.Vec(IDL.Nat8), Text: IDL.Text, Nat: IDL.Nat, Int: IDL.Int,
    Array: IDL.Vec(Value), Map: IDL.Vec(IDL.Tuple(IDL.Text, Value)) }));
  const GetBlocksArgs = IDL.Vec(IDL.Record({ start: IDL.Nat, length: IDL.Nat }));
  const GetBlocksResult = IDL.Rec();
  GetBlocksResult.fill(IDL.Record({
    log_length: IDL.Nat,
    blocks: IDL.Vec(IDL.Record({ id: IDL.Nat, block: Value })),
    archived_blocks: IDL.Vec(IDL.Record({ args: GetBlocksArgs,
      callback: IDL.Func([GetBlocksArgs], [GetBlocksResult], ['query']) })),
  }));
  const DataCertificate = IDL.Record({ certificate: IDL.Vec(IDL.Nat8), hash_tree: IDL.Vec(IDL.Nat8) });
  return IDL.Service({
    icrc3_get_blocks: IDL.Func([GetBlocksArgs], [GetBlocksResult], ['query']),
    icrc3_get_tip_certificate: IDL.Func([], [IDL.Opt(DataCertificate)], ['query']),
    icrc3_supported_block_types: IDL.Func([], [IDL.Vec(IDL.Record({ block_type: IDL.Text, url: IDL.Text }))], ['query']),
  });
};

const sha = (bytes) => new Uint8Array(createHash('sha256').update(bytes).digest());
const concat = (parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; } return out; };
function uleb(n) { n = BigInt(n); const out = []; do { let b = Number(n & 0x7fn); n >>= 7n; if (n) b |= 0x80; out.push(b); } while (n); return Uint8Array.from(out); }
function sleb(n) { n = BigInt(n); const out = []; for (;;) { const b = Number(n & 0x7fn); n >>= 7n;
  const done = (n === 0n && !(b & 0x40)) || (n === -1n && (b & 0x40)); out.push(done ? b : b | 0x80); if (done) return Uint8Array.from(out); } }
function hashValue(v) {
  const [tag, x] = Object.entries(v)[0];
  if (tag === 'Text') return sha(new TextEncoder().encode(x));
  if (tag === 'Blob') return sha(Uint8Array.from(x));
  if (tag === 'Nat') return sha(uleb(x));
  if (tag === 'Int') return sha(sleb(x));
  if (tag === 'Array') return sha(concat(x.map(hashValue)));
  const pairs = x.map(([k, val]) => concat([sha(new TextEncoder().encode(k)), hashValue(val)]));
  pairs.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return sha(concat(pairs));
}
const equal = (a, b) => a && b && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

const identity = Ed25519KeyIdentity.fromSecretKey(Uint8Array.from(Buffer.from(seedHex, 'hex')));
const agent = await HttpAgent.create({ host: url, shouldFetchRootKey: true, identity, verifyQuerySignatures: true });
const canisterId = Principal.fromText(canisterText);
const actor = Actor.createActor(idl, { agent, canisterId });
try {
  const [tip] = await actor.icrc3_get_tip_certificate();
  const cert = await Certificate.create({ certificate: Uint8Array.from(tip.certificate), rootKey: agent.rootKey, canisterId });
  const certified = cert.lookup_path(['canister', canisterId.toUint8Array(), 'certified_data']);
  const tree = Cbor.decode(Uint8Array.from(tip.hash_tree));
  if (!equal(await reconstruct(tree), certified.value)) throw new Error('tip hash_tree is not the certified data');
  const index = lookup_path(['last_block_index'], tree);
  const last = lookup_path(['last_block_hash'], tree);
  if (index.status !== LookupPathStatus.Found || last.status !== LookupPathStatus.Found) throw new Error('no tip');
  let lastIndex = 0n; let shift = 0n;
  for (const byte of index.value) { lastIndex |= BigInt(byte & 0x7f) << shift; shift += 7n; }
  const start = lastIndex > 49n ? lastIndex - 49n : 0n;  // the newest 50 blocks, checked back from the tip
  const result = await actor.icrc3_get_blocks([{ start, length: lastIndex + 1n - start }]);
  const blocks = result.blocks;
  if (mode === 'tamper') blocks[0].block.Map = blocks[0].block.Map.map(([k, v]) => [k, k === 'ts' ? { Nat: 1n } : v]);
  if (blocks[blocks.length - 1].id !== lastIndex) throw new Error('blocks do not reach the tip');
  let expected = last.value;
  for (let i = blocks.length - 1; i >= 0; i--) {
    if (!equal(hashValue(blocks[i].block), expected)) throw new Error(`block ${blocks[i].id} is not in the certified chain`);
    const phash = blocks[i].block.Map.find(([k]) => k === 'phash');
    expected = phash ? Uint8Array.from(phash[1].Blob) : undefined;
  }
  const types = await actor.icrc3_supported_block_types();
  console.log('chain-verified', blocks.length, String(result.log_length), result.archived_blocks.length, types[0].block_type);
} catch (err) {
  console.log('refused', err.message);
}
