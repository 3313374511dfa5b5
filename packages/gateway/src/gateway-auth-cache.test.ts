// Pins the authorization cache through a real gateway and a fake control plane (API 1.1): a
// known key costs no IsAuthorized while the watch stream is open; a pushed change (API key,
// user, reset) makes the very next request ask again; while the stream is down every request
// asks, and caching resumes when it is back; a control plane without the watch (Unimplemented),
// a gateway with the cache off (its watch open all the same) and one speaking 1.0 are asked every
// time; a gateway whose own key is revoked is refused at once.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import type { FatalStartupError } from "./index.js";
import { eventually, makeUser, metricValue, send, startHarness } from "./test-harness.js";
import type { Harness } from "./test-harness.js";
import type { FakeUser } from "./testing/index.js";
import { gatewayErrorBody } from "./testing/index.js";

const chat = { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] };
const request = (h: Harness, user: FakeUser) => send(`${h.gateway.url}/openai/v1/chat/completions`, { headers: { authorization: `Bearer ${user.key}` }, body: chat });

/** A user the fake authorizes, new to the gateway. */
function newUser(h: Harness): FakeUser {
  const user = makeUser();
  h.cp.addUser(user);
  return user;
}

describe("authorization cache", () => {
  let h: Harness;
  const fatal: FatalStartupError[] = [];
  before(async () => {
    h = await startHarness({ gateway: { onFatalError: (err) => fatal.push(err) } });
  });
  after(() => h.close());

  it("asks once for a key, then serves it from the cache", async () => {
    const user = newUser(h);
    const before = h.cp.callsOf("IsAuthorized");
    for (let i = 0; i < 5; i++) assert.equal((await request(h, user)).status, 200);
    assert.equal(h.cp.callsOf("IsAuthorized") - before, 1);
    assert.ok((await metricValue(h.gateway.metrics.authCacheEventsTotal, { event: "hit" })) >= 4);
  });

  it("makes concurrent first requests for one key share one IsAuthorized", async () => {
    const user = newUser(h);
    const hold = h.cp.hold("IsAuthorized");
    const before = h.cp.callsOf("IsAuthorized");
    const pending = Array.from({ length: 5 }, () => request(h, user));
    await h.cp.waitFor(() => h.cp.callsOf("IsAuthorized") > before, 5_000, "IsAuthorized in flight");
    hold.release();
    for (const res of await Promise.all(pending)) assert.equal(res.status, 200);
    assert.equal(h.cp.callsOf("IsAuthorized") - before, 1);
  });

  it("remembers a refused key only briefly, and never lets it through", async () => {
    const stranger = makeUser("stranger");
    const before = h.cp.callsOf("IsAuthorized");
    for (let i = 0; i < 3; i++) assert.equal((await request(h, stranger)).status, 403);
    assert.equal(h.cp.callsOf("IsAuthorized") - before, 1);
  });

  const revocations = [
    { name: "an API key deleted", revoke: (h: Harness, u: FakeUser) => h.cp.revokeKey(u) },
    {
      name: "a user suspended",
      revoke: (h: Harness, u: FakeUser) => {
        h.cp.failAuthorization(u.key, { code: Code.PermissionDenied, reason: "inactive_user" });
        h.cp.invalidateUser(u.ownerId);
      },
    },
    {
      name: "a reset",
      revoke: (h: Harness, u: FakeUser) => {
        h.cp.failAuthorization(u.key, { code: Code.Unauthenticated, reason: "expired" });
        h.cp.pushAuthorizationChange({ change: { case: "reset", value: {} } });
      },
    },
  ];
  for (const c of revocations) {
    // Property: a pushed change reaches the cache before the next request is served.
    it(`refuses the next request after ${c.name} is pushed`, async () => {
      const user = newUser(h);
      const bystander = newUser(h);
      assert.equal((await request(h, user)).status, 200);
      assert.equal((await request(h, bystander)).status, 200);
      const before = h.cp.callsOf("IsAuthorized");
      const invalidations = await metricValue(h.gateway.metrics.authCacheEventsTotal, { event: "invalidate" });
      c.revoke(h, user);
      await eventually(async () => (await metricValue(h.gateway.metrics.authCacheEventsTotal, { event: "invalidate" })) > invalidations, 5_000, "the change to arrive");
      const upstream = h.emulator.requests.length;
      assert.equal((await request(h, user)).status, 403);
      assert.equal(h.emulator.requests.length, upstream, "no upstream call");
      assert.equal((await request(h, bystander)).status, 200);
      // The revoked key was asked again; the bystander only after a reset.
      assert.equal(h.cp.callsOf("IsAuthorized") - before, c.name === "a reset" ? 2 : 1);
    });
  }

  // Property: no stream, no cache — every request asks until the stream is back.
  it("asks on every request while the watch stream is down, and caches again once it is back", async () => {
    const user = newUser(h);
    assert.equal((await request(h, user)).status, 200);
    const hold = h.cp.hold("WatchAuthorizationChanges");
    h.cp.endWatches(Code.Unavailable);
    await eventually(async () => (await metricValue(h.gateway.metrics.authWatchConnected)) === 0, 5_000, "watch down");
    const before = h.cp.callsOf("IsAuthorized");
    for (let i = 0; i < 3; i++) assert.equal((await request(h, user)).status, 200);
    assert.equal(h.cp.callsOf("IsAuthorized") - before, 3);
    hold.release();
    await eventually(async () => (await metricValue(h.gateway.metrics.authWatchConnected)) === 1, 5_000, "watch back");
    const again = h.cp.callsOf("IsAuthorized");
    for (let i = 0; i < 3; i++) assert.equal((await request(h, user)).status, 200);
    assert.equal(h.cp.callsOf("IsAuthorized") - again, 1);
  });

  // Property: a control plane that stops answering (frozen, partitioned) cannot tell the watch
  // about a revocation, and the watch's session may look open for a while yet: the first call
  // that times out stops the cache, so a key revoked meanwhile is not served on.
  it("stops caching once a call to the control plane times out, though the watch looks open", async () => {
    const frozen = await startHarness({ gateway: { rpcTimeoutMs: 1_500 } });
    try {
      const user = newUser(frozen);
      assert.equal((await request(frozen, user)).status, 200);
      // Revoked where this gateway cannot hear it; its records and probes no longer get through.
      const hold = frozen.cp.hold("RecordBatch");
      const holdProbes = frozen.cp.hold("GetMCPServerConfigs");
      frozen.cp.failAuthorization(user.key, { code: Code.Unauthenticated, reason: "unknown_key" });
      assert.equal((await request(frozen, user)).status, 200, "served from the cache while nothing has failed yet");
      await eventually(async () => (await request(frozen, user)).status === 403, 5_000, "the revoked key refused");
      hold.release();
      holdProbes.release();
    } finally {
      await frozen.close();
    }
  });

  // Property: a gateway whose key is revoked stops being served at once, not when its cache expires.
  it("refuses everything once its own gateway key is revoked", async () => {
    const user = newUser(h);
    assert.equal((await request(h, user)).status, 200);
    h.cp.setGatewayKey("another-gateway-key");
    h.cp.endWatches(Code.Unauthenticated);
    await eventually(async () => (await metricValue(h.gateway.metrics.authWatchConnected)) === 0, 5_000, "watch ended");
    const upstream = h.emulator.requests.length;
    const res = await request(h, user);
    assert.equal(res.status, 503);
    assert.deepEqual(res.json, gatewayErrorBody("openai", 503, "could not connect to the control plane"));
    assert.equal(h.emulator.requests.length, upstream);
    await eventually(() => fatal.length > 0, 5_000, "fatal error reported");
    assert.match(fatal[0]?.message ?? "", /AI Gateway key invalid\./);
  });
});

describe("without a cache", () => {
  // `watch`: whether the stream is open all the same (a gateway without the cache still watches,
  // to drop stale handlers: gateway-handler-revocation.test.ts) — it must not turn caching on.
  const cases = [
    { name: "a control plane that does not serve the watch (Unimplemented)", options: { unimplemented: ["WatchAuthorizationChanges" as const] }, watch: 0 },
    { name: "a gateway configured without the cache", options: { gateway: { authCache: { enabled: false } } }, watch: 1 },
    { name: "a gateway speaking 1.0", options: { gateway: { apiVersion: "1.0" } }, watch: 0 },
  ];
  for (const c of cases) {
    it(`${c.name} asks on every request`, async () => {
      const h = await startHarness(c.options);
      try {
        const before = h.cp.callsOf("IsAuthorized");
        for (let i = 0; i < 3; i++) assert.equal((await request(h, h.user)).status, 200);
        assert.equal(h.cp.callsOf("IsAuthorized") - before, 3);
        assert.equal(await metricValue(h.gateway.metrics.authWatchConnected), c.watch);
        assert.equal(await metricValue(h.gateway.metrics.authCacheEventsTotal, { event: "hit" }), 0);
      } finally {
        await h.close();
      }
    });
  }
});
