// Revocation across replicas with the authorization cache on (API 1.1), real processes: two
// control-plane replicas on one database, one gateway process on each. After the gateways have
// cached a user's keys, a change made through control plane A — deleting one API key, then
// suspending the user — is refused by BOTH gateways within 1 s (the change travels database
// trigger -> NOTIFY -> each control plane's LISTEN -> each gateway's watch stream). A new valid
// key works at once. The warm-up also proves the caches were in use (no IsAuthorized per request).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { bootstrapOwner, createControlPlane, type ControlPlane } from "@weir/controlplane";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { createLlmEmulator, type LlmEmulator } from "@weir/llm-emulator";
import { chatStatus, eventually, freePort, isAuthorizedCalls as isAuthorizedCallsOf, runWeir, type WeirProcess } from "./stack.js";

const REVOCATION_BOUND_MS = 1_000;

let database: TestDatabase;
let planes: ControlPlane[] = [];
let emulator: LlmEmulator;
const gateways: { url: string; process: WeirProcess }[] = [];
let ownerKey: string;

/** Admin API of control plane `i`. */
async function admin(i: number, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${planes[i]!.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ownerKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

function chat(gateway: number, key: string): Promise<number> {
  return chatStatus(gateways[gateway]!.url, key);
}

/** IsAuthorized calls served by both control planes so far. */
const isAuthorizedCalls = (): Promise<number> => isAuthorizedCallsOf(planes);

/** Polls both gateways until each answers `status` for `key`; fails after the bound. Returns the slowest time. */
async function bothWithinBound(key: string, status: number, since: number): Promise<number> {
  let slowest = 0;
  for (const g of [0, 1]) {
    for (;;) {
      const got = await chat(g, key);
      const elapsed = Date.now() - since;
      if (got === status) {
        slowest = Math.max(slowest, elapsed);
        break;
      }
      assert.ok(elapsed < REVOCATION_BOUND_MS, `gateway ${g} still answers ${got} (want ${status}) ${elapsed} ms after the change`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  return slowest;
}

before(async () => {
  database = await createTestDatabase();
  const logger = pino({ level: "silent" });
  planes = [0, 1].map(() => createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: database.url, logger }));
  await Promise.all(planes.map((p) => p.start()));
  emulator = createLlmEmulator();
  await emulator.start();
  ownerKey = (await bootstrapOwner(database.db, { username: "owner" })).key;
  const gatewayKey = await admin(0, "POST", "/api/v2/ai-gateway/keys", { name: "revocation" });
  for (const plane of planes) {
    const port = await freePort();
    const proc = runWeir(["gateway", "--listen", `127.0.0.1:${port}`, "--log-level", "warn"], {
      WEIR_CONTROL_PLANE_URL: plane.url,
      WEIR_GATEWAY_KEY: gatewayKey.key,
      WEIR_OPENAI_BASE_URL: emulator.openaiBaseUrl,
      WEIR_OPENAI_API_KEY: "sk-central-openai",
    });
    const gateway = { url: `http://127.0.0.1:${port}`, process: proc };
    gateways.push(gateway);
    await eventually(`gateway on ${plane.url} ready (${proc.output()})`, async () => {
      if (proc.child.exitCode !== null) throw new Error(proc.output());
      return (await fetch(`${gateway.url}/readyz`).catch(() => undefined))?.ok || undefined;
    }, 30_000);
    // Caching starts once the watch stream is open.
    await eventually("the gateway's authorization watch", async () => {
      const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
      return /^weir_gateway_auth_watch_connected 1$/m.test(metrics) || undefined;
    });
  }
});

after(async () => {
  for (const g of gateways) if (g.process.child.exitCode === null) g.process.child.kill("SIGTERM");
  await Promise.all(gateways.map((g) => g.process.exited));
  await emulator?.shutdown();
  await Promise.all(planes.map((p) => p.shutdown()));
  await database?.drop();
});

describe("revocation with cached authorizations, two control planes, two gateways", () => {
  it("refuses a deleted key and a suspended user on both gateways within 1 s; a new key works", async (t) => {
    const alice = await admin(0, "POST", "/api/v2/users", { username: "alice", role: "member" });
    const doomed = await admin(0, "POST", `/api/v2/users/${alice.id}/keys`, { name: "doomed" });
    const kept = await admin(1, "POST", `/api/v2/users/${alice.id}/keys`, { name: "kept" });

    // Warm both caches, then prove they answer: no IsAuthorized for repeated requests.
    for (const g of [0, 1]) for (const key of [doomed.key, kept.key]) assert.equal(await chat(g, key), 200);
    const asked = await isAuthorizedCalls();
    for (let i = 0; i < 5; i++) for (const g of [0, 1]) for (const key of [doomed.key, kept.key]) assert.equal(await chat(g, key), 200);
    assert.equal(await isAuthorizedCalls(), asked, "warm requests were served from the caches");

    // Delete one key through control plane A: both gateways (one behind B) refuse it within 1 s.
    let since = Date.now();
    await admin(0, "DELETE", `/api/v2/users/${alice.id}/keys/${doomed.id}`);
    const keyDeletedMs = await bothWithinBound(doomed.key, 403, since);
    for (const g of [0, 1]) assert.equal(await chat(g, kept.key), 200, "the user's other key still works");

    // Suspend the user through control plane A: the other key is refused within 1 s too.
    since = Date.now();
    await admin(0, "PATCH", `/api/v2/users/${alice.id}`, { status: "suspended" });
    const suspendedMs = await bothWithinBound(kept.key, 403, since);
    const upstream = emulator.requests.length;
    for (const g of [0, 1]) assert.equal(await chat(g, kept.key), 403);
    assert.equal(emulator.requests.length, upstream, "refused requests never reach the upstream");

    // A new valid key (another user) works through both gateways at once.
    const bob = await admin(1, "POST", "/api/v2/users", { username: "bob", role: "member" });
    const fresh = await admin(1, "POST", `/api/v2/users/${bob.id}/keys`, { name: "new" });
    for (const g of [0, 1]) assert.equal(await chat(g, fresh.key), 200);

    t.diagnostic(`revocation reached both gateways in ${keyDeletedMs} ms (key deleted), ${suspendedMs} ms (user suspended)`);
  });
});
