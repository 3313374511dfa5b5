// Gateway keys over HTTP, as the reference's aigatewaykeys_test.go pins them (reference §5, §11
// "Keys"): exact statuses and bodies, no secret in lists, logs or audit rows, audit rows for
// create/delete, collision retries, and the exact 500 messages on database failures.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { createKysely } from "../db/database.js";
import { generateGatewayKey, hashGatewayKey, type GeneratedGatewayKey } from "../keys/gateway-key.js";
import { call, startAdminHarness, type AdminHarness } from "./admin-test-harness.js";

const KEYS = "/api/v2/ai-gateway/keys";
const NAME_RULE = "Must be 64 characters or fewer, lowercase letters, numbers, and non-consecutive hyphens, cannot start or end with a hyphen.";

let h: AdminHarness;
/** Every plaintext key this file saw, to prove none reached a log line. */
const plaintexts: string[] = [];

before(async () => {
  h = await startAdminHarness();
});
after(async () => {
  await h?.close();
});

async function createKey(name: string, extra: Record<string, unknown> = {}) {
  const res = await h.call("POST", KEYS, { body: { name, ...extra } });
  assert.equal(res.status, 201, res.text);
  plaintexts.push(res.json.key);
  return res.json as { id: string; name: string; key: string; key_prefix: string; created_at: string; allow_delegation: boolean };
}

async function auditRows(resourceId: string) {
  return h.t.db.selectFrom("audit_logs").selectAll().where("resource_id", "=", resourceId).orderBy("time").orderBy("status_code").execute();
}

async function keyCount(): Promise<number> {
  const row = await h.t.db.selectFrom("ai_gateway_keys").select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe("gateway keys CRUD", () => {
  // Create returns the key once with its prefix; list shows it without; delete removes it.
  it("creates, lists and deletes a key", async () => {
    const created = await createKey("crud-key");
    assert.deepEqual(Object.keys(created).sort(), ["allow_delegation", "created_at", "id", "key", "key_prefix", "name"]);
    assert.equal(created.name, "crud-key");
    assert.equal(created.allow_delegation, false);
    assert.equal(created.key.length, 43);
    assert.equal(created.key_prefix, created.key.slice(0, 11));
    assert.ok(!Number.isNaN(Date.parse(created.created_at)));
    const stored = await h.t.db.selectFrom("ai_gateway_keys").selectAll().where("id", "=", created.id).executeTakeFirstOrThrow();
    assert.deepEqual(stored.hashed_secret, hashGatewayKey(created.key)); // sha256 of the whole key

    const listed = await h.call("GET", KEYS);
    assert.equal(listed.status, 200);
    assert.equal(listed.headers.get("content-type"), "application/json");
    assert.deepEqual(
      listed.json.find((k: { id: string }) => k.id === created.id),
      { id: created.id, name: "crud-key", key_prefix: created.key_prefix, created_at: created.created_at, allow_delegation: false },
    );

    const deleted = await h.call("DELETE", `${KEYS}/${created.id}`);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, "");
    const after = await h.call("GET", KEYS);
    assert.ok(!after.json.some((k: { id: string }) => k.id === created.id));
  });

  // allow_delegation is an explicit opt-in (DESIGN §5), shown in lists and logged at warn.
  it("creates a key that allows delegation only when asked", async () => {
    const created = await createKey("delegating-key", { allow_delegation: true });
    assert.equal(created.allow_delegation, true);
    const listed = await h.call("GET", KEYS);
    assert.equal(listed.json.find((k: { id: string }) => k.id === created.id).allow_delegation, true);
    assert.ok(h.logs.some((l) => l.includes("gateway key created with delegation allowed") && l.includes(created.id)));
  });

  // ListAIGatewayKeys: created_at ascending; last_used_at only when set.
  it("lists oldest first with last_used_at only when set", async () => {
    const a = await createKey("order-a");
    const b = await createKey("order-b");
    const usedAt = new Date("2026-03-04T05:06:07.000Z");
    await h.t.db.updateTable("ai_gateway_keys").set({ last_used_at: usedAt }).where("id", "=", b.id).execute();
    const listed = (await h.call("GET", KEYS)).json as { id: string; created_at: string; last_used_at?: string }[];
    const times = listed.map((k) => Date.parse(k.created_at));
    assert.deepEqual(times, [...times].sort((x, y) => x - y));
    assert.ok(listed.findIndex((k) => k.id === a.id) < listed.findIndex((k) => k.id === b.id));
    assert.ok(!("last_used_at" in listed.find((k) => k.id === a.id)!));
    assert.equal(listed.find((k) => k.id === b.id)!.last_used_at, usedAt.toISOString());
  });
});

