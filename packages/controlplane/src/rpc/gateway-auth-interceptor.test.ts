// The gateway-auth interceptor over a real h2c server: key and version refusals (codes and
// messages, key checked first), lookup failure, secrets never logged; last_used_at written once
// a minute (fake clock) with backoff on failure; a deleted key fails the next RPC, also on
// another control plane sharing the database.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { MCPConfigurator } from "@weir/proto";
import type { Kysely } from "kysely";
import pino, { type Logger } from "pino";
import { GatewayKeyUsageTracker, createControlPlane, createGatewayAuthInterceptor, registerServices, type ControlPlane } from "../index.js";
import type { Database } from "../db/schema.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { DATABASE_UNAVAILABLE_MESSAGE } from "./connect-errors.js";
import { FakeClock, createTestH2Transport, gatewayHeaders, insertGatewayKey, unreachableDatabase, type GatewayKeyFixture, type TestH2Transport } from "../testing/rpc-fixtures.js";

const silent = pino({ level: "silent" });

/** A logger whose JSON lines the test can read. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

/** A minimal h2c RPC server: registerServices behind the interceptor, with a pinned version. */
async function serveRpc(db: Kysely<Database>, apiVersion: string, logger: Logger): Promise<{ url: string; close(): Promise<void> }> {
  const clock = new FakeClock();
  const usage = new GatewayKeyUsageTracker({ db, logger, clock });
  const server = http2.createServer(
    connectNodeAdapter({
      routes: (router) => registerServices(router, { db, logger, clock }),
      interceptors: [createGatewayAuthInterceptor({ db, logger, usage, apiVersion })],
    }),
  );
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions) s.close();
      await closed;
      await usage.close();
    },
  };
}

async function failure(call: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await call;
    return { code: "OK", message: "" };
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: Code[e.code]!, message: e.rawMessage };
  }
}

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

describe("gateway auth on a 1.0 server", () => {
  let server: Awaited<ReturnType<typeof serveRpc>>;
  let h2: TestH2Transport;
  let gw: GatewayKeyFixture;
  const { logger, lines } = capturingLogger();
  before(async () => {
    gw = await insertGatewayKey(t.db);
    server = await serveRpc(t.db, "1.0", logger);
    h2 = createTestH2Transport(server.url);
  });
  after(async () => {
    h2?.close();
    await server?.close();
  });

  const cases: { name: string; headers: () => Record<string, string>; want: { code: string; message: string | RegExp } }[] = [
    { name: "missing key", headers: () => gatewayHeaders(null), want: { code: "Unauthenticated", message: "AI Gateway key required." } },
    { name: "empty key", headers: () => gatewayHeaders(""), want: { code: "Unauthenticated", message: "AI Gateway key required." } },
    { name: "unknown key", headers: () => gatewayHeaders(`wgk_${"x".repeat(39)}`), want: { code: "Unauthenticated", message: "AI Gateway key invalid." } },
    { name: "the key's private suffix alone", headers: () => gatewayHeaders(gw.key.slice(11)), want: { code: "Unauthenticated", message: "AI Gateway key invalid." } },
    { name: "unknown key and a bad version: the key is checked first", headers: () => gatewayHeaders("nope", "999.0"), want: { code: "Unauthenticated", message: "AI Gateway key invalid." } },
    { name: "incompatible version 999.0", headers: () => gatewayHeaders(gw.key, "999.0"), want: { code: "FailedPrecondition", message: /client "999\.0", server 1\.0/ } },
    { name: "missing version", headers: () => gatewayHeaders(gw.key, null), want: { code: "FailedPrecondition", message: /client "", server 1\.0/ } },
    { name: "newer minor 1.1 on a 1.0 server", headers: () => gatewayHeaders(gw.key, "1.1"), want: { code: "FailedPrecondition", message: /client "1\.1", server 1\.0/ } },
    { name: "unparsable version", headers: () => gatewayHeaders(gw.key, "v1"), want: { code: "FailedPrecondition", message: /client "v1", server 1\.0/ } },
    { name: "valid key and version", headers: () => gatewayHeaders(gw.key, "1.0"), want: { code: "OK", message: "" } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const got = await failure(h2.client(MCPConfigurator).getMCPServerConfigs({}, { headers: c.headers() }));
      assert.equal(got.code, c.want.code);
      if (c.want.message instanceof RegExp) assert.match(got.message, c.want.message);
      else assert.equal(got.message, c.want.message);
    });
  }

  // Property (SECURITY): no log line carries a presented key; refusals log the prefix only.
  it("never logs the key", () => {
    assert.ok(lines.length > 0);
    for (const line of lines) assert.ok(!line.includes(gw.key), `key leaked in ${line}`);
    assert.ok(lines.some((l) => l.includes(`"gateway_key_prefix":"${gw.prefix}"`)));
  });
});

