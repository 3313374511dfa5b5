// A burst of requests through real HTTP is started over several event-loop turns (startBudgetMs,
// start-pacer.ts) and every one of them is still served whole and recorded; a client sending
// one request at a time is never paced.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { metricValue, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";
import { InvalidGatewayOptionsError, resolveGatewayOptions } from "./index.js";

const BURST = 40;

async function streamedText(client: OpenAI, i: number): Promise<{ text: string; chunks: number }> {
  const stream = await client.chat.completions.create(
    { model: "gpt-4o", stream: true, messages: [{ role: "user", content: `burst ${i}` }] },
    { headers: { "x-emulator-events": "5" } },
  );
  let text = "";
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  return { text, chunks };
}

describe("start pacing: a burst", () => {
  let h: Harness;
  before(async () => {
    // A budget far below one request's start: in a turn, only the first arrival starts at once.
    h = await startHarness({ gateway: { startBudgetMs: 0.001 } });
  });
  after(() => h.close());

  it("starts over several turns, and every stream is served whole and recorded", async () => {
    const client = new OpenAI({ apiKey: h.user.key, baseURL: `${h.gateway.url}/openai/v1`, maxRetries: 0 });
    const alone = await streamedText(client, -1);
    // Connections are opened one by one; a first round leaves BURST of them open, so the next
    // round's requests reach the gateway together, as a real burst on kept-alive connections.
    await Promise.all(Array.from({ length: BURST }, (_, i) => streamedText(client, BURST + i)));
    const pacedBefore = await metricValue(h.gateway.metrics.requestsPacedTotal);
    const results = await Promise.all(Array.from({ length: BURST }, (_, i) => streamedText(client, i)));

    const paced = (await metricValue(h.gateway.metrics.requestsPacedTotal)) - pacedBefore;
    assert.ok(paced > 0 && paced < BURST, `paced ${paced} of ${BURST}`);
    for (const r of results) assert.deepEqual(r, alone);
    await waitForEnded(h, 2 * BURST + 1);
    assert.equal(new Set(h.cp.ended.map((e) => e.id)).size, 2 * BURST + 1);
    const prompts = h.cp.prompts.map((p) => p.prompt).sort();
    assert.deepEqual(prompts, ["burst -1", ...Array.from({ length: 2 * BURST }, (_, i) => `burst ${i}`)].sort());
  });
});

describe("start pacing: one request at a time", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("is never deferred", async () => {
    const client = new OpenAI({ apiKey: h.user.key, baseURL: `${h.gateway.url}/openai/v1`, maxRetries: 0 });
    for (let i = 0; i < 5; i += 1) await streamedText(client, i);
    assert.equal(await metricValue(h.gateway.metrics.requestsPacedTotal), 0);
    assert.equal(h.gateway.options.startBudgetMs, 2);
  });
});

describe("startBudgetMs", () => {
  const base = { controlPlaneUrl: "http://127.0.0.1:1", gatewayKey: "k" };
  it("accepts 0 (no pacing) up to 1000 ms and refuses anything else", () => {
    assert.equal(resolveGatewayOptions({ ...base, startBudgetMs: 0 }).startBudgetMs, 0);
    assert.equal(resolveGatewayOptions({ ...base, startBudgetMs: 1000 }).startBudgetMs, 1000);
    for (const bad of [-1, 1001, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => resolveGatewayOptions({ ...base, startBudgetMs: bad }),
        (err: unknown) => err instanceof InvalidGatewayOptionsError && err.message === `startBudgetMs must be between 0 and 1000, got ${bad}`,
      );
    }
  });
});