describe("ListResponseDoesNotLeakSecrets", () => {
  it("never carries a key or its hash in any field", async () => {
    const keys = [await createKey("leak-a"), await createKey("leak-b")];
    const listed = await h.call("GET", KEYS);
    assert.equal(listed.status, 200);
    for (const item of listed.json as Record<string, unknown>[]) {
      assert.deepEqual(
        Object.keys(item).filter((k) => !["id", "name", "key_prefix", "created_at", "last_used_at", "allow_delegation"].includes(k)),
        [],
      );
    }
    for (const k of keys) {
      const hash = hashGatewayKey(k.key);
      for (const secret of [k.key, k.key.slice(11), hash.toString("hex"), hash.toString("base64"), hash.toString("base64url")]) {
        assert.ok(!listed.text.includes(secret), "list leaks a secret");
      }
    }
  });
});

describe("CreateValidation", () => {
  before(async () => {
    await createKey("taken-name");
  });
  const required = { message: "Validation failed", validations: [{ field: "name", detail: 'Validation failed for tag "required" with value: ""' }] };
  const invalidName = { message: "Invalid key name.", validations: [{ field: "name", detail: NAME_RULE }] };
  const cases = [
    { name: "empty name", body: { name: "" }, want: required },
    { name: "missing name", body: {}, want: required },
    { name: "name not a string", body: { name: 42 }, want: { message: "Validation failed", validations: [{ field: "name", detail: "Must be a string." }] } },
    { name: "65 characters", body: { name: "a".repeat(65) }, want: invalidName },
    { name: "UPPER-CASE", body: { name: "UPPER-CASE" }, want: invalidName },
    { name: "consecutive hyphens", body: { name: "a--b" }, want: invalidName },
    { name: "duplicate", body: { name: "taken-name" }, want: { message: "Key name must be unique.", detail: "A key with this name already exists." } },
    {
      name: "allow_delegation not a boolean",
      body: { name: "fine", allow_delegation: "yes" },
      want: { message: "Validation failed", validations: [{ field: "allow_delegation", detail: "Must be a boolean." }] },
    },
    { name: "an array body", body: [{ name: "x" }], want: { message: "Request body must be a JSON object." } },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with 400 and writes nothing`, async () => {
      const before = await keyCount();
      const auditBefore = (await h.t.db.selectFrom("audit_logs").select("id").execute()).length;
      const res = await h.call("POST", KEYS, { body: c.body });
      assert.equal(res.status, 400);
      assert.deepEqual(res.json, c.want);
      assert.equal(await keyCount(), before);
      assert.equal((await h.t.db.selectFrom("audit_logs").select("id").execute()).length, auditBefore);
    });
  }
  it("accepts a 64-character name", async () => {
    await createKey("a".repeat(64));
  });
});

describe("DeleteValidation", () => {
  const cases = [
    { name: "bad UUID", id: async () => "not-a-uuid", want: { status: 400, body: { message: "Invalid key ID." } } },
    { name: "existing key", id: async () => (await createKey("to-delete")).id, want: { status: 204, body: undefined } },
    { name: "unknown key", id: async () => randomUUID(), want: { status: 404, body: { message: "Key not found." } } },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.want.status}`, async () => {
      const res = await h.call("DELETE", `${KEYS}/${await c.id()}`);
      assert.equal(res.status, c.want.status);
      assert.deepEqual(res.json, c.want.body);
    });
  }
});

