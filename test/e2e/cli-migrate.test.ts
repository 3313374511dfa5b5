// `weir migrate` as an operator runs it: applies what is pending, and `--down` reverts the latest
// migration only once confirmed — a down step drops data (the first one's drops every table), and
// it used to run at once, while control planes were serving.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { latestAppliedMigration } from "@weir/controlplane";
import { runWeir } from "./stack.js";

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
      `weir: Revert migration ${latest}? Its down step drops what it created, data included (the first migration's drops every table); stop the control planes first — refusing without --yes (no terminal to confirm on)\n`,
    );
    assert.equal(await latestAppliedMigration(database.db), latest, "nothing reverted");

    assert.deepEqual(await weir(["--down"], { WEIR_YES: "1" }), { code: 0, out: `reverted ${latest}\n` });
    assert.notEqual(await latestAppliedMigration(database.db), latest);
    assert.deepEqual(await weir([]), { code: 0, out: `applied ${latest}\n` });
    assert.equal(await latestAppliedMigration(database.db), latest);
  });
});
