// /api/v2/users/{id}/keys: the full key only in the 201 answer, lifetimes on an injected clock
// (an expired key stops opening the API), deletes, validation, and audit rows without secrets.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { SYSTEM_USER_ID } from "../db/migrations/2026_11_22_000000_initial.js";
import { parseApiKey } from "../keys/api-key.js";
import { sha256 } from "../keys/secret-hash.js";
import { startAdminHarness, type AdminHarness } from "./admin-test-harness.js";

let h: AdminHarness;
let now = new Date("2026-05-01T12:00:00.000Z");
let subject: string; // an owner whose keys the tests create, so keys can be tried on the API
const keysOf = (userId: string) => `/api/v2/users/${userId}/keys`;

before(async () => {
  h = await startAdminHarness({ clock: () => now });
  const res = await h.call("POST", "/api/v2/users", { body: { username: "keyholder", role: "owner" } });
  subject = res.json.id;
});
after(async () => {
  await h?.close();
});

async function adminStatus(key: string): Promise<number> {
  return (await h.call("GET", "/api/v2/users", { token: key })).status;
}

describe("create and list", () => {
  it("returns the full key once; lists show id, name and times only", async () => {
    const res = await h.call("POST", keysOf(subject), { body: { name: "laptop" } });
    assert.equal(res.status, 201);
    assert.deepEqual(Object.keys(res.json).sort(), ["created_at", "expires_at", "id", "key", "name"]);
    assert.equal(res.json.name, "laptop");
    assert.equal(res.json.expires_at, null);
    assert.equal(res.json.created_at, now.toISOString());
    const parsed = parseApiKey(res.json.key);
    assert.ok(parsed);
    assert.equal(parsed.id, res.json.id);
    assert.equal(await adminStatus(res.json.key), 200);

    const listed = await h.call("GET", keysOf(subject));
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.json.find((k: { id: string }) => k.id === res.json.id), {
      id: res.json.id,
      name: "laptop",
      created_at: now.toISOString(),
      expires_at: null,
    });
    for (const secret of [res.json.key, parsed.secret, sha256(parsed.secret).toString("hex"), sha256(parsed.secret).toString("base64")]) {
      assert.ok(!listed.text.includes(secret), "list leaks a secret");
    }
  });
  it("creates a key with defaults from an empty body", async () => {
    const res = await h.call("POST", keysOf(subject), { raw: "" });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.name, "");
  });
  it("sets expires_at from lifetime_seconds and refuses the key once it has passed", async () => {
    const res = await h.call("POST", keysOf(subject), { body: { name: "short-lived", lifetime_seconds: 60 } });
    assert.equal(res.status, 201);
    assert.equal(res.json.expires_at, new Date(now.getTime() + 60_000).toISOString());
    const start = now;
    try {
      now = new Date(start.getTime() + 59_000);
      assert.equal(await adminStatus(res.json.key), 200);
      now = new Date(start.getTime() + 60_000);
      assert.equal(await adminStatus(res.json.key), 401);
    } finally {
      now = start;
    }
  });
});

