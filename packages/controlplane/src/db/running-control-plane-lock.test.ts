// migrateDown against the running lock, on real PostgreSQL: it refuses, touching nothing, while a
// control plane's session holds the lock shared (or another revert holds it exclusively); it asks
// only once it holds the lock; it never leaves the lock on the pooled session it used; and a
// control plane starting during a revert waits for it, then migrates up again.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createControlPlane } from "../control-plane.js";
import { captureLogger, createTestDatabase, type TestDatabase } from "../testing/index.js";
import { insertGatewayKey } from "../testing/rpc-fixtures.js";
import { ADVISORY_LOCKS } from "./advisory-locks.js";
import { latestAppliedMigration, migrateDown, migrateToLatest } from "./migrate.js";
import { MIGRATIONS } from "./migrations/index.js";
import { isRevertRefusedError, runningLockHolders } from "./running-control-plane-lock.js";

const [LOCK_CLASS, LOCK_ID] = ADVISORY_LOCKS.controlPlaneRunning;
const LATEST = Object.keys(MIGRATIONS).at(-1)!;

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

/** A session of its own on the test database, as a control plane's LISTEN connection is. */
async function session(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: t.url });
  await client.connect();
  return client;
}

const lockHolders = () => runningLockHolders(t.db);

/**
 * A revert waiting at its prompt (holding the lock) once this resolves; `answer()` replies: "yes"
 * reverts, "no" aborts it ("aborted").
 */