describe("ReturnsForbiddenForNonOwners and unauthenticated callers", () => {
  let existing: string;
  before(async () => {
    existing = (await createKey("owner-only")).id;
  });
  const requests = [
    { method: "POST", path: () => KEYS, body: { name: "member-made" } },
    { method: "GET", path: () => KEYS },
    { method: "DELETE", path: () => `${KEYS}/${existing}` },
  ];
  for (const r of requests) {
    it(`${r.method} as a member → 403`, async () => {
      const res = await h.call(r.method, r.path(), { token: h.member.key, body: r.body });
      assert.equal(res.status, 403);
      assert.deepEqual(res.json, { message: "Forbidden." });
    });
    const unauthenticated: { name: string; headers: () => Record<string, string> }[] = [
      { name: "no credential", headers: () => ({}) },
      { name: "malformed key", headers: () => ({ authorization: "Bearer foo" }) },
      { name: "unknown key", headers: () => ({ authorization: "Bearer abcdefghij-0123456789012345678901" }) },
      { name: "the owner's key under another scheme", headers: () => ({ authorization: `Basic ${h.owner.key}` }) },
      { name: "the owner's id with a wrong secret", headers: () => ({ authorization: `Bearer ${h.owner.key.slice(0, 11)}${"0".repeat(22)}` }) },
      { name: "wrong session token", headers: () => ({ "weir-session-token": "abcdefghij-0123456789012345678901" }) },
    ];
    for (const u of unauthenticated) {
      it(`${r.method} with ${u.name} → 401`, async () => {
        const res = await h.call(r.method, r.path(), { token: null, body: r.body, headers: u.headers() });
        assert.equal(res.status, 401);
        assert.deepEqual(res.json, { message: "You must be authenticated to use this endpoint." });
      });
    }
  }
  it("nothing was created or deleted by refused callers", async () => {
    const names = (await h.t.db.selectFrom("ai_gateway_keys").select("name").execute()).map((r) => r.name);
    assert.ok(!names.includes("member-made"));
    assert.ok(names.includes("owner-only"));
  });
  it("accepts the owner's key in Weir-Session-Token too", async () => {
    const res = await h.call("GET", KEYS, { token: null, headers: { "weir-session-token": h.owner.key } });
    assert.equal(res.status, 200);
  });
});

describe("TestAIGatewayKeyAudit", () => {
  it("writes one row on create and one on delete, with the prefix and never the hash", async () => {
    const created = await createKey("audited-key");
    assert.equal((await h.call("DELETE", `${KEYS}/${created.id}`)).status, 204);
    const rows = await auditRows(created.id);
    assert.equal(rows.length, 2);
    const want = (action: string, status: number) => ({
      user_id: h.owner.id,
      action,
      resource_type: "ai_gateway_key",
      resource_id: created.id,
      resource_target: "audited-key",
      status_code: status,
      diff: { name: "audited-key", secret_prefix: created.key_prefix, allow_delegation: false },
    });
    const strip = (r: (typeof rows)[number]) => ({
      user_id: r.user_id,
      action: r.action,
      resource_type: r.resource_type,
      resource_id: r.resource_id,
      resource_target: r.resource_target,
      status_code: r.status_code,
      diff: r.diff,
    });
    assert.deepEqual(rows.map(strip), [want("create", 201), want("delete", 204)]);
    const text = JSON.stringify(rows);
    assert.ok(!text.includes(hashGatewayKey(created.key).toString("hex")));
    assert.ok(!text.includes(created.key));
    assert.ok(!text.includes("hashed_secret"));
  });
});

