// Pins which pooled handlers each pushed authorization change drops, through a real gateway and
// the fake control plane's watch stream: an API key change its key's handler, a user change all
// of the user's, a reset (pushed, or the one a reconnected stream starts with) every handler, and
// a gateway key change none. Counted as handler_pool_events_total{event="revoke"}. A gateway with
// the authorization cache off watches all the same, for its handlers only: answers stay uncached.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually, makeUser, metricValue, send, startHarness } from "./test-harness.js";
import type { Harness } from "./test-harness.js";
import type { FakeUser } from "./testing/index.js";

const chat = (h: Harness, user: FakeUser) =>
  send(`${h.gateway.url}/openai/v1/chat/completions`, {
    headers: { authorization: `Bearer ${user.key}` },
    body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] },
  });

/** weir_gateway_memory_entries{map="handlers"}, as /metrics shows it. */
async function handlers(h: Harness): Promise<number> {
  const text = (await send(`${h.gateway.url}/metrics`)).text;
  const m = /^weir_gateway_memory_entries\{map="handlers"\} (\d+)$/m.exec(text);
  return Number(m?.[1]);
}

/** Three keys with handlers: two of one user (`a1`, `a2`) and one of another (`b`). */
async function served(h: Harness): Promise<{ a1: FakeUser; a2: FakeUser; b: FakeUser }> {
  const a1 = makeUser();
  const a2 = { ...makeUser(), ownerId: a1.ownerId };
  const b = makeUser();
  for (const user of [a1, a2, b]) {
    h.cp.addUser(user);
    assert.equal((await chat(h, user)).status, 200);
  }
  return { a1, a2, b };
}

describe("handlers dropped by pushed authorization changes", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const cases = [
    { name: "an API key change drops that key's handler", push: (h: Harness, u: { a1: FakeUser }) => h.cp.invalidateApiKey(u.a1.apiKeyId), dropped: 1 },
    { name: "a user change drops every handler of the user", push: (h: Harness, u: { a1: FakeUser }) => h.cp.invalidateUser(u.a1.ownerId), dropped: 2 },
    { name: "a pushed reset drops every handler", push: (h: Harness) => h.cp.pushAuthorizationChange({ change: { case: "reset", value: {} } }), dropped: "all" as const },
    { name: "a reconnected watch (its reset) drops every handler", push: (h: Harness) => h.cp.endWatches(), dropped: "all" as const },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const users = await served(h);
      const held = await handlers(h);
      const revokedBefore = await metricValue(h.gateway.metrics.poolEventsTotal, { event: "revoke" });
      c.push(h, users);
      const want = c.dropped === "all" ? 0 : held - c.dropped;
      await eventually(async () => (await handlers(h)) === want, 5_000, `${want} handlers left`);
      assert.equal(await metricValue(h.gateway.metrics.poolEventsTotal, { event: "revoke" }), revokedBefore + (held - want));
    });
  }

  // Property: nothing in a handler comes from the gateway key, so its change (which empties the auth cache) keeps them.
  it("a gateway key change keeps every handler", async () => {
    const users = await served(h);
    const held = await handlers(h);
    h.cp.pushAuthorizationChange({ change: { case: "gatewayKey", value: { gatewayKeyId: "7b3f1c2e-0000-4000-8000-0000000000ff" } } });
    // Pushed after it on the same stream: once this one's handler is gone, the gateway key change was applied.
    h.cp.invalidateApiKey(users.b.apiKeyId);
    await eventually(async () => (await handlers(h)) === held - 1, 5_000, "the key change after it");
  });
});

describe("handlers dropped with the authorization cache off", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ gateway: { authCache: { enabled: false } } });
  });
  after(() => h.close());

  // Property: the watch is opened for the handler pool alone; it drops the key's handler and caches nothing.
  it("an API key change drops that key's handler, and every request still asks the control plane", async () => {
    const users = await served(h);
    const held = await handlers(h);
    const revokedBefore = await metricValue(h.gateway.metrics.poolEventsTotal, { event: "revoke" });
    h.cp.invalidateApiKey(users.a1.apiKeyId);
    await eventually(async () => (await handlers(h)) === held - 1, 5_000, "the key's handler dropped");
    assert.equal(await metricValue(h.gateway.metrics.poolEventsTotal, { event: "revoke" }), revokedBefore + 1);

    const asked = h.cp.callsOf("IsAuthorized");
    for (const user of [users.a2, users.a2, users.b]) assert.equal((await chat(h, user)).status, 200);
    assert.equal(h.cp.callsOf("IsAuthorized") - asked, 3);
    assert.equal(await handlers(h), held - 1, "the kept handlers serve them");
    assert.equal(await metricValue(h.gateway.metrics.authCacheEventsTotal), 0);
  });
});
