// Verifies a certified get of simple_db with the JS agent (@icp-sdk/core) alone, independently of the
// Python client: certificate (BLS, canister, freshness), witness root == certified_data, and the
// witness leaf == the ICRC-3 Value hash of the entity returned (or a proven absence). Prints one line
// per id for test_certified_e2e.py; "tamper" as the last argument changes the entity before checking.
import { createHash } from 'node:crypto';
import { HttpAgent, Actor, Certificate, Cbor, reconstruct, lookup_path, LookupPathStatus } from '@icp-sdk/core/agent';
import { Principal } from '@icp-sdk/core/principal';

const [url, canisterText, typeName, idsText, mode] = process.argv.slice(2);
const idl = ({ IDL }) => {
  const Value = IDL.Variant({ Text: IDL.Text, Int: IDL.Int, Float: IDL.Float64, Bool: IDL.Bool,
    Principal: IDL.Principal, Timestamp: IDL.Nat64, Null: IDL.Null });
  const Field = IDL.Record({ name: IDL.Text, value: Value });
  const Ref = IDL.Record({ relation: IDL.Text, target_type: IDL.Text, target_id: IDL.Opt(IDL.Nat64) });
  const Entity = IDL.Record({ type_name: IDL.Text, id: IDL.Nat64, fields: IDL.Vec(Field), refs: IDL.Vec(Ref),
    owner: IDL.Principal, creator: IDL.Principal, updater: IDL.Principal, created_at: IDL.Nat64,
    updated_at: IDL.Nat64, version: IDL.Nat64 });
  const Error = IDL.Variant({ NotFound: IDL.Text, Forbidden: IDL.Text, Unauthenticated: IDL.Text,
    Invalid: IDL.Text, Conflict: IDL.Text, Limit: IDL.Text });
  const Certified = IDL.Record({ entity: IDL.Opt(Entity), witness: IDL.Vec(IDL.Nat8), certificate: IDL.Vec(IDL.Nat8) });
  return IDL.Service({ get_certified: IDL.Func([IDL.Text, IDL.Nat64], [IDL.Variant({ Ok: Certified, Err: Error })], ['query']) });
};

const sha = (bytes) => new Uint8Array(createHash('sha256').update(bytes).digest());
const concat = (parts) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; } return out; };
function uleb(n) { n = BigInt(n); const out = []; do { let b = Number(n & 0x7fn); n >>= 7n; if (n) b |= 0x80; out.push(b); } while (n); return Uint8Array.from(out); }
function sleb(n) { n = BigInt(n); const out = []; for (;;) { const b = Number(n & 0x7fn); n >>= 7n;
  const done = (n === 0n && !(b & 0x40)) || (n === -1n && (b & 0x40)); out.push(done ? b : b | 0x80); if (done) return Uint8Array.from(out); } }
const text = (s) => new TextEncoder().encode(s);
// The ICRC-3 representation-independent hash.
function hashValue(v) {
  const [tag, x] = Object.entries(v)[0];
  if (tag === 'Text') return sha(text(x));
  if (tag === 'Blob') return sha(x);
  if (tag === 'Nat') return sha(uleb(x));
  if (tag === 'Int') return sha(sleb(x));
  if (tag === 'Array') return sha(concat(x.map(hashValue)));
  const pairs = x.map(([k, val]) => concat([sha(text(k)), hashValue(val)]));
  pairs.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return sha(concat(pairs));
}
function stored(value) {
  const [tag, x] = Object.entries(value)[0];
  if (tag === 'Null') return null;
  if (tag === 'Text') return { Map: [['Text', { Text: x }]] };
  if (tag === 'Principal') return { Map: [['Text', { Text: x.toText() }]] };
  if (tag === 'Int' || tag === 'Timestamp') return { Map: [['Int', { Int: x }]] };
  if (tag === 'Bool') return { Map: [['Bool', { Nat: x ? 1 : 0 }]] };
  const buf = new DataView(new ArrayBuffer(8)); buf.setFloat64(0, x, false);
  return { Map: [['Float', { Blob: new Uint8Array(buf.buffer) }]] };
}
function entityValue(e) {
  return { Map: [
    ['type_name', { Text: e.type_name }], ['id', { Nat: e.id }],
    ['fields', { Map: e.fields.map((f) => [f.name, stored(f.value)]).filter(([, v]) => v !== null) }],
    ['refs', { Map: e.refs.filter((r) => r.target_id.length).map((r) => [r.relation, { Nat: r.target_id[0] }]) }],
    ['owner', { Text: e.owner.toText() }], ['creator', { Text: e.creator.toText() }], ['updater', { Text: e.updater.toText() }],
    ['created_at', { Nat: e.created_at }], ['updated_at', { Nat: e.updated_at }], ['version', { Nat: e.version }],
  ] };
}
const hex = (b) => Buffer.from(b).toString('hex');
const equal = (a, b) => a && b && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

const agent = await HttpAgent.create({ host: url, shouldFetchRootKey: true, verifyQuerySignatures: true });
const canisterId = Principal.fromText(canisterText);
const actor = Actor.createActor(idl, { agent, canisterId });
for (const id of idsText.split(',').map(BigInt)) {
  const reply = await actor.get_certified(typeName, id);
  if ('Err' in reply) { console.log(id, 'error', JSON.stringify(reply.Err)); continue; }
  const { entity, witness, certificate } = reply.Ok;
  try {
    const cert = await Certificate.create({ certificate: Uint8Array.from(certificate), rootKey: agent.rootKey, canisterId });
    const certified = cert.lookup_path(['canister', canisterId.toUint8Array(), 'certified_data']);
    const tree = Cbor.decode(Uint8Array.from(witness));
    if (!equal(await reconstruct(tree), certified.value)) throw new Error('witness root is not the certified data');
    const idLabel = new Uint8Array(8); new DataView(idLabel.buffer).setBigUint64(0, id, false);
    const found = lookup_path(['entities', typeName, idLabel], tree);
    if (!entity.length) {
      if (found.status !== LookupPathStatus.Absent) throw new Error('absence not proven');
      console.log(String(id), 'absent-proven');
      continue;
    }
    const e = entity[0];
    if (mode === 'tamper') e.fields[0].value = { Text: 'tampered' };
    if (found.status !== LookupPathStatus.Found) throw new Error('entity not in the witness');
    if (!equal(found.value, hashValue(entityValue(e)))) throw new Error('entity hash differs from the certified leaf');
    console.log(String(id), 'verified', hex(found.value));
  } catch (err) {
    console.log(String(id), 'refused', err.message);
  }
}