describe("collision retries", () => {
  const COLLIDING_PREFIX = "wgk_collide";
  let takenHash: Buffer;
  before(async () => {
    takenHash = hashGatewayKey(`taken-${randomUUID()}`);
    await h.t.db.insertInto("ai_gateway_keys").values({ name: "collision-holder", secret_prefix: COLLIDING_PREFIX, hashed_secret: takenHash }).execute();
  });
  /** A generator that returns `first` results, then real keys; counts its calls. */
  function stubGenerator(first: (() => GeneratedGatewayKey)[]) {
    let calls = 0;
    return {
      get calls() {
        return calls;
      },
      generate: (): GeneratedGatewayKey => (calls++ < first.length ? first[calls - 1]!() : generateGatewayKey()),
    };
  }
  const collidingPrefix = (): GeneratedGatewayKey => {
    const key = COLLIDING_PREFIX + "x".repeat(32);
    return { key, prefix: COLLIDING_PREFIX, hashedSecret: hashGatewayKey(`${key}-${randomUUID()}`) };
  };
  const cases = [
    { name: "a prefix collision", first: [collidingPrefix], wantCalls: 2 },
    {
      name: "a hash collision",
      first: [(): GeneratedGatewayKey => ({ key: `wgk_hashcol${"y".repeat(32)}`, prefix: "wgk_hashcol", hashedSecret: takenHash })],
      wantCalls: 2,
    },
    { name: "six collisions", first: Array.from({ length: 6 }, () => collidingPrefix), wantCalls: 7 },
  ];
  for (const [i, c] of cases.entries()) {
    it(`retries after ${c.name} with a new key`, async () => {
      const stub = stubGenerator(c.first);
      const served = await h.serve({ generateGatewayKey: stub.generate });
      const res = await call(served.baseUrl, "POST", KEYS, { token: h.owner.key, body: { name: `retried-${i}` } });
      assert.equal(res.status, 201, res.text);
      plaintexts.push(res.json.key);
      assert.equal(stub.calls, c.wantCalls);
      assert.notEqual(res.json.key_prefix, COLLIDING_PREFIX);
      assert.equal((await auditRows(res.json.id)).length, 1);
    });
  }
  it("gives up after 7 attempts with the reference's 500", async () => {
    const stub = stubGenerator(Array.from({ length: 100 }, () => collidingPrefix));
    const served = await h.serve({ generateGatewayKey: stub.generate });
    const res = await call(served.baseUrl, "POST", KEYS, { token: h.owner.key, body: { name: "never-made" } });
    assert.equal(res.status, 500);
    assert.deepEqual(res.json, { message: "Failed to create key. Please retry." });
    assert.equal(stub.calls, 7);
    assert.equal((await h.t.db.selectFrom("ai_gateway_keys").select("id").where("name", "=", "never-made").execute()).length, 0);
  });
});

describe("TestAIGatewayKeysDatabaseErrors", () => {
  const cases = [
    { method: "POST", path: KEYS, body: { name: "db-error" }, want: "Failed to create key. Please retry." },
    { method: "GET", path: KEYS, want: "Failed to list keys." },
    { method: "DELETE", path: `${KEYS}/${randomUUID()}`, want: "Failed to delete key." },
  ];
  // The whole database is gone (authentication included): still the route's own message.
  for (const c of cases) {
    it(`${c.method} over a destroyed pool → 500 "${c.want}" without detail`, async () => {
      const dead = createKysely(h.t.url, 1);
      await sql`SELECT 1`.execute(dead); // kysely's destroy() is a no-op before first use
      await dead.destroy();
      const served = await h.serve({ db: dead });
      const res = await call(served.baseUrl, c.method, c.path, { token: h.owner.key, body: c.body });
      assert.equal(res.status, 500);
      assert.deepEqual(res.json, { message: c.want });
    });
  }
  // Authentication works, the key table is missing: the query itself fails.
  for (const c of cases) {
    it(`${c.method} with the table missing → 500 "${c.want}" without detail`, async () => {
      await sql`ALTER TABLE ai_gateway_keys RENAME TO ai_gateway_keys_away`.execute(h.t.db);
      try {
        const res = await h.call(c.method, c.path, { body: c.body });
        assert.equal(res.status, 500);
        assert.deepEqual(res.json, { message: c.want });
      } finally {
        await sql`ALTER TABLE ai_gateway_keys_away RENAME TO ai_gateway_keys`.execute(h.t.db);
      }
    });
  }
  // The key and its audit row commit together or not at all.
  it("leaves no key behind when its audit row cannot be written", async () => {
    await sql`ALTER TABLE audit_logs RENAME TO audit_logs_away`.execute(h.t.db);
    try {
      const res = await h.call("POST", KEYS, { body: { name: "half-written" } });
      assert.equal(res.status, 500);
      assert.deepEqual(res.json, { message: "Failed to create key. Please retry." });
    } finally {
      await sql`ALTER TABLE audit_logs_away RENAME TO audit_logs`.execute(h.t.db);
    }
    assert.equal((await h.t.db.selectFrom("ai_gateway_keys").select("id").where("name", "=", "half-written").execute()).length, 0);
  });
  it("logs the cause of a 500", () => {
    assert.ok(h.logs.some((l) => l.includes('"admin request failed"') && l.includes("ai_gateway_keys")));
  });
});

describe("logs", () => {
  // SECURITY: keys are logged by prefix or id only.
  it("never contain a plaintext gateway key or an owner's API key", () => {
    assert.ok(plaintexts.length > 5);
    const all = h.logs.join("\n");
    for (const key of [...plaintexts, h.owner.key, h.member.key]) assert.ok(!all.includes(key), "a key reached the logs");
  });
});
