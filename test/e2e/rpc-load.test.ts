// The hot path at load (API 1.1): through a real gateway process, a few hundred concurrent LLM
// requests cost at most 0.2 control-plane RPCs each on average (authorizations answered from
// the cache, records sent in batches), and not one record is lost: every interception is stored
// with its prompt, token usage and end. The numbers are reported as test diagnostics.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startStack, type Stack } from "./stack.js";

const REQUESTS = 400;
const CONCURRENCY = 16;
const MAX_RPCS_PER_REQUEST = 0.2;

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 1 });
});
after(async () => {
  await stack?.stop();
});

/** RPCs the control plane served, by method. */
async function rpcs(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const v of (await stack.controlPlane.metrics.rpcRequests.get()).values) out.set(String(v.labels.method), (out.get(String(v.labels.method)) ?? 0) + v.value);
  return out;
}

const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

describe("control-plane RPCs per LLM request at load", () => {
  it(`stay at or below ${MAX_RPCS_PER_REQUEST} with no record lost`, async (t) => {
    const url = `${stack.replicas[0]!.url}/openai/v1/chat/completions`;
    const send = async (): Promise<void> => {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${stack.user.apiKey}` },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      });
      assert.equal(res.status, 200, await res.text());
    };
    await send(); // the first request of a key asks IsAuthorized; the steady state does not
    const before = await rpcs();
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          next += 1;
          await send();
        }
      }),
    );
    const elapsedMs = Date.now() - started;
    // Every record reaches the database (the queue lingers at most a few ms per batch).
    const db = stack.database.db;
    const deadline = Date.now() + 10_000;
    let stored: { interceptions: number; ended: number; prompts: number; tokens: number };
    for (;;) {
      const interceptions = await db.selectFrom("aibridge_interceptions").select(["id", "ended_at"]).execute();
      const count = async (table: "aibridge_user_prompts" | "aibridge_token_usages") => Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
      stored = { interceptions: interceptions.length, ended: interceptions.filter((i) => i.ended_at !== null).length, prompts: await count("aibridge_user_prompts"), tokens: await count("aibridge_token_usages") };
      if (stored.ended === REQUESTS + 1 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(stored, { interceptions: REQUESTS + 1, ended: REQUESTS + 1, prompts: REQUESTS + 1, tokens: REQUESTS + 1 }, "no record lost, none twice");
    const after = await rpcs();
    const spent = new Map([...after].map(([method, n]) => [method, n - (before.get(method) ?? 0)]));
    const perRequest = total(spent) / REQUESTS;
    t.diagnostic(`${REQUESTS} requests, ${CONCURRENCY} concurrent, ${elapsedMs} ms: ${total(spent)} RPCs (${JSON.stringify(Object.fromEntries(spent))}) = ${perRequest.toFixed(3)} per request`);
    assert.ok(perRequest <= MAX_RPCS_PER_REQUEST, `${perRequest} RPCs per request`);
    assert.equal(spent.get("IsAuthorized") ?? 0, 0, "authorizations came from the cache");
  });
});
