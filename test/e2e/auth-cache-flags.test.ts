// The authorization cache's flags reach a real `weir gateway` process, counted by the
// IsAuthorized calls its control plane serves: by default a key's repeated requests ask once
// (and an unknown key's refusal once); --no-auth-cache, or WEIR_AUTH_CACHE=false, asks on every
// request; --auth-cache-size 1 keeps one answer, so two keys taking turns ask every time;
// --auth-cache-failure-ttl 0 keeps no refusal; --auth-cache-ttl 1ms lets every answer lapse.
// Each case uses keys no request has used yet: creating a key pushes no change to the gateways,
// whereas a deletion's push, arriving during a case, would drop what it cached.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chatStatus, eventually, isAuthorizedCalls, startStack, type Replica, type Stack } from "./stack.js";

const REQUESTS = 6;

let stack: Stack;
let cached: Replica;
let uncached: Replica;
let uncachedByEnv: Replica;
let oneEntryNoRefusals: Replica;
let lapsing: Replica;

before(async () => {
  stack = await startStack({ replicas: 0 });
  [cached, uncached, uncachedByEnv, oneEntryNoRefusals, lapsing] = await Promise.all([
    stack.startReplica(),
    stack.startReplica(["--no-auth-cache"]),
    stack.startReplica([], { WEIR_AUTH_CACHE: "false" }),
    stack.startReplica(["--auth-cache-size", "1", "--auth-cache-failure-ttl", "0"]),
    stack.startReplica(["--auth-cache-ttl", "1ms"]),
  ]);
  // Answers are cached only while the watch stream is open (every replica opens it).
  for (const replica of stack.replicas) {
    await eventually(`the authorization watch of ${replica.url}`, async () => /^weir_gateway_auth_watch_connected 1$/m.test(await (await fetch(`${replica.url}/metrics`)).text()) || undefined);
  }
});
after(async () => {
  await stack?.stop();
});

/** IsAuthorized calls made for `keys`' requests, one at a time, each answered `status`. */
async function callsFor(replica: Replica, keys: string[], status: number, pauseMs = 0): Promise<number> {
  const before = await isAuthorizedCalls([stack.controlPlane]);
  for (const key of keys) {
    assert.equal(await chatStatus(replica.url, key), status);
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  return (await isAuthorizedCalls([stack.controlPlane])) - before;
}

/** Two new keys of the stack's user, and a well-formed key that does not exist. */
async function freshKeys(n: number): Promise<{ a: string; b: string; unknown: string }> {
  const create = async (name: string) => (await stack.admin.request("POST", `/api/v2/users/${stack.user.id}/keys`, { name })).body.key as string;
  return { a: await create(`case-${n}-a`), b: await create(`case-${n}-b`), unknown: `unknown${String(n).padStart(3, "0")}-${"x".repeat(22)}` };
}

type Keys = Awaited<ReturnType<typeof freshKeys>>;
const repeated = (pick: (k: Keys) => string) => (k: Keys) => Array.from({ length: REQUESTS }, () => pick(k));
const takingTurns = (k: Keys) => Array.from({ length: REQUESTS }, (_, i) => (i % 2 === 0 ? k.a : k.b));

describe("weir gateway's authorization cache flags", () => {
  const cases = [
    { name: "by default, one key asks once", replica: () => cached, keys: repeated((k) => k.a), status: 200, want: 1 },
    { name: "by default, two keys taking turns ask once each", replica: () => cached, keys: takingTurns, status: 200, want: 2 },
    { name: "by default, an unknown key's refusal is asked once", replica: () => cached, keys: repeated((k) => k.unknown), status: 403, want: 1 },
    { name: "--no-auth-cache asks on every request", replica: () => uncached, keys: repeated((k) => k.a), status: 200, want: REQUESTS },
    { name: "WEIR_AUTH_CACHE=false asks on every request", replica: () => uncachedByEnv, keys: repeated((k) => k.a), status: 200, want: REQUESTS },
    { name: "--auth-cache-size 1: two keys taking turns ask every time", replica: () => oneEntryNoRefusals, keys: takingTurns, status: 200, want: REQUESTS },
    { name: "--auth-cache-failure-ttl 0: every refusal is asked", replica: () => oneEntryNoRefusals, keys: repeated((k) => k.unknown), status: 403, want: REQUESTS },
    // 10 ms between requests: each 1 ms answer has lapsed by the next.
    { name: "--auth-cache-ttl 1ms: every answer lapses", replica: () => lapsing, keys: repeated((k) => k.a), status: 200, want: REQUESTS, pauseMs: 10 },
  ];
  for (const [n, c] of cases.entries()) {
    it(c.name, async () => {
      assert.equal(await callsFor(c.replica(), c.keys(await freshKeys(n)), c.status, c.pauseMs), c.want);
    });
  }
});
