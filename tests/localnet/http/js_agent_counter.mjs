// Calls the fake counter with the JS agent (@icp-sdk/core), anonymous and signed, verifying
// certificates and query signatures; prints one line per result for test_http_js_agent.py.
import { HttpAgent, Actor } from '@icp-sdk/core/agent';
import { Ed25519KeyIdentity } from '@icp-sdk/core/identity';
const [url, cid] = process.argv.slice(2);
const idl = ({ IDL }) => IDL.Service({
  get: IDL.Func([], [IDL.Nat], ['query']),
  whoami: IDL.Func([], [IDL.Principal], ['query']),
  inc: IDL.Func([], [IDL.Nat], []),
  fail: IDL.Func([], [IDL.Nat], []),
});
for (const identity of [undefined, Ed25519KeyIdentity.generate()]) {
  const agent = await HttpAgent.create({ host: url, shouldFetchRootKey: true, identity, verifyQuerySignatures: true });
  const actor = Actor.createActor(idl, { agent, canisterId: cid });
  console.log('inc', await actor.inc());
  console.log('get', await actor.get());
  console.log('whoami', (await actor.whoami()).toText());
  try { await actor.fail(); } catch (e) { console.log('fail ->', String(e.message).split('\n').slice(0,3).join(' | ')); }
}
