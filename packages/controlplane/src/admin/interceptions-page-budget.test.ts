// A list page carries at most PAGE_CONTENT_BUDGET_BYTES of recorded content: interceptions with
// big prompts, tool inputs or thoughts end a page early (with a next_cursor), an interception
// bigger than the budget still comes whole on a page of its own, and paging through returns
// every interception exactly once with its full content.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { PAGE_CONTENT_BUDGET_BYTES } from "./interceptions-routes.js";
import { startAdminHarness, type AdminHarness } from "./admin-test-harness.js";

const LIST = "/api/v2/ai-gateway/interceptions";
const MiB = 1024 * 1024;

let h: AdminHarness;
/** Newest first, with the bytes of content each carries. */
const seeded: { id: string; kind: "prompt" | "tool" | "thought" | "small"; size: number }[] = [];

before(async () => {
  h = await startAdminHarness();
  // Oldest first: small, 3 MiB prompt, 3 MiB tool input, 3 MiB thought, small, 9 MiB prompt, small.
  const plan = [
    ["small", 10],
    ["prompt", 3 * MiB],
    ["tool", 3 * MiB],
    ["thought", 3 * MiB],
    ["small", 10],
    ["prompt", 9 * MiB],
    ["small", 10],
  ] as const;
  for (const [i, [kind, size]] of plan.entries()) {
    const id = randomUUID();
    const startedAt = new Date(Date.parse("2026-11-01T00:00:00Z") + i * 1000);
    await h.t.db
      .insertInto("aibridge_interceptions")
      .values({ id, initiator_id: h.member.id, api_key_id: "abcdefghij", provider: "openai", provider_name: "openai", model: "gpt-4o", metadata: "{}", started_at: startedAt, client: "", credential_kind: "centralized", credential_hint: "" })
      .execute();
    const text = "x".repeat(size);
    const common = { interception_id: id, metadata: "{}", created_at: startedAt };
    if (kind === "prompt" || kind === "small") await h.t.db.insertInto("aibridge_user_prompts").values({ ...common, provider_response_id: "r", prompt: text }).execute();
    if (kind === "tool") {
      await h.t.db
        .insertInto("aibridge_tool_usages")
        .values({ ...common, provider_response_id: "r", provider_tool_call_id: "c", provider_item_id: "", tool: "Write", input: text, injected: false })
        .execute();
    }
    if (kind === "thought") await h.t.db.insertInto("aibridge_model_thoughts").values({ ...common, content: text }).execute();
    seeded.unshift({ id, kind, size });
  }
});
after(async () => {
  await h?.close();
});

describe("list pages and recorded content", () => {
  it("ends a page once its content would pass the budget, and pages through everything whole", async () => {
    assert.equal(PAGE_CONTENT_BUDGET_BYTES, 8 * MiB);
    const pages: { ids: string[]; bytes: number }[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const res = await h.call("GET", `${LIST}?limit=100${cursor ? `&after=${cursor}` : ""}`);
      assert.equal(res.status, 200, res.text);
      const items = res.json.interceptions as { id: string; prompts: { prompt: string }[]; tool_usages: { input: string }[]; model_thoughts: { content: string }[] }[];
      const bytes = items.reduce((n, x) => n + x.prompts.reduce((m, p) => m + p.prompt.length, 0) + x.tool_usages.reduce((m, t) => m + t.input.length, 0) + x.model_thoughts.reduce((m, t) => m + t.content.length, 0), 0);
      pages.push({ ids: items.map((x) => x.id), bytes });
      cursor = res.json.next_cursor;
      if (cursor === undefined) break;
    }
    // Newest first: the 9 MiB interception would take the first page past the budget, so it
    // starts the next, alone (bigger than the budget, it still comes whole); then 10 B + 3 + 3 MiB
    // fit and a third 3 MiB would not.
    const [small1, big, small2, thought, tool, prompt, small3] = seeded.map((s) => s.id);
    assert.deepEqual(
      pages.map((p) => p.ids),
      [[small1], [big], [small2, thought, tool], [prompt, small3]],
    );
    assert.deepEqual(
      pages.map((p) => p.bytes),
      [10, 9 * MiB, 6 * MiB + 10, 3 * MiB + 10],
    );
  });

  it("still returns a page of small interceptions whole, up to the limit", async () => {
    const res = await h.call("GET", `${LIST}?limit=1`);
    assert.equal(res.json.interceptions.length, 1);
    assert.equal(typeof res.json.next_cursor, "string");
  });
});
