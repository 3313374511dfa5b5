// `weir users create --bootstrap` on a fresh database, as an operator runs it: it creates the first
// owner, and refuses an explicit --role other than owner (it used to create an owner anyway, while
// the command line asked for a member) before touching the database, and a bad username or
// e-mail address with the field and the reason, as the admin API answers them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { runWeir } from "./stack.js";

let database: TestDatabase;
before(async () => {
  database = await createTestDatabase();
});
after(async () => {
  await database?.drop();
});

async function weir(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const proc = runWeir(["users", "create", ...args, "--database-url", database.url], { WEIR_DIR: "/nonexistent", ...env });
  const { code } = await proc.exited;
  return { code, out: proc.output() };
}

const users = () => database.db.selectFrom("users").select(["username", "role"]).where("is_system", "=", false).execute();

describe("weir users create --bootstrap", () => {
  it("refuses --role member, on the command line or as WEIR_ROLE, and creates no one", async () => {
    const want = "weir: --bootstrap creates the first owner, not a member: leave out --role member, and create members with the owner's API key once it exists\n";
    assert.deepEqual(await weir(["y", "--role", "member", "--bootstrap"]), { code: 1, out: want });
    assert.deepEqual(await weir(["y", "--bootstrap"], { WEIR_ROLE: "member" }), { code: 1, out: want });
    assert.deepEqual(await users(), []);
  });

  it("refuses --database-url or --data-dir without --bootstrap instead of ignoring them", async () => {
    assert.deepEqual(await weir(["y"]), { code: 1, out: "weir: --database-url is only used with --bootstrap\n" });
    const dataDir = runWeir(["users", "create", "y", "--data-dir", "/nonexistent/pg"], { WEIR_DIR: "/nonexistent" });
    assert.deepEqual(await dataDir.exited, { code: 1, signal: null });
    assert.equal(dataDir.output(), "weir: --data-dir is only used with --bootstrap\n");
    assert.deepEqual(await users(), []);
  });

  it("says which field is wrong and why, as the admin API does, and creates no one", async () => {
    assert.deepEqual(await weir(["x", "--email", "bad", "--bootstrap"]), { code: 1, out: "weir: Validation failed — email: Must be an email address.\n" });
    const badName = await weir(["bad name", "--bootstrap"]);
    assert.equal(badName.code, 1);
    assert.match(badName.out, /^weir: Invalid username\. — .+\n$/);
    assert.deepEqual(await users(), []);
  });

  it("creates an owner with --bootstrap alone", async () => {
    const { code, out } = await weir(["admin", "--bootstrap"]);
    assert.equal(code, 0, out);
    assert.match(out, /^Created owner admin \([0-9a-f-]{36}\)\n {2}API key: [0-9A-Za-z]{10}-[0-9A-Za-z]{22}\n/);
    assert.deepEqual(await users(), [{ username: "admin", role: "owner" }]);
  });

  it("takes --role owner with --bootstrap (then refused here only because an owner exists)", async () => {
    const { code, out } = await weir(["admin2", "--role", "owner", "--bootstrap"]);
    assert.equal(code, 1, out);
    assert.match(out, /^weir: an owner already exists; create further users through the admin API/);
  });
});
