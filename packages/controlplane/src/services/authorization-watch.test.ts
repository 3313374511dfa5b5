// Authorizer.WatchAuthorizationChanges (API 1.1) through a real control plane over h2c: the
// stream starts with a reset, carries API key and user changes made through another replica,
// ends with Unauthenticated when the caller's own gateway key is deleted, ends (Unavailable) on
// shutdown so draining never waits for it, and is Unimplemented where no hub is wired.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { Authorizer, type WatchAuthorizationChangesResponse } from "@weir/proto";
import pino from "pino";
import { createControlPlane, createInProcessTransport, type ControlPlane } from "../index.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { createTestH2Transport, gatewayHeaders, insertApiKey, insertGatewayKey, insertUser, type TestH2Transport } from "../testing/rpc-fixtures.js";

const logger = pino({ level: "silent" });

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

type Change = WatchAuthorizationChangesResponse["change"];

/** Reads a watch stream in the background. */
function watch(stream: AsyncIterable<WatchAuthorizationChangesResponse>): { changes: Change[]; ended: Promise<ConnectError | undefined> } {
  const changes: Change[] = [];
  const ended = (async () => {
    try {
      for await (const message of stream) changes.push(message.change);
      return undefined;
    } catch (err) {
      return ConnectError.from(err);
    }
  })();
  return { changes, ended };
}

async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("WatchAuthorizationChanges", () => {
  let a: ControlPlane;
  let b: ControlPlane;
  let h2: TestH2Transport;
  before(async () => {
    a = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger });
    b = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger });
    await Promise.all([a.start(), b.start()]);
    h2 = createTestH2Transport(a.url);
  });
  after(async () => {
    h2?.close();
    await Promise.all([a?.shutdown(), b?.shutdown()]);
  });

  it("streams a reset, then changes made anywhere; ends with Unauthenticated when its gateway key is deleted", async () => {
    const gw = await insertGatewayKey(t.db);
    const w = watch(h2.client(Authorizer).watchAuthorizationChanges({}, { headers: gatewayHeaders(gw.key) }));
    await until("the reset", () => w.changes.length === 1);
    assert.equal(w.changes[0]?.case, "reset");
    const user = await insertUser(t.db);
    const key = await insertApiKey(t.db, user.id);
    // Through the other replica's admin path: the database is what they share.
    await b.db.deleteFrom("api_keys").where("id", "=", key.id).execute();
    await b.db.updateTable("users").set({ status: "suspended" }).where("id", "=", user.id).execute();
    await until("two changes", () => w.changes.length === 3);
    assert.deepEqual(
      w.changes.slice(1).map((c) => [c.case, c.value]),
      [
        ["apiKey", { $typeName: "weir.gateway.v1.ApiKeyChange", apiKeyId: key.id }],
        ["user", { $typeName: "weir.gateway.v1.UserChange", userId: user.id }],
      ],
    );
    assert.equal(await a.metrics.authorizationWatchers.get().then((m) => m.values[0]?.value), 1);
    await t.db.deleteFrom("ai_gateway_keys").where("id", "=", gw.id).execute();
    const err = await w.ended;
    assert.equal(err?.code, Code.Unauthenticated);
    assert.equal(err?.rawMessage, "AI Gateway key invalid.");
  });

  it("is refused like any RPC without a valid gateway key", async () => {
    const w = watch(h2.client(Authorizer).watchAuthorizationChanges({}, { headers: gatewayHeaders("wgk_" + "z".repeat(39)) }));
    assert.equal((await w.ended)?.code, Code.Unauthenticated);
  });

  it("works in-process (an embedded gateway)", async () => {
    const controller = new AbortController();
    const w = watch(createClient(Authorizer, a.createInProcessTransport()).watchAuthorizationChanges({}, { signal: controller.signal }));
    await until("the reset", () => w.changes.length === 1);
    controller.abort();
    assert.equal((await w.ended)?.code, Code.Canceled);
  });

  it("is Unimplemented where no hub is wired (services registered without one)", async () => {
    const w = watch(createClient(Authorizer, createInProcessTransport({ db: t.db, logger })).watchAuthorizationChanges({}));
    assert.equal((await w.ended)?.code, Code.Unimplemented);
  });
});

describe("gateway key liveness", () => {
  // Property: a replica whose only RPC is its open watch still shows as using its key, and a
  // key no replica holds any more (rotated away) stops advancing.
  it("keeps the key's last_used_at advancing while the watch is open, and stops when it closes", async () => {
    const cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger, gatewayKeyUsageIntervalMs: 100 });
    await cp.start();
    const h2 = createTestH2Transport(cp.url);
    try {
      const gw = await insertGatewayKey(t.db);
      const lastUsed = async () => (await t.db.selectFrom("ai_gateway_keys").select("last_used_at").where("id", "=", gw.id).executeTakeFirstOrThrow()).last_used_at?.getTime();
      const controller = new AbortController();
      const w = watch(h2.client(Authorizer).watchAuthorizationChanges({}, { headers: gatewayHeaders(gw.key), signal: controller.signal }));
      await until("the reset", () => w.changes.length === 1);
      const seen = new Set<number>();
      const deadline = Date.now() + 5_000;
      while (seen.size < 3 && Date.now() < deadline) {
        const at = await lastUsed();
        if (at !== undefined) seen.add(at);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(seen.size >= 3, `last_used_at took ${seen.size} values while the watch was open, with no other RPC`);

      controller.abort();
      assert.equal((await w.ended)?.code, Code.Canceled);
      const watchers = async () => (await cp.metrics.authorizationWatchers.get()).values[0]?.value;
      for (const stop = Date.now() + 5_000; (await watchers()) !== 0 && Date.now() < stop; ) await new Promise((r) => setTimeout(r, 10));
      assert.equal(await watchers(), 0, "the server closed the stream");
      // A write started just before the close may still land.
      await new Promise((r) => setTimeout(r, 150));
      const after = await lastUsed();
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await lastUsed(), after, "no heartbeat after the watch closed");
    } finally {
      h2.close();
      await cp.shutdown();
    }
  });
});

describe("shutdown", () => {
  // Property: an open watch stream never holds up the control plane's shutdown.
  it("ends open watch streams with Unavailable and stops promptly", async () => {
    const cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger, drainTimeoutMs: 10_000 });
    await cp.start();
    const h2 = createTestH2Transport(cp.url);
    try {
      const gw = await insertGatewayKey(t.db);
      const w = watch(h2.client(Authorizer).watchAuthorizationChanges({}, { headers: gatewayHeaders(gw.key) }));
      await until("the reset", () => w.changes.length === 1);
      const started = Date.now();
      await cp.shutdown();
      assert.ok(Date.now() - started < 5_000, "shutdown did not wait for the drain deadline");
      assert.equal((await w.ended)?.code, Code.Unavailable);
    } finally {
      h2.close();
    }
  });
});