describe("gateway key lookup failure", () => {
  // Property: a lookup the database cannot answer is Unavailable (not a refused key), cause logged only.
  it("answers Unavailable when the database cannot be reached", async () => {
    const db = unreachableDatabase();
    const { logger, lines } = capturingLogger();
    const server = await serveRpc(db, "1.0", logger);
    const h2 = createTestH2Transport(server.url);
    try {
      const got = await failure(h2.client(MCPConfigurator).getMCPServerConfigs({}, { headers: gatewayHeaders(`wgk_${"y".repeat(39)}`) }));
      assert.deepEqual(got, { code: "Unavailable", message: DATABASE_UNAVAILABLE_MESSAGE });
      assert.ok(lines.some((l) => l.includes("ECONNREFUSED")), "cause logged");
      assert.ok(!lines.some((l) => l.includes('"gateway key refused"')), "nothing was refused");
    } finally {
      h2.close();
      await server.close();
      await db.destroy();
    }
  });
});

describe("last_used_at", () => {
  const clock = new FakeClock();
  let cp: ControlPlane;
  let h2: TestH2Transport;
  before(async () => {
    cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger: silent, clock });
    await cp.start();
    h2 = createTestH2Transport(cp.url);
  });
  after(async () => {
    h2?.close();
    await cp?.shutdown();
  });

  const lastUsed = async (id: string) => (await t.db.selectFrom("ai_gateway_keys").select("last_used_at").where("id", "=", id).executeTakeFirstOrThrow()).last_used_at;
  async function until<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const v = await read();
      if (done(v) || Date.now() > deadline) return v;
      await new Promise((r) => setImmediate(r));
    }
  }

  // Property: written after the first RPC, not again within a minute, again after it.
  it("is written at most once a minute per key", async () => {
    const gw = await insertGatewayKey(t.db);
    const client = h2.client(MCPConfigurator);
    const call = () => client.getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) });
    assert.equal(await lastUsed(gw.id), null);
    const t0 = clock.now();
    await call();
    assert.deepEqual(await until(() => lastUsed(gw.id), (v) => v !== null), t0);
    clock.advance(30_000);
    await call();
    clock.advance(31_000);
    const t2 = clock.now();
    await call();
    // Had the call at +30 s written, the value would now be t0 + 30 s.
    assert.deepEqual(await until(() => lastUsed(gw.id), (v) => v?.getTime() !== t0.getTime()), t2);
  });
});

