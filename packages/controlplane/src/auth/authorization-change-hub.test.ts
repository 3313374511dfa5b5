// Authorization change notifications on real Postgres (API 1.1): the triggers notify exactly
// the changes an IsAuthorized answer depends on (ids only), every replica's hub hears every
// change, a subscription starts with a reset, a deleted gateway key ends only its own streams,
// a lost LISTEN connection is re-established and answered with a reset (and a re-check of the
// subscribers' gateway keys), and a LISTEN that stays down ends the streams (Unavailable).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import pino from "pino";
import { sql } from "kysely";
import { AUTHORIZATION_CHANGES_CHANNEL, AuthorizationChangeHub, type AuthorizationChange, type AuthorizationChangeSubscription } from "../index.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { insertApiKey, insertGatewayKey, insertUser } from "../testing/rpc-fixtures.js";

const logger = pino({ level: "silent" });

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

async function until<T>(what: string, read: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Reads a subscription in the background into `changes`; `ended` holds how it ended. */
function collect(sub: AuthorizationChangeSubscription): { changes: AuthorizationChange[]; ended: { error: unknown } | undefined } {
  const out: { changes: AuthorizationChange[]; ended: { error: unknown } | undefined } = { changes: [], ended: undefined };
  (async () => {
    try {
      for await (const change of sub) out.changes.push(change);
      out.ended = { error: undefined };
    } catch (error) {
      out.ended = { error };
    }
  })();
  return out;
}

describe("authorization change triggers", () => {
  let listener: pg.Client;
  const payloads: unknown[] = [];
  before(async () => {
    listener = new pg.Client({ connectionString: t.url });
    await listener.connect();
    listener.on("notification", (m) => payloads.push(JSON.parse(m.payload ?? "null")));
    await listener.query(`LISTEN ${AUTHORIZATION_CHANGES_CHANNEL}`);
  });
  after(async () => {
    await listener?.end();
  });

  /** Runs `change`, then a marker update, and returns the payloads in between. */
  async function notified(change: () => Promise<unknown>): Promise<unknown[]> {
    payloads.length = 0;
    await change();
    const marker = await insertUser(t.db);
    await t.db.updateTable("users").set({ role: "owner" }).where("id", "=", marker.id).execute();
    const seen = await until("the marker", () => {
      const i = payloads.findIndex((p) => (p as { id?: string }).id === marker.id);
      return i >= 0 ? payloads.slice(0, i) : undefined;
    });
    return seen;
  }

  const cases: { name: string; change: () => Promise<unknown>; want: (ids: Record<string, string>) => unknown[] }[] = [];
  let ids: Record<string, string> = {};
  before(async () => {
    const user = await insertUser(t.db);
    const key = await insertApiKey(t.db, user.id);
    const doomedKey = await insertApiKey(t.db, user.id);
    const gw = await insertGatewayKey(t.db);
    ids = { user: user.id, key: key.id, doomedKey: doomedKey.id, gw: gw.id };
  });
  cases.push(
    { name: "an API key's expiry changes", change: () => t.db.updateTable("api_keys").set({ expires_at: new Date() }).where("id", "=", ids.key!).execute(), want: (i) => [{ kind: "api_key", op: "update", id: i.key }] },
    { name: "an API key is deleted", change: () => t.db.deleteFrom("api_keys").where("id", "=", ids.doomedKey!).execute(), want: (i) => [{ kind: "api_key", op: "delete", id: i.doomedKey }] },
    { name: "a user is suspended", change: () => t.db.updateTable("users").set({ status: "suspended" }).where("id", "=", ids.user!).execute(), want: (i) => [{ kind: "user", op: "update", id: i.user }] },
    { name: "a user's role changes", change: () => t.db.updateTable("users").set({ role: "owner" }).where("id", "=", ids.user!).execute(), want: (i) => [{ kind: "user", op: "update", id: i.user }] },
    { name: "a user is soft-deleted", change: () => t.db.updateTable("users").set({ deleted: true }).where("id", "=", ids.user!).execute(), want: (i) => [{ kind: "user", op: "update", id: i.user }] },
    { name: "only a user's updated_at changes", change: () => t.db.updateTable("users").set({ updated_at: new Date() }).where("id", "=", ids.user!).execute(), want: () => [] },
    { name: "a gateway key is used (last_used_at)", change: () => t.db.updateTable("ai_gateway_keys").set({ last_used_at: new Date() }).where("id", "=", ids.gw!).execute(), want: () => [] },
    { name: "a gateway key's delegation changes", change: () => t.db.updateTable("ai_gateway_keys").set({ allow_delegation: true }).where("id", "=", ids.gw!).execute(), want: (i) => [{ kind: "gateway_key", op: "update", id: i.gw }] },
    { name: "a gateway key is deleted", change: () => t.db.deleteFrom("ai_gateway_keys").where("id", "=", ids.gw!).execute(), want: (i) => [{ kind: "gateway_key", op: "delete", id: i.gw }] },
    {
      name: "a rolled-back change",
      change: () =>
        t.db
          .transaction()
          .execute(async (trx) => {
            await trx.updateTable("users").set({ status: "active" }).where("id", "=", ids.user!).execute();
            throw new Error("roll back");
          })
          .catch(() => undefined),
      want: () => [],
    },
    {
      name: "a user is hard-deleted (with their keys)",
      change: () => t.db.deleteFrom("users").where("id", "=", ids.user!).execute(),
      want: (i) => [
        { kind: "user", op: "delete", id: i.user },
        { kind: "api_key", op: "delete", id: i.key },
      ],
    },
  );
  for (const c of cases) {
    it(`notifies when ${c.name}`, async () => {
      assert.deepEqual(await notified(c.change), c.want(ids));
    });
  }
});

describe("AuthorizationChangeHub", () => {
  const hubs: AuthorizationChangeHub[] = [];
  async function hub(over: { listenGraceMs?: number; reconnectBackoffMs?: number } = {}): Promise<AuthorizationChangeHub> {
    const h = new AuthorizationChangeHub({ url: t.url, db: t.db, logger, ...over });
    hubs.push(h);
    await h.start();
    return h;
  }
  after(async () => {
    await Promise.all(hubs.map((h) => h.close()));
  });

  // Property: a change made anywhere reaches the subscribers of every replica, after a reset.
  it("starts every subscription with a reset and fans changes out across replicas", async () => {
    const [a, b] = [await hub(), await hub()];
    const subA = collect(a.subscribe(undefined));
    const subB = collect(b.subscribe(undefined));
    const user = await insertUser(t.db);
    const key = await insertApiKey(t.db, user.id);
    await t.db.deleteFrom("api_keys").where("id", "=", key.id).execute();
    await t.db.updateTable("users").set({ status: "suspended" }).where("id", "=", user.id).execute();
    const want: AuthorizationChange[] = [{ kind: "reset" }, { kind: "api_key", apiKeyId: key.id }, { kind: "user", userId: user.id }];
    for (const sub of [subA, subB]) await until("both changes", () => (sub.changes.length >= 3 ? true : undefined));
    assert.deepEqual(subA.changes, want);
    assert.deepEqual(subB.changes, want);
  });

  // Property: deleting a gateway key ends the streams opened with it (Unauthenticated) and no other.
  it("ends only the deleted gateway key's streams; tells a changed key's streams", async () => {
    const h = await hub();
    const [doomed, changed, other] = [await insertGatewayKey(t.db), await insertGatewayKey(t.db), await insertGatewayKey(t.db)];
    const subDoomed = collect(h.subscribe(doomed.id));
    const subChanged = collect(h.subscribe(changed.id));
    const subOther = collect(h.subscribe(other.id));
    await t.db.updateTable("ai_gateway_keys").set({ allow_delegation: true }).where("id", "=", changed.id).execute();
    await t.db.deleteFrom("ai_gateway_keys").where("id", "=", doomed.id).execute();
    const ended = await until("the doomed stream to end", () => subDoomed.ended);
    assert.equal((ended.error as Error).name, "GatewayKeyRefusedError");
    await until("the change", () => (subChanged.changes.length >= 2 ? true : undefined));
    assert.deepEqual(subChanged.changes, [{ kind: "reset" }, { kind: "gateway_key", gatewayKeyId: changed.id }]);
    assert.deepEqual(subOther.changes, [{ kind: "reset" }]);
    assert.equal(subOther.ended, undefined);
    assert.equal(subChanged.ended, undefined);
  });

  // Property: notifications missed while the LISTEN connection was down are made up for with a
  // reset, and a gateway key deleted meanwhile still ends its streams.
  it("reconnects a killed LISTEN connection, then resets subscribers and re-checks their keys", async () => {
    const h = await hub({ listenGraceMs: 10_000, reconnectBackoffMs: 300 });
    const [alive, doomed] = [await insertGatewayKey(t.db), await insertGatewayKey(t.db)];
    const subAlive = collect(h.subscribe(alive.id));
    const subDoomed = collect(h.subscribe(doomed.id));
    await until("the first reset", () => (subAlive.changes.length === 1 ? true : undefined));
    const killed = await sql<{ n: number }>`
      SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`.execute(t.db);
    assert.ok(killed.rows[0]!.n >= 1);
    await until("the listener to notice", () => (h.listening ? undefined : true));
    // Deleted while nobody listens: the notification is lost.
    await t.db.deleteFrom("ai_gateway_keys").where("id", "=", doomed.id).execute();
    await until("the reconnect", () => (h.listening ? true : undefined));
    await until("the reset", () => (subAlive.changes.length === 2 ? true : undefined));
    assert.deepEqual(subAlive.changes, [{ kind: "reset" }, { kind: "reset" }]);
    const ended = await until("the doomed stream to end", () => subDoomed.ended);
    assert.equal((ended.error as Error).name, "GatewayKeyRefusedError");
    assert.equal(subAlive.ended, undefined);
  });

  // Property: no LISTEN, no streams — gateways must stop caching when changes cannot be heard.
  it("ends every stream when the LISTEN stays down beyond the grace period, and refuses new ones", async () => {
    const h = await hub({ listenGraceMs: 50, reconnectBackoffMs: 60_000 });
    const sub = collect(h.subscribe(undefined));
    h.dropListenConnection();
    assert.throws(() => h.subscribe(undefined), { name: "AuthorizationChangesUnavailableError" });
    const ended = await until("the stream to end", () => sub.ended);
    assert.equal((ended.error as Error).name, "AuthorizationChangesUnavailableError");
    assert.equal(h.subscriberCount, 0);
  });

  it("collapses changes a slow subscriber has not read into one reset", async () => {
    const h = new AuthorizationChangeHub({ url: t.url, db: t.db, logger, maxPendingPerSubscriber: 3 });
    hubs.push(h);
    await h.start();
    const slow = h.subscribe(undefined);
    const reader = collect(h.subscribe(undefined));
    const user = await insertUser(t.db);
    // One change at a time, each read by the reader before the next (the reader is held to the
    // same bound: on a busy machine it fell behind and got a reset too). Once it has seen all
    // five, the slow subscriber has been handed them too.
    const roles = ["owner", "member", "owner", "member", "owner"] as const;
    for (const [n, role] of roles.entries()) {
      await t.db.updateTable("users").set({ role }).where("id", "=", user.id).execute();
      await until(`change ${n + 1}`, () => (reader.changes.length === n + 2 ? true : undefined));
    }
    assert.deepEqual(reader.changes, [{ kind: "reset" }, ...roles.map(() => ({ kind: "user", userId: user.id }))]);
    // Five changes on top of the first reset, at most three held: what overflowed became a reset.
    const iterator = slow[Symbol.asyncIterator]();
    const read: AuthorizationChange[] = [];
    for (let i = 0; i < 3; i++) read.push((await iterator.next()).value as AuthorizationChange);
    assert.deepEqual(read, [{ kind: "reset" }, { kind: "user", userId: user.id }, { kind: "user", userId: user.id }]);
    slow.close();
    assert.equal((await iterator.next()).done, true);
  });

  it("closes every stream on shutdown", async () => {
    const h = await hub();
    const sub = collect(h.subscribe(undefined));
    await h.close();
    const ended = await until("the stream to end", () => sub.ended);
    assert.equal((ended.error as Error).name, "AuthorizationChangesUnavailableError");
  });
});
