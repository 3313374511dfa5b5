// A revocation made through the admin API empties an embedded gateway's handler pool at once, on
// the single-process deployment (embedded-stack.ts: real ControlPlane on real Postgres, embedded
// Gateway over the in-process transport). The embedded gateway caches no authorization, but it
// watches the control plane's change hub over that transport all the same: deleting a user's API
// key drops its pooled handler (weir_gateway_handler_pool_events_total{event="revoke"}) well
// before its 15-minute expiry, and keeps the other user's.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startEmbeddedStack, type EmbeddedStack, type TestUser } from "./embedded-stack.js";
import { eventually } from "./stack.js";

// Far below the 15-minute expiry this replaces; a push takes well under a second here, and the
// bound leaves room for a loaded machine.
const DROP_BOUND_MS = 5_000;

let stack: EmbeddedStack;

before(async () => {
  stack = await startEmbeddedStack();
});
after(async () => {
  await stack?.stop();
});

/** A gateway metric's value for `labels` (a scrape: gauges read when collected). */
async function metric(name: "memoryEntries" | "poolEventsTotal", labels: Record<string, string>): Promise<number> {
  const { values } = await stack.gateway.metrics[name].get();
  const sample = values.find((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want));
  return sample?.value ?? 0;
}
const handlers = () => metric("memoryEntries", { map: "handlers" });
const revoked = () => metric("poolEventsTotal", { event: "revoke" });

/** A chat request with the user's API key on the control plane's own address. */
async function ask(user: TestUser): Promise<number> {
  const res = await fetch(`${stack.controlPlane.url}/api/v2/ai-gateway/openai/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${user.apiKey}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

describe("pushed revocations and an embedded gateway's handler pool", () => {
  // Property: the in-process gateway hears the change feed, so a deleted key's handler does not wait out its expiry.
  it("drops a deleted key's handler promptly and keeps another user's", async (t) => {
    const alice = await stack.createUser("alice");
    const bob = await stack.createUser("bob");
    assert.equal(await ask(alice), 200);
    assert.equal(await ask(bob), 200);
    const held = await handlers();
    assert.ok(held >= 2, `both users hold a handler (${held})`);
    const revokedBefore = await revoked();

    const since = Date.now();
    await stack.admin("DELETE", `/api/v2/users/${alice.id}/keys/${alice.apiKeyId}`);
    await eventually("the deleted key's handler to leave the pool", async () => ((await handlers()) === held - 1 ? true : undefined), DROP_BOUND_MS);
    t.diagnostic(`handler dropped ${Date.now() - since} ms after the key was deleted`);
    assert.equal(await revoked(), revokedBefore + 1);

    // Bob keeps his handler; the deleted key is refused.
    assert.equal(await ask(bob), 200);
    assert.equal(await handlers(), held - 1);
    assert.equal(await ask(alice), 403);
  });
});
