// Pins the bound on user-controlled metric labels: model and tool names come from request and
// response bodies, and each distinct value is a series kept for the life of the process.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LabelValues, MAX_LABEL_VALUES, OTHER_LABEL_VALUE, ToolCallLabels } from "./metrics.js";
import { send, startHarness, waitForEnded } from "./test-harness.js";
import type { Harness } from "./test-harness.js";

describe("LabelValues", () => {
  it("keeps the first values it sees, cut to 100 characters, and counts the rest as other", () => {
    const labels = new LabelValues(3);
    assert.equal(labels.of("gpt-4o"), "gpt-4o");
    assert.equal(labels.of("x".repeat(150)), "x".repeat(100));
    assert.equal(labels.of("claude"), "claude");
    assert.equal(labels.of("new-model"), OTHER_LABEL_VALUE);
    // Values already kept keep their name.
    assert.equal(labels.of("gpt-4o"), "gpt-4o");
    assert.equal(labels.of("x".repeat(120)), "x".repeat(100));
  });
});

describe("ToolCallLabels", () => {
  it("bounds (provider, model, tool) series, not only each label: a new series past the bound counts as other", () => {
    const labels = new ToolCallLabels(3, 4);
    assert.deepEqual(
      [labels.of("openai", "m1", "a"), labels.of("openai", "m1", "b"), labels.of("openai", "m2", "a"), labels.of("anthropic", "m1", "a"), labels.of("openai", "m3", "a")],
      ["a", "b", "a", "a", OTHER_LABEL_VALUE],
    );
    // Series already kept keep their name; new series stay other.
    assert.deepEqual([labels.of("openai", "m1", "b"), labels.of("anthropic", "m1", "b"), labels.of("openai", "m1", "c")], ["b", OTHER_LABEL_VALUE, OTHER_LABEL_VALUE]);
    const fresh = new ToolCallLabels(3, 100);
    assert.deepEqual(["a", "b", "c", "d"].map((t) => fresh.of("openai", "m", t)), ["a", "b", "c", OTHER_LABEL_VALUE]);
  });

  it("keeps at most 1,000 series plus one other per provider and model, whatever the traffic", () => {
    const labels = new ToolCallLabels();
    const series = new Set<string>();
    for (const provider of ["openai", "anthropic"]) {
      for (let m = 0; m <= MAX_LABEL_VALUES; m++) {
        for (let t = 0; t < 60; t++) series.add(`${provider} m${m} ${labels.of(provider, `m${m}`, `tool-${(m * 7 + t) % 700}`)}`);
      }
    }
    const named = [...series].filter((s) => !s.endsWith(` ${OTHER_LABEL_VALUE}`));
    assert.equal(named.length, 1_000);
    assert.ok(series.size - named.length <= 2 * (MAX_LABEL_VALUES + 1), String(series.size));
  });
});

describe("model labels through a gateway", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it("a client inventing a model name per request adds no series beyond the bound", async () => {
    const requests = MAX_LABEL_VALUES + 40;
    const ended = h.cp.ended.length;
    for (let i = 0; i < requests; i += 20) {
      await Promise.all(
        Array.from({ length: Math.min(20, requests - i) }, (_, j) =>
          send(`${h.gateway.url}/openai/v1/chat/completions`, {
            headers: { authorization: `Bearer ${h.user.key}` },
            body: { model: `invented-${i + j}`, messages: [{ role: "user", content: "hi" }] },
          }).then((res) => assert.equal(res.status, 200)),
        ),
      );
    }
    await waitForEnded(h, ended + requests);
    const text = (await send(`${h.gateway.url}/metrics`)).text;
    const models = new Set([...text.matchAll(/^weir_gateway_interceptions_total\{[^}]*model="([^"]*)"/gm)].map((m) => m[1]));
    assert.equal(models.size, MAX_LABEL_VALUES + 1);
    assert.ok(models.has(OTHER_LABEL_VALUE));
    assert.ok(models.has("invented-0"));
  });
});