describe("last_used_at written recently elsewhere", () => {
  // Property: a replica (or a restarted control plane) that finds the column written by another
  // less than a minute ago looks again a quarter-minute later, not a whole minute: the column
  // still advances within 90 s of its last write while a replica holds the key.
  it("is written again within 90 s of the last write, not two minutes", async () => {
    const clock = new FakeClock();
    const usage = new GatewayKeyUsageTracker({ db: t.db, logger: silent, clock });
    const gw = await insertGatewayKey(t.db);
    const key = { id: gw.id, name: "gw", prefix: gw.key.slice(0, 11), allowDelegation: false };
    const lastUsed = async () => (await t.db.selectFrom("ai_gateway_keys").select("last_used_at").where("id", "=", gw.id).executeTakeFirstOrThrow()).last_used_at?.getTime();
    // Another replica wrote it 50 s ago; this one's watch opens now and ticks every 30 s.
    const elsewhere = clock.now().getTime() - 50_000;
    await t.db.updateTable("ai_gateway_keys").set({ last_used_at: new Date(elsewhere) }).where("id", "=", gw.id).execute();
    try {
      const writes: number[] = [];
      for (let tick = 0; tick <= 4; tick++) {
        usage.recordUse(key);
        await usage.flush();
        writes.push((await lastUsed())! - elsewhere);
        clock.advance(30_000);
      }
      // Not at +50 s (too recent), written at +80 s (without the recheck not before +110 s),
      // then once a minute again.
      assert.deepEqual(writes, [0, 80_000, 80_000, 140_000, 140_000]);
    } finally {
      await usage.close();
    }
  });
});

describe("key usage write failures", () => {
  // Property: failed writes are logged and retried with exponential backoff, not per RPC.
  it("backs off", async () => {
    const db = unreachableDatabase();
    const clock = new FakeClock();
    const { logger, lines } = capturingLogger();
    const usage = new GatewayKeyUsageTracker({ db, logger, clock, initialBackoffMs: 1_000 });
    const key = { id: "00000000-0000-0000-0000-00000000000a", name: "gw", prefix: "wgk_abcdefg", allowDelegation: false };
    const failures = () => lines.filter((l) => l.includes("record gateway key use failed")).map((l) => JSON.parse(l) as { failures: number; retry_in_ms: number });
    const steps = [
      { advanceMs: 0, want: [1, 1_000] },
      { advanceMs: 500, want: [1, 1_000] },
      { advanceMs: 500, want: [2, 2_000] },
      { advanceMs: 1_500, want: [2, 2_000] },
      { advanceMs: 500, want: [3, 4_000] },
    ];
    try {
      for (const step of steps) {
        clock.advance(step.advanceMs);
        usage.recordUse(key);
        await usage.flush();
        const last = failures().at(-1);
        assert.deepEqual([failures().length, last?.retry_in_ms], step.want);
      }
      assert.ok(failures().every((f) => f.failures >= 1));
    } finally {
      await usage.close();
      await db.destroy();
    }
  });
});

describe("deleted keys", () => {
  let a: ControlPlane;
  let b: ControlPlane;
  let h2a: TestH2Transport;
  let h2b: TestH2Transport;
  before(async () => {
    a = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger: silent });
    b = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger: silent });
    await Promise.all([a.start(), b.start()]);
    h2a = createTestH2Transport(a.url);
    h2b = createTestH2Transport(b.url);
  });
  after(async () => {
    h2a?.close();
    h2b?.close();
    await Promise.all([a?.shutdown(), b?.shutdown()]);
  });

  // Property: no cache outlives the row on this control plane.
  it("fail the very next RPC", async () => {
    const gw = await insertGatewayKey(t.db);
    const client = h2a.client(MCPConfigurator);
    assert.equal((await failure(client.getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) }))).code, "OK");
    await a.db.deleteFrom("ai_gateway_keys").where("id", "=", gw.id).execute();
    assert.deepEqual(await failure(client.getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) })), { code: "Unauthenticated", message: "AI Gateway key invalid." });
  });

  // Property: a key deleted through one replica fails on another within 5 s.
  it("fail on another control plane sharing the database within 5 s", async () => {
    const gw = await insertGatewayKey(t.db);
    const client = h2b.client(MCPConfigurator);
    assert.equal((await failure(client.getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) }))).code, "OK");
    await a.db.deleteFrom("ai_gateway_keys").where("id", "=", gw.id).execute();
    const deadline = Date.now() + 5_000;
    let got = await failure(client.getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) }));
    while (got.code === "OK" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      got = await failure(client.getMCPServerConfigs({}, { headers: gatewayHeaders(gw.key) }));
    }
    assert.deepEqual(got, { code: "Unauthenticated", message: "AI Gateway key invalid." });
  });
});