describe("create validation", () => {
  const lifetime = { message: "Validation failed", validations: [{ field: "lifetime_seconds", detail: "Must be a positive integer no greater than 3153600000." }] };
  const cases = [
    { name: "lifetime 0", path: () => keysOf(subject), body: { lifetime_seconds: 0 }, want: 400, json: lifetime },
    { name: "negative lifetime", path: () => keysOf(subject), body: { lifetime_seconds: -5 }, want: 400, json: lifetime },
    { name: "fractional lifetime", path: () => keysOf(subject), body: { lifetime_seconds: 1.5 }, want: 400, json: lifetime },
    { name: "lifetime as a string", path: () => keysOf(subject), body: { lifetime_seconds: "60" }, want: 400, json: lifetime },
    { name: "lifetime over 100 years", path: () => keysOf(subject), body: { lifetime_seconds: 3153600001 }, want: 400, json: lifetime },
    {
      name: "a 65-character name",
      path: () => keysOf(subject),
      body: { name: "n".repeat(65) },
      want: 400,
      json: { message: "Validation failed", validations: [{ field: "name", detail: "Must be 64 characters or fewer." }] },
    },
    { name: "a bad user UUID", path: () => keysOf("nope"), body: {}, want: 400, json: { message: "Invalid user ID." } },
    { name: "an unknown user", path: () => keysOf(randomUUID()), body: {}, want: 404, json: { message: "User not found." } },
    { name: "the system user", path: () => keysOf(SYSTEM_USER_ID), body: {}, want: 403, json: { message: "System users cannot be modified." } },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} → ${c.want}`, async () => {
      const before = (await h.t.db.selectFrom("api_keys").select("id").execute()).length;
      const res = await h.call("POST", c.path(), { body: c.body });
      assert.equal(res.status, c.want);
      assert.deepEqual(res.json, c.json);
      assert.equal((await h.t.db.selectFrom("api_keys").select("id").execute()).length, before);
    });
  }
});

describe("delete", () => {
  it("deletes a key, which then stops working, with audit rows for create and delete", async () => {
    const created = await h.call("POST", keysOf(subject), { body: { name: "doomed", lifetime_seconds: 3600 } });
    assert.equal(await adminStatus(created.json.key), 200);
    const res = await h.call("DELETE", `${keysOf(subject)}/${created.json.id}`);
    assert.equal(res.status, 204);
    assert.equal(res.text, "");
    assert.equal(await adminStatus(created.json.key), 401);
    assert.ok(!(await h.call("GET", keysOf(subject))).json.some((k: { id: string }) => k.id === created.json.id));

    const rows = await h.t.db.selectFrom("audit_logs").selectAll().where("resource_id", "=", created.json.id).orderBy("status_code").execute();
    const diff = { user_id: subject, name: "doomed", expires_at: new Date(now.getTime() + 3_600_000).toISOString() };
    assert.deepEqual(
      rows.map((r) => [r.user_id, r.action, r.resource_type, r.resource_target, r.status_code, r.diff]),
      [
        [h.owner.id, "create", "api_key", created.json.id, 201, diff],
        [h.owner.id, "delete", "api_key", created.json.id, 204, diff],
      ],
    );
    const secret = parseApiKey(created.json.key)!.secret;
    const text = JSON.stringify(rows);
    assert.ok(!text.includes(secret) && !text.includes(sha256(secret).toString("hex")));
  });
  const cases = [
    { name: "a malformed key id", path: () => `${keysOf(subject)}/short`, want: 400, json: { message: "Invalid key ID." } },
    { name: "an unknown key id", path: () => `${keysOf(subject)}/abcdefghij`, want: 404, json: { message: "API key not found." } },
    { name: "another user's key", path: () => `${keysOf(subject)}/${parseApiKey(h.member.key)!.id}`, want: 404, json: { message: "API key not found." } },
    { name: "a bad user UUID", path: () => `${keysOf("nope")}/abcdefghij`, want: 400, json: { message: "Invalid user ID." } },
    { name: "an unknown user", path: () => `${keysOf(randomUUID())}/abcdefghij`, want: 404, json: { message: "User not found." } },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} → ${c.want}`, async () => {
      const res = await h.call("DELETE", c.path());
      assert.equal(res.status, c.want);
      assert.deepEqual(res.json, c.json);
    });
  }
  it("left the member's key alone", async () => {
    assert.equal(await adminStatus(h.member.key), 403);
  });
});

describe("list validation", () => {
  const cases = [
    { name: "a bad user UUID", path: () => keysOf("nope"), want: 400, json: { message: "Invalid user ID." } },
    { name: "an unknown user", path: () => keysOf(randomUUID()), want: 404, json: { message: "User not found." } },
    { name: "the system user (no keys)", path: () => keysOf(SYSTEM_USER_ID), want: 200, json: [] },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.want}`, async () => {
      const res = await h.call("GET", c.path());
      assert.equal(res.status, c.want);
      assert.deepEqual(res.json, c.json);
    });
  }
});
