// `weir migrate` as an operator runs it: applies what is pending, and `--down` reverts the latest
// migration only once confirmed — a down step drops data (the first one's drops every table), and
// it used to run at once, while control planes were serving — and never while a control plane
// runs on the database, even one whose lock connection was cut and came back. A Ctrl-C while it
// starts an embedded PostgreSQL stops that PostgreSQL.
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { createTestDatabase, runningLockHolders, type TestDatabase } from "@weir/controlplane/testing";
import { latestAppliedMigration } from "@weir/controlplane";
import { eventually, freePort, processesNaming, runWeir, type WeirProcess } from "./stack.js";

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  await database?.drop();
});

async function weir(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const proc = runWeir(["migrate", ...args, "--database-url", database.url], { WEIR_DIR: "/nonexistent", ...env });
  const { code } = await proc.exited;
  return { code, out: proc.output() };
}

describe("weir migrate", () => {
  it("reverts the latest migration only with --yes (no terminal to ask on), then applies it again", async () => {
    const latest = await latestAppliedMigration(database.db);
    assert.ok(latest !== undefined);
    assert.deepEqual(await weir([]), { code: 0, out: "database is up to date\n" });

    const refused = await weir(["--down"]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.out,
      `weir: Revert migration ${latest}? Its down step drops what it created, data included (the first migration's drops every table) — refusing without --yes (no terminal to confirm on)\n`,
    );
    assert.equal(await latestAppliedMigration(database.db), latest, "nothing reverted");

    assert.deepEqual(await weir(["--down"], { WEIR_YES: "1" }), { code: 0, out: `reverted ${latest}\n` });
    assert.notEqual(await latestAppliedMigration(database.db), latest);
    assert.deepEqual(await weir([]), { code: 0, out: `applied ${latest}\n` });
    assert.equal(await latestAppliedMigration(database.db), latest);
  });
});

describe("weir migrate --down with a control plane running", () => {
  let cp: WeirProcess | undefined;
  after(async () => {
    if (cp && cp.child.exitCode === null && cp.child.signalCode === null) {
      cp.child.kill("SIGKILL");
      await cp.exited;
    }
  });

  const REFUSAL = "weir: a control plane is running on this database; stop every control plane before reverting a migration\n";

  /** The public tables, to show a refused revert touched nothing. */
  async function tables(): Promise<string[]> {
    const { rows } = await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`.execute(database.db);
    return rows.map((r) => r.name);
  }

  /** The pid of the one session holding the running lock, shared and granted (a control plane's). */
  async function sharedHolder(): Promise<number | undefined> {
    const holders = await runningLockHolders(database.db);
    return holders.length === 1 && holders[0]!.mode === "ShareLock" && holders[0]!.granted ? holders[0]!.pid : undefined;
  }

  // Property: --down is refused at once (exit 1, before asking, nothing reverted) while a control
  // plane runs, also after the control plane's lock connection was killed and came back; once the
  // control plane has stopped, it reverts.
  it("refuses while a control plane runs (also after its lock connection was killed), reverts once it stopped", async () => {
    const latest = await latestAppliedMigration(database.db);
    assert.ok(latest !== undefined);
    const before = await tables();
    assert.ok(before.includes("aibridge_interceptions"));

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = runWeir(["control-plane", "--listen", `127.0.0.1:${port}`, "--log-level", "warn", "--record-retention", "0"], { WEIR_DATABASE_URL: database.url });
    cp = proc;
    await eventually("the control plane to be ready", async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited with ${proc.child.exitCode}: ${proc.output()}`);
      return (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) || undefined;
    }, 30_000);
    const firstHolder = await eventually("the control plane to hold the lock", sharedHolder);

    assert.deepEqual(await weir(["--down", "-y"]), { code: 1, out: REFUSAL });
    // Without --yes (and no terminal) the refusal still comes first: nothing to confirm.
    assert.deepEqual(await weir(["--down"]), { code: 1, out: REFUSAL });
    assert.equal(await latestAppliedMigration(database.db), latest, "nothing reverted");
    assert.deepEqual(await tables(), before);

    // A lock connection that dies (failover, pg_terminate_backend) loses its lock with it.
    const killed = await sql<{ ok: boolean }>`SELECT pg_terminate_backend(${firstHolder}) AS ok`.execute(database.db);
    assert.equal(killed.rows[0]!.ok, true);
    const secondHolder = await eventually("the control plane to take the lock again", async () => {
      const pid = await sharedHolder();
      return pid !== undefined && pid !== firstHolder ? pid : undefined;
    });
    assert.notEqual(secondHolder, firstHolder);
    assert.deepEqual(await weir(["--down", "-y"]), { code: 1, out: REFUSAL });
    assert.equal(await latestAppliedMigration(database.db), latest, "nothing reverted after the reconnect");
    assert.deepEqual(await tables(), before);
    assert.equal(proc.child.exitCode, null, `the control plane died: ${proc.output()}`);

    proc.child.kill("SIGTERM");
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
    assert.deepEqual(await runningLockHolders(database.db), [], "released once stopped");
    assert.deepEqual(await weir(["--down", "-y"]), { code: 0, out: `reverted ${latest}\n` });
    assert.notEqual(await latestAppliedMigration(database.db), latest);
    assert.deepEqual(await weir([]), { code: 0, out: `applied ${latest}\n` });
  });
});

describe("weir migrate on an embedded PostgreSQL, interrupted", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "weir-migrate-interrupted-"));
    await chmod(dir, 0o755); // as root, embedded PostgreSQL runs as `postgres` and must reach it
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("stops the PostgreSQL it was starting on Ctrl-C, and says the command did not run", async () => {
    const dataDir = join(dir, "pg");
    // By variable: an argument would name the directory in this command's own command line.
    const proc = runWeir(["migrate"], { WEIR_DATA_DIR: dataDir, WEIR_DIR: "/nonexistent", WEIR_DATABASE_URL: "", DATABASE_URL: "" });
    // The moment initdb (or postgres) runs on the directory: the database is being opened.
    await eventually("PostgreSQL starting on the data directory", async () => ((await processesNaming(dataDir)).length > 0 ? true : undefined), 30_000);
    proc.child.kill("SIGINT");
    assert.deepEqual(await proc.exited, { code: 1, signal: null }, proc.output());
    assert.equal(proc.output(), "weir: interrupted by SIGINT while opening the database: the command did not run\n");
    assert.deepEqual(await processesNaming(dataDir), [], "no PostgreSQL left running on the data directory");
  });
});
