// A burst of streams through a real `weir gateway` process, with its default start pacing
// (startBudgetMs 4): the gateway starts part of the burst in later event-loop turns
// (weir_gateway_requests_paced_total), and every stream still reaches its client whole, and is
// stored with its prompt, token usage and end. With --start-budget 0 the same burst is not paced.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { DEFAULT_TEXT } from "@weir/llm-emulator";
import { eventually, startStack, type Replica, type Stack } from "./stack.js";

const BURST = 100;

let stack: Stack;
before(async () => {
  stack = await startStack({ replicas: 1 });
});
after(async () => {
  await stack?.stop();
});

async function pacedTotal(replica: Replica): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("weir_gateway_requests_paced_total "));
  assert.ok(line !== undefined, "the gateway exports weir_gateway_requests_paced_total");
  return Number(line.split(" ")[1]);
}

/** Streams a warm-up round, then the burst, through `replica`: the texts, and how many the replica paced. */
async function burst(replica: Replica): Promise<{ warm: string[]; texts: string[]; paced: number }> {
  const client = new OpenAI({ baseURL: `${replica.url}/openai/v1`, apiKey: stack.user.apiKey, maxRetries: 0 });
  const stream = async (i: number): Promise<string> => {
    const chunks = await client.chat.completions.create({ model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: `burst ${i}` }] });
    let text = "";
    for await (const chunk of chunks) text += chunk.choices[0]?.delta?.content ?? "";
    return text;
  };
  // Connections open one by one; the second round's requests leave together on the kept-alive
  // connections of the first, as a burst does.
  const warm = await Promise.all(Array.from({ length: BURST }, (_, i) => stream(BURST + i)));
  const pacedBefore = await pacedTotal(replica);
  const texts = await Promise.all(Array.from({ length: BURST }, (_, i) => stream(i)));
  return { warm, texts, paced: (await pacedTotal(replica)) - pacedBefore };
}

describe("a burst of streams through a gateway process", () => {
  it("is paced, and every stream is relayed whole and recorded", async (t) => {
    const { warm, texts, paced } = await burst(stack.replicas[0]!);
    t.diagnostic(`${paced} of ${BURST} requests paced`);

    assert.deepEqual([...warm, ...texts], Array.from({ length: 2 * BURST }, () => DEFAULT_TEXT));
    assert.ok(paced > 0 && paced < BURST, `${paced} of ${BURST} paced`);
    const db = stack.database.db;
    const stored = await eventually("every interception stored and ended", async () => {
      const rows = await db
        .selectFrom("aibridge_interceptions as i")
        .innerJoin("aibridge_user_prompts as p", "p.interception_id", "i.id")
        .innerJoin("aibridge_token_usages as u", "u.interception_id", "i.id")
        .select(["p.prompt", "i.ended_at", "u.output_tokens"])
        .execute();
      return rows.length === 2 * BURST && rows.every((r) => r.ended_at !== null) ? rows : undefined;
    });
    assert.deepEqual(stored.map((r) => r.prompt).sort(), Array.from({ length: 2 * BURST }, (_, i) => `burst ${i}`).sort());
    assert.equal(new Set(stored.map((r) => r.output_tokens)).size, 1);
  });

  it("is not paced with --start-budget 0, and every stream is relayed whole", async () => {
    const { warm, texts, paced } = await burst(await stack.startReplica(["--start-budget", "0"]));
    assert.deepEqual([...warm, ...texts], Array.from({ length: 2 * BURST }, () => DEFAULT_TEXT));
    assert.equal(paced, 0);
  });
});
