// The interception tally behind interceptions_total, interceptions_inflight, prompts_total and
// tokens_total: what /metrics shows is exactly what was counted, across scrapes (nothing lost or
// counted twice), including zero token counters and a model name made to look like a key.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createGatewayMetrics } from "./index.js";

const chat = "/openai/v1/chat/completions";
const usage = (input: number, output: number, cacheRead = 0, cacheWrite = 0) => ({ input, output, cacheRead, cacheWrite });

/** The exposition's sample lines for one metric, sorted. */
async function samples(metrics: ReturnType<typeof createGatewayMetrics>, name: string): Promise<string[]> {
  const text = await metrics.registry.metrics();
  return text
    .split("\n")
    .filter((l) => l.startsWith(`weir_gateway_${name}{`) || l.startsWith(`weir_gateway_${name} `))
    .sort();
}

describe("interception tally", () => {
  it("shows exactly what was counted, cumulatively across scrapes", async () => {
    const m = createGatewayMetrics();
    const t = m.interceptionTally;
    t.finished({ provider: "openai", route: chat, model: "gpt-4o", prompt: true, usage: usage(10, 5, 3), failed: false });
    t.finished({ provider: "openai", route: chat, model: "gpt-4o", prompt: false, usage: undefined, failed: true });
    assert.deepEqual(await samples(m, "interceptions_total"), [
      `weir_gateway_interceptions_total{provider="openai",model="gpt-4o",status="completed",route="${chat}"} 1`,
      `weir_gateway_interceptions_total{provider="openai",model="gpt-4o",status="failed",route="${chat}"} 1`,
    ]);
    assert.deepEqual(await samples(m, "tokens_total"), [
      `weir_gateway_tokens_total{provider="openai",model="gpt-4o",type="cache_read"} 3`,
      `weir_gateway_tokens_total{provider="openai",model="gpt-4o",type="cache_write"} 0`,
      `weir_gateway_tokens_total{provider="openai",model="gpt-4o",type="input"} 10`,
      `weir_gateway_tokens_total{provider="openai",model="gpt-4o",type="output"} 5`,
    ]);
    assert.deepEqual(await samples(m, "prompts_total"), [`weir_gateway_prompts_total{provider="openai",model="gpt-4o"} 1`]);

    // Scraped again with nothing new: the same values, not doubled.
    assert.deepEqual(await samples(m, "prompts_total"), [`weir_gateway_prompts_total{provider="openai",model="gpt-4o"} 1`]);
    t.finished({ provider: "openai", route: chat, model: "gpt-4o", prompt: true, usage: usage(1, 2), failed: false });
    t.finished({ provider: "anthropic", route: "/anthropic/v1/messages", model: "claude", prompt: true, usage: usage(0, 0, 0, 40), failed: false });
    assert.deepEqual(await samples(m, "tokens_total"), [
      `weir_gateway_tokens_total{provider="anthropic",model="claude",type="cache_read"} 0`,
      `weir_gateway_tokens_total{provider="anthropic",model="claude",type="cache_write"} 40`,
      `weir_gateway_tokens_total{provider="anthropic",model="claude",type="input"} 0`,
      `weir_gateway_tokens_total{provider="anthropic",model="claude",type="output"} 0`,
      `weir_gateway_tokens_total{provider="openai",model="gpt-4o",type="cache_read"} 3`,
      `weir_gateway_tokens_total{provider="openai",model="gpt-4o",type="cache_write"} 0`,
      `weir_gateway_tokens_total{provider="openai",model="gpt-4o",type="input"} 11`,
      `weir_gateway_tokens_total{provider="openai",model="gpt-4o",type="output"} 7`,
    ]);
    // Read through the metric object (as tests and embedders do), not only the registry.
    const completed = await m.interceptionsTotal.get();
    assert.equal(completed.values.filter((v) => v.labels.status === "completed").reduce((n, v) => n + v.value, 0), 3);
  });

  it("keeps a model name with newlines apart from other series", async () => {
    const m = createGatewayMetrics();
    const t = m.interceptionTally;
    t.finished({ provider: "openai", route: chat, model: `a\n${chat}\nb`, prompt: true, usage: undefined, failed: false });
    t.finished({ provider: "openai", route: chat, model: "a", prompt: true, usage: undefined, failed: false });
    const prompts = (await m.promptsTotal.get()).values.map((v) => [v.labels.model, v.value]);
    assert.deepEqual(prompts, [
      [`a\n${chat}\nb`, 1],
      ["a", 1],
    ]);
  });

  it("reports interceptions in progress per provider and route, down to 0", async () => {
    const m = createGatewayMetrics();
    const t = m.interceptionTally;
    t.started("openai", chat);
    t.started("openai", chat);
    t.started("anthropic", "/anthropic/v1/messages");
    t.ended("openai", chat);
    assert.deepEqual(await samples(m, "interceptions_inflight"), [
      `weir_gateway_interceptions_inflight{provider="anthropic",route="/anthropic/v1/messages"} 1`,
      `weir_gateway_interceptions_inflight{provider="openai",route="${chat}"} 1`,
    ]);
    t.ended("openai", chat);
    t.ended("anthropic", "/anthropic/v1/messages");
    assert.deepEqual(await samples(m, "interceptions_inflight"), [
      `weir_gateway_interceptions_inflight{provider="anthropic",route="/anthropic/v1/messages"} 0`,
      `weir_gateway_interceptions_inflight{provider="openai",route="${chat}"} 0`,
    ]);
  });
});
