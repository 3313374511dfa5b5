// The control plane's pool when PostgreSQL goes away (restart, failover, pg_terminate_backend)
// or cannot be reached: the daemon survives a connection dying while a transaction holds it,
// the pool serves again with a fresh connection, and every such failure is recognised as
// "database unavailable" (answered 503 / Unavailable, not 500 / Internal), including a server
// that accepts connections but never answers.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import pino from "pino";
import { captureLogger, createTestDatabase, type TestDatabase } from "../testing/index.js";
import { createKysely, openDatabase } from "./database.js";
import { freeLoopbackPort } from "./embedded-postgres.js";
import { Code } from "@connectrpc/connect";
import { GatewayKeyLookupError } from "../errors.js";
import { toConnectError } from "../rpc/connect-errors.js";
import { isDatabaseUnavailableError, isPoolExhaustedError } from "./postgres-error.js";

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

describe("database connection loss", () => {
  // The crash this pins: pg-pool listens for a client's errors only while it is idle, so a
  // FATAL arriving between two statements of a transaction was an unhandled 'error' event.
  it("survives the server ending a connection a transaction holds between two statements, and serves again", async () => {
    const { logger, messages } = captureLogger("info");
    const db = createKysely(t.url, 2, logger);
    try {
      let failure: unknown;
      await db
        .transaction()
        .execute(async (trx) => {
          const pid = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx)).rows[0]!.pid;
          await sql`SELECT pg_terminate_backend(${pid})`.execute(t.db);
          // The FATAL arrives while no statement runs on the connection.
          await new Promise((r) => setTimeout(r, 300));
          await sql`SELECT 1`.execute(trx);
        })
        .catch((err: unknown) => (failure = err));
      assert.ok(failure instanceof Error, "the transaction fails");
      assert.equal(isDatabaseUnavailableError(failure), true, String(failure));
      assert.ok(messages().includes("database connection lost"), messages().join(", "));
      const again = await sql<{ n: number }>`SELECT 41 + 1 AS n`.execute(db);
      assert.equal(again.rows[0]!.n, 42);
    } finally {
      await db.destroy();
    }
  });

  it("survives idle connections being terminated, and serves again", async () => {
    const db = createKysely(t.url, 3);
    try {
      await Promise.all([1, 2, 3].map(() => sql`SELECT pg_sleep(0.05)`.execute(db)));
      await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`.execute(t.db);
      await new Promise((r) => setTimeout(r, 300));
      // The dead idle clients were discarded; a query may still meet one that had not heard yet.
      let answered = false;
      for (let i = 0; i < 5 && !answered; i++) answered = await sql`SELECT 1`.execute(db).then(() => true, () => false);
      assert.equal(answered, true);
    } finally {
      await db.destroy();
    }
  });

  it("classifies a refused connection as unavailable and a refused statement as not", async () => {
    const closedPort = await freeLoopbackPort();
    const nowhere = createKysely(`postgres://postgres@127.0.0.1:${closedPort}/postgres`, 1);
    try {
      const refused = await sql`SELECT 1`.execute(nowhere).then(() => undefined, (err: unknown) => err);
      assert.equal(isDatabaseUnavailableError(refused), true, String(refused));
    } finally {
      await nowhere.destroy();
    }
    const syntax = await sql`SELEC 1`.execute(t.db).then(() => undefined, (err: unknown) => err);
    assert.ok(syntax instanceof Error);
    assert.equal(isDatabaseUnavailableError(syntax), false);
    assert.equal(isDatabaseUnavailableError(new Error("wrapped", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) })), true);
    assert.equal(isDatabaseUnavailableError("Connection terminated"), false);
  });

  it("classifies a database closed to new connections, or that no longer exists, as unavailable", async () => {
    const closed = await createTestDatabase();
    const db = createKysely(closed.url, 1);
    try {
      await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = ${closed.name} AND pid <> pg_backend_pid()`.execute(t.db);
      await sql.raw(`ALTER DATABASE "${closed.name}" ALLOW_CONNECTIONS false`).execute(t.db);
      const refused = await sql`SELECT 1`.execute(db).then(() => undefined, (err: unknown) => err);
      assert.equal((refused as { code?: string }).code, "55000", String(refused));
      assert.equal(isDatabaseUnavailableError(refused), true, String(refused));
      assert.equal(toConnectError(refused, pino({ level: "silent" })).code, Code.Unavailable);
      await sql.raw(`ALTER DATABASE "${closed.name}" ALLOW_CONNECTIONS true`).execute(t.db);
    } finally {
      await db.destroy();
      await closed.drop();
    }
    const gone = createKysely(t.url.replace(/\/[^/?]+(\?|$)/, "/weir_no_such_database$1"), 1);
    try {
      const missing = await sql`SELECT 1`.execute(gone).then(() => undefined, (err: unknown) => err);
      assert.equal((missing as { code?: string }).code, "3D000", String(missing));
      assert.equal(isDatabaseUnavailableError(missing), true);
    } finally {
      await gone.destroy();
    }
  });

  // Property: a typo in the URL is not an outage to wait out at start-up.
  it("fails start-up at once for a database that does not exist, however long it may wait for an outage", async () => {
    const started = Date.now();
    const err = await openDatabase({
      url: t.url.replace(/\/[^/?]+(\?|$)/, "/weir_no_such_database$1"),
      logger: pino({ level: "silent" }),
      waitForServerMs: 60_000,
      migrate: false,
    }).then(() => undefined, (e: unknown) => e);
    assert.equal((err as { code?: string }).code, "3D000", String(err));
    assert.ok(Date.now() - started < 10_000, "it waited");
  });

  // Property: a query that waited too long for a free pooled connection is overload, not an
  // outage (answered "busy"; gateways must not all turn not-ready).
  it("tells a pool with no free connection from an unreachable database", { timeout: 30_000 }, async () => {
    const db = createKysely(t.url, 1);
    try {
      let release!: () => void;
      const held = db.connection().execute(() => new Promise<void>((r) => (release = r)));
      await new Promise((r) => setTimeout(r, 100));
      const err = await sql`SELECT 1`.execute(db).then(() => undefined, (e: unknown) => e);
      release();
      await held;
      assert.equal(isPoolExhaustedError(err), true, String(err));
      assert.equal(isDatabaseUnavailableError(err), false);
      // The first query of every RPC is the gateway-key lookup, whose error wraps the driver's.
      const wrapped = toConnectError(new GatewayKeyLookupError({ cause: err }), pino({ level: "silent" }));
      assert.deepEqual([Code[wrapped.code], wrapped.rawMessage], ["ResourceExhausted", "the control plane is busy"]);
    } finally {
      await db.destroy();
    }
  });

  it("gives up on a server that accepts connections but never answers", { timeout: 30_000 }, async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const port = (silent.address() as { port: number }).port;
    const db = createKysely(`postgres://postgres@127.0.0.1:${port}/postgres`, 1);
    try {
      // Without a connect timeout this never settles (the test's own timeout fails it).
      const err = await sql`SELECT 1`.execute(db).then(() => undefined, (e: unknown) => e);
      assert.equal(isDatabaseUnavailableError(err), true, String(err));
      assert.match(String((err as Error).message), /timeout/);
    } finally {
      await db.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