async function revertAtItsPrompt(reply: "yes" | "no"): Promise<{ reverting: Promise<string | undefined>; answer: () => void }> {
  let answer: () => void = () => {};
  let asked: () => void = () => {};
  const askedPromise = new Promise<void>((r) => (asked = r));
  const reverting = migrateDown(t.db, {
    confirm: async () => {
      asked();
      await new Promise<void>((r) => (answer = r));
      if (reply === "no") throw new Error("aborted");
    },
  });
  await askedPromise;
  return { reverting, answer: () => answer() };
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("migrateDown and the running lock", () => {
  // Property: each holder of the lock gets its own refusal, before the prompt, with nothing reverted.
  const refusals = [
    {
      name: "a control plane's session holds it shared",
      take: "SELECT pg_advisory_lock_shared($1, $2)",
      want: { reason: "control_plane_running", message: "a control plane is running on this database; stop every control plane before reverting a migration" },
    },
    {
      name: "another revert holds it exclusively",
      take: "SELECT pg_advisory_lock($1, $2)",
      want: { reason: "revert_running", message: "another migration is being reverted on this database; try again once it has finished" },
    },
  ];
  for (const c of refusals) {
    it(`refuses while ${c.name}, without asking or reverting`, async () => {
      const holder = await session();
      try {
        await holder.query(c.take, [LOCK_CLASS, LOCK_ID]);
        const asked: string[] = [];
        await assert.rejects(
          migrateDown(t.db, { confirm: async (m) => void asked.push(m) }),
          (err: unknown) => isRevertRefusedError(err) && err.reason === c.want.reason && err.message === c.want.message,
        );
        assert.deepEqual(asked, []);
        assert.equal(await latestAppliedMigration(t.db), LATEST);
      } finally {
        await holder.end();
      }
    });
  }

  // Property: the prompt comes only once the lock is held, and a "no" reverts nothing and lets go of it.
  it("asks holding the lock exclusively; an answer that aborts reverts nothing and releases the lock", async () => {
    const seen: unknown[] = [];
    await assert.rejects(
      migrateDown(t.db, {
        confirm: async (m) => {
          seen.push(m, await lockHolders());
          throw new Error("aborted");
        },
      }),
      { message: "aborted" },
    );
    assert.equal(seen[0], LATEST);
    assert.deepEqual((seen[1] as { mode: string; granted: boolean }[]).map(({ mode, granted }) => ({ mode, granted })), [{ mode: "ExclusiveLock", granted: true }]);
    assert.equal(await latestAppliedMigration(t.db), LATEST);
    assert.deepEqual(await lockHolders(), []);
  });

  // Property: a session back in the pool never keeps the lock (it would keep control planes from starting).
  it("reverts when nothing holds the lock, and leaves no lock behind", async () => {
    assert.equal(await migrateDown(t.db), LATEST);
    assert.deepEqual(await lockHolders(), []);
    assert.deepEqual(await migrateToLatest(t.db), [LATEST]);
  });

  // Property: a control plane starting during a revert waits for it (no deadlock with kysely's
  // migration lock), then migrates up again and holds the lock shared on its LISTEN connection.
  it("a control plane starting during a revert waits for it, then migrates up and holds the lock", async () => {
    const { reverting, answer } = await revertAtItsPrompt("yes");
    const log = captureLogger("info");
    const cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger: log.logger, recordRetentionMs: 0 });
    let started = false;
    const starting = cp.start().then(() => void (started = true));
    try {
      await until("the control plane to wait for the lock", async () => (log.messages().includes("a migration is being reverted on this database; waiting for it to finish") ? true : undefined));
      assert.equal(started, false);
      answer();
      assert.equal(await reverting, LATEST);
      await starting;
      const said = log.messages();
      const waited = said.indexOf("a migration is being reverted on this database; waiting for it to finish");
      assert.ok(waited >= 0 && said.indexOf("migration revert finished; going on") > waited, said.join("\n"));
      assert.ok(said.indexOf("database migrated") > waited, "migrated only once the revert was over");
      assert.equal(await latestAppliedMigration(t.db), LATEST, "migrated up again");
      assert.deepEqual((await lockHolders()).map(({ mode, granted }) => ({ mode, granted })), [{ mode: "ShareLock", granted: true }]);
      await assert.rejects(migrateDown(t.db), { name: "RevertRefusedError", message: /^a control plane is running/ });
    } finally {
      answer();
      await starting.catch(() => undefined);
      await cp.shutdown();
    }
    assert.deepEqual(await lockHolders(), [], "released at shutdown");
  });

  // Property: a control plane shut down while it waits for a revert stops at once, without
  // waiting for the revert (whose operator may still be reading the prompt).
  it("a control plane shut down while waiting for a revert stops without waiting for it", async () => {
    const { reverting, answer } = await revertAtItsPrompt("no");
    const log = captureLogger("info");
    const cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger: log.logger, recordRetentionMs: 0 });
    const starting = cp.start();
    try {
      await until("the control plane to wait for the lock", async () => (log.messages().includes("a migration is being reverted on this database; waiting for it to finish") ? true : undefined));
      let timer: NodeJS.Timeout | undefined;
      const tooLong = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("shutdown waited for the revert")), 5_000)));
      await Promise.race([cp.shutdown(), tooLong]).finally(() => clearTimeout(timer));
      await assert.rejects(starting, { message: "control plane shut down while starting" });
      assert.deepEqual((await lockHolders()).map(({ mode, granted }) => ({ mode, granted })), [{ mode: "ExclusiveLock", granted: true }], "nothing left behind to take the lock later");
    } finally {
      answer();
      await assert.rejects(reverting, { message: "aborted" });
    }
    assert.equal(await latestAppliedMigration(t.db), LATEST);
  });

  // Property: a control plane shutting down keeps the lock until its last request is over (its
  // writes must not meet dropped tables), not only until it stops accepting.
  it("a control plane shutting down holds the lock until it has drained", async () => {
    const cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger: captureLogger("silent").logger, recordRetentionMs: 0, drainTimeoutMs: 30_000 });
    await cp.start();
    const { hostname, port } = new URL(cp.url);
    // An RPC whose body never comes: in flight until its socket closes (with a gateway key, or it
    // would be refused before its body is awaited).
    const gw = await insertGatewayKey(t.db);
    const socket = connect(Number(port), hostname);
    socket.on("error", () => undefined);
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(`POST /weir.gateway.v1.Authorizer/IsAuthorized HTTP/1.1\r\nHost: cp\r\nContent-Type: application/proto\r\nX-AI-Governance-Gateway-Key: ${gw.key}\r\nContent-Length: 100\r\n\r\n`);
    // A round trip on another connection: the server (this process) reads those headers first.
    assert.equal((await fetch(`${cp.url}/healthz`)).status, 200);
    const stopping = cp.shutdown();
    try {
      await until("the control plane to stop accepting", async () => ((await fetch(`${cp.url}/healthz`).then(() => false, () => true)) ? true : undefined));
      assert.deepEqual((await lockHolders()).map(({ mode, granted }) => ({ mode, granted })), [{ mode: "ShareLock", granted: true }]);
      await assert.rejects(migrateDown(t.db), { name: "RevertRefusedError" });
    } finally {
      socket.destroy();
      await stopping;
    }
    assert.deepEqual(await lockHolders(), []);
  });
});
