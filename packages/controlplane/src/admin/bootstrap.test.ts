// bootstrapOwner: creates the first owner and a working API key exactly once (also when two
// bootstraps race), refuses while any non-deleted, non-system owner exists, audits both rows.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { createAdminApi } from "./admin-api.js";
import { call, serveAdminApi, type ServedAdminApi } from "./admin-test-harness.js";
import { bootstrapOwner, isOwnerAlreadyExistsError } from "./bootstrap.js";
import { isInvalidRequestError } from "./errors.js";

let t: TestDatabase;
let served: ServedAdminApi;
before(async () => {
  t = await createTestDatabase();
  served = await serveAdminApi(createAdminApi({ db: t.db, logger: pino({ level: "silent" }) }));
});
after(async () => {
  await served?.close();
  await t?.drop();
});

const owners = () => t.db.selectFrom("users").selectAll().where("role", "=", "owner").where("deleted", "=", false).execute();

describe("bootstrapOwner", () => {
  let first: Awaited<ReturnType<typeof bootstrapOwner>>;

  it("creates one owner when two bootstraps race, and refuses the other", async () => {
    const results = await Promise.allSettled([
      bootstrapOwner(t.db, { username: "root-a", email: "a@example.com" }),
      bootstrapOwner(t.db, { username: "root-b" }),
    ]);
    const fulfilled = results.filter((r) => r.status === "fulfilled");
    const rejected = results.filter((r) => r.status === "rejected");
    assert.equal(fulfilled.length, 1);
    assert.equal(rejected.length, 1);
    assert.ok(isOwnerAlreadyExistsError((rejected[0] as PromiseRejectedResult).reason));
    first = (fulfilled[0] as PromiseFulfilledResult<typeof first>).value;
    assert.equal(first.user.role, "owner");
    assert.equal(first.user.status, "active");
    assert.equal((await owners()).length, 1);
  });

  it("returns a key that opens the admin API as that owner", async () => {
    const res = await call(served.baseUrl, "GET", "/api/v2/users", { token: first.key });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.json.map((u: { id: string }) => u.id),
      [first.user.id],
    );
    assert.equal(first.key.split("-")[0], first.apiKeyId);
  });

  it("audits the user and the key with no acting user", async () => {
    const rows = await t.db.selectFrom("audit_logs").selectAll().orderBy("resource_type", "desc").execute();
    assert.deepEqual(
      rows.map((r) => [r.user_id, r.action, r.resource_type, r.resource_id, r.status_code]),
      [
        [null, "create", "user", first.user.id, 201],
        [null, "create", "api_key", first.apiKeyId, 201],
      ],
    );
    assert.ok(!JSON.stringify(rows).includes(first.key.split("-")[1]!));
  });

  const refusals = [
    { name: "the owner exists", prepare: async () => {} },
    { name: "the only owner is suspended", prepare: () => t.db.updateTable("users").set({ status: "suspended" }).where("id", "=", first.user.id).execute() },
  ];
  for (const r of refusals) {
    it(`refuses a second bootstrap when ${r.name}`, async () => {
      await r.prepare();
      await assert.rejects(bootstrapOwner(t.db, { username: "second-root" }), (err) => isOwnerAlreadyExistsError(err));
      assert.equal((await t.db.selectFrom("users").select("id").where("username", "=", "second-root").execute()).length, 0);
    });
  }

  it("bootstraps again once every owner is deleted (recovery), refusing a bad username", async () => {
    await t.db.updateTable("users").set({ deleted: true }).where("id", "=", first.user.id).execute();
    await assert.rejects(bootstrapOwner(t.db, { username: "not valid" }), (err) => isInvalidRequestError(err) && err.message === "Invalid username.");
    await assert.rejects(bootstrapOwner(t.db, { username: "" }), (err) => isInvalidRequestError(err) && err.message === "Validation failed");
    const again = await bootstrapOwner(t.db, { username: "root-again" });
    assert.equal((await call(served.baseUrl, "GET", "/api/v2/users", { token: again.key })).status, 200);
    assert.equal((await call(served.baseUrl, "GET", "/api/v2/users", { token: first.key })).status, 401);
  });
});
