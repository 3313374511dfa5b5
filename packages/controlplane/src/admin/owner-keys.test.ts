// The active owners always keep one usable API key — one still valid an hour from now: deleting
// the last such key is refused (409), also when two deletions race, and so is taking its holder
// out of the active owners while the other owners hold none; expired keys, keys about to expire
// and other users' keys go as before. When the owners' keys expire anyway, recoverOwnerKey
// (database access, like bootstrap) issues one, and only then.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startAdminHarness, type AdminHarness, type CallOptions } from "./admin-test-harness.js";
import { isOwnerKeyRecoveryRefusedError, recoverOwnerKey } from "./bootstrap.js";

let h: AdminHarness;
/** The owner's key the tests call with; replaced when a test deletes it. */
let ownerKey: string;
let now = new Date("2026-05-01T12:00:00.000Z");
const clock = () => now;
const keysOf = (userId: string) => `/api/v2/users/${userId}/keys`;
const idOf = (key: string) => key.split("-")[0]!;
const LAST_KEY = {
  message: "Cannot delete the last usable API key of the active owners.",
  detail: "Create another API key for an active owner first, valid for at least an hour.",
};
const LAST_HOLDER = {
  message: "Cannot demote, suspend or delete the only active owner with a usable API key.",
  detail: "Create an API key for another active owner first, valid for at least an hour.",
};

before(async () => {
  h = await startAdminHarness({ clock });
  ownerKey = h.owner.key;
});
after(async () => {
  await h?.close();
});

/** h.call with the current owner key unless `token` says otherwise. */
const api = (method: string, path: string, options: CallOptions = {}) => h.call(method, path, { token: ownerKey, ...options });

async function adminStatus(key: string): Promise<number> {
  return (await api("GET", "/api/v2/users", { token: key })).status;
}
async function issueKey(userId: string, body: Record<string, unknown> = {}): Promise<string> {
  const res = await api("POST", keysOf(userId), { body });
  assert.equal(res.status, 201, res.text);
  return res.json.key;
}
async function keyIds(userId: string): Promise<string[]> {
  return (await api("GET", keysOf(userId))).json.map((k: { id: string }) => k.id);
}
const deleteAudits = (keyId: string) =>
  h.t.db.selectFrom("audit_logs").select("id").where("resource_id", "=", keyId).where("action", "=", "delete").execute();

describe("deleting the last usable key of the active owners", () => {
  it("is refused with 409 for the last active owner's only key, which keeps working", async () => {
    const res = await api("DELETE", `${keysOf(h.owner.id)}/${idOf(ownerKey)}`);
    assert.equal(res.status, 409);
    assert.deepEqual(res.json, LAST_KEY);
    assert.equal(await adminStatus(ownerKey), 200);
    assert.deepEqual(await keyIds(h.owner.id), [idOf(ownerKey)]);
    assert.equal((await deleteAudits(idOf(ownerKey))).length, 0);
  });

  it("allows deleting one of two keys, then refuses the other (also when it is the caller's own)", async () => {
    const second = await issueKey(h.owner.id, { name: "second" });
    assert.equal((await api("DELETE", `${keysOf(h.owner.id)}/${idOf(ownerKey)}`)).status, 204);
    assert.equal(await adminStatus(ownerKey), 401);
    ownerKey = second;
    const res = await api("DELETE", `${keysOf(h.owner.id)}/${idOf(second)}`);
    assert.equal(res.status, 409);
    assert.deepEqual(res.json, LAST_KEY);
    assert.equal(await adminStatus(second), 200);
  });

  it("counts only unexpired keys as usable, and lets expired keys go", async () => {
    const shortLived = await issueKey(h.owner.id, { name: "short", lifetime_seconds: 60 });
    // While it is usable, the other key may go... but not both.
    const other = await issueKey(h.owner.id, { name: "other" });
    now = new Date(now.getTime() + 61_000);
    assert.equal(await adminStatus(shortLived), 401);
    // shortLived has expired: `other` and the harness key remain; delete `other`, then the
    // harness key is the last usable one although an (expired) key remains.
    assert.equal((await api("DELETE", `${keysOf(h.owner.id)}/${idOf(other)}`)).status, 204);
    const res = await api("DELETE", `${keysOf(h.owner.id)}/${idOf(ownerKey)}`);
    assert.equal(res.status, 409);
    assert.deepEqual(res.json, LAST_KEY);
    // The expired key itself can always be deleted.
    assert.equal((await api("DELETE", `${keysOf(h.owner.id)}/${idOf(shortLived)}`)).status, 204);
  });

  it("allows it while another active owner has a usable key, not while the other owner has none", async () => {
    const other = (await api("POST", "/api/v2/users", { body: { username: "other-owner", role: "owner" } })).json;
    // Two active owners, but only one of them has a key: still the last usable key.
    assert.equal((await api("DELETE", `${keysOf(h.owner.id)}/${idOf(ownerKey)}`)).status, 409);
    const otherKey = await issueKey(other.id);
    // A suspended owner's keys do not count.
    assert.equal((await api("PATCH", `/api/v2/users/${other.id}`, { body: { status: "suspended" } })).status, 200);
    assert.equal((await api("DELETE", `${keysOf(h.owner.id)}/${idOf(ownerKey)}`)).status, 409);
    assert.equal((await api("PATCH", `/api/v2/users/${other.id}`, { body: { status: "active" } })).status, 200);
    // Active with a usable key: the first owner's last key may go.
    assert.equal((await api("DELETE", `${keysOf(h.owner.id)}/${idOf(ownerKey)}`)).status, 204);
    ownerKey = otherKey;
    ownerKey = await issueKey(h.owner.id, { name: "back" });
    assert.equal((await api("DELETE", `${keysOf(other.id)}/${idOf(otherKey)}`)).status, 204);
    assert.equal((await api("PATCH", `/api/v2/users/${other.id}`, { body: { role: "member" } })).status, 200);
  });

  it("does not guard members' keys", async () => {
    assert.deepEqual(await keyIds(h.member.id), [idOf(h.member.key)]);
    assert.equal((await api("DELETE", `${keysOf(h.member.id)}/${idOf(h.member.key)}`)).status, 204);
  });

  it("lets only one of two concurrent deletions of two owners' last keys through", async () => {
    // Two active owners with one key each; both keys are deleted at once (both requests sent
    // with the first owner's key). Without a lock on the owners, each deletion would see the
    // other owner's key and both would pass. The loser is 409, or 401 when the winner deleted
    // its credential before it authenticated.
    for (let round = 0; round < 10; round++) {
      const racer = (await api("POST", "/api/v2/users", { body: { username: `racer-${round}`, role: "owner" } })).json;
      const racerKey = await issueKey(racer.id);
      const results = await Promise.all([
        api("DELETE", `${keysOf(h.owner.id)}/${idOf(ownerKey)}`),
        api("DELETE", `${keysOf(racer.id)}/${idOf(racerKey)}`),
      ]);
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 204).length, 1, `round ${round}: ${statuses}`);
      assert.ok(statuses.every((s) => s === 204 || s === 401 || s === 409), `round ${round}: ${statuses}`);
      if (results[0]!.status === 204) {
        // The racer's key survived: give the first owner a key again.
        assert.equal(await adminStatus(racerKey), 200);
        ownerKey = racerKey;
        ownerKey = await issueKey(h.owner.id, { name: `back-${round}` });
        assert.equal((await api("DELETE", `${keysOf(racer.id)}/${idOf(racerKey)}`)).status, 204);
      }
      assert.equal(await adminStatus(ownerKey), 200);
      assert.equal((await api("PATCH", `/api/v2/users/${racer.id}`, { body: { role: "member" } })).status, 200);
    }
  });
});

describe("keys about to expire", () => {
  it("do not count as the owners' way in: the last lasting key stays, the short-lived one may go", async () => {
    // Valid for half an hour: once the other key is gone and it expires, no owner has a key.
    const shortLived = await issueKey(h.owner.id, { name: "half-an-hour", lifetime_seconds: 1800 });
    const res = await api("DELETE", `${keysOf(h.owner.id)}/${idOf(ownerKey)}`);
    assert.equal(res.status, 409);
    assert.deepEqual(res.json, LAST_KEY);
    assert.equal((await api("DELETE", `${keysOf(h.owner.id)}/${idOf(shortLived)}`)).status, 204);
    // Valid for just over an hour: it counts, and the other key may go.
    const lasting = await issueKey(h.owner.id, { name: "an-hour-and-more", lifetime_seconds: 3660 });
    assert.equal((await api("DELETE", `${keysOf(h.owner.id)}/${idOf(ownerKey)}`)).status, 204);
    ownerKey = lasting;
    ownerKey = await issueKey(h.owner.id, { name: "after-short-keys" });
    assert.equal((await api("DELETE", `${keysOf(h.owner.id)}/${idOf(lasting)}`)).status, 204);
  });
});

describe("taking the only owner with a usable key out of the active owners", () => {
  it("is refused (409) while the other active owners hold no lasting key, and allowed once one does", async () => {
    const keyless = (await api("POST", "/api/v2/users", { body: { username: "keyless-owner", role: "owner" } })).json;
    const refused = async () => {
      for (const [method, body] of [
        ["PATCH", { status: "suspended" }],
        ["PATCH", { role: "member" }],
        ["DELETE", undefined],
      ] as const) {
        const res = await api(method, `/api/v2/users/${h.owner.id}`, body === undefined ? {} : { body });
        assert.equal(res.status, 409, `${method} ${JSON.stringify(body)}: ${res.text}`);
        assert.deepEqual(res.json, LAST_HOLDER);
      }
      const owner = (await api("GET", `/api/v2/users/${h.owner.id}`)).json;
      assert.deepEqual([owner.role, owner.status], ["owner", "active"]);
      assert.equal(await adminStatus(ownerKey), 200);
    };
    await refused();
    // A key about to expire does not count.
    const shortLived = await issueKey(keyless.id, { name: "half-an-hour", lifetime_seconds: 1800 });
    await refused();
    assert.equal((await api("DELETE", `${keysOf(keyless.id)}/${idOf(shortLived)}`)).status, 204);

    // With a lasting key of its own, the other owner keeps the way in: the first may be suspended.
    const keylessKey = await issueKey(keyless.id, { name: "lasting" });
    const firstOwnersKey = ownerKey;
    assert.equal((await api("PATCH", `/api/v2/users/${h.owner.id}`, { body: { status: "suspended" } })).status, 200);
    assert.equal(await adminStatus(firstOwnersKey), 401);
    ownerKey = keylessKey;
    assert.equal((await api("PATCH", `/api/v2/users/${h.owner.id}`, { body: { status: "active" } })).status, 200);
    assert.equal(await adminStatus(firstOwnersKey), 200);
    ownerKey = firstOwnersKey;
    // The first owner holds a lasting key again: the other's key, and the other owner, may go.
    assert.equal((await api("DELETE", `${keysOf(keyless.id)}/${idOf(keylessKey)}`)).status, 204);
    assert.equal((await api("DELETE", `/api/v2/users/${keyless.id}`)).status, 204);
  });
});

describe("recoverOwnerKey", () => {
  it("refuses while an active owner has a usable key", async () => {
    await assert.rejects(
      recoverOwnerKey(h.t.db, { user: "owner", clock }),
      (err) => isOwnerKeyRecoveryRefusedError(err) && err.message === "an active owner still has a usable API key; create keys through the admin API with it",
    );
  });

  it("issues a working, audited key for an active owner once every owner key has expired", async () => {
    // The only usable key gets a replacement that expires, then the replacement expires.
    const expiring = await issueKey(h.owner.id, { name: "expiring", lifetime_seconds: 7200 });
    assert.equal((await api("DELETE", `${keysOf(h.owner.id)}/${idOf(ownerKey)}`)).status, 204);
    now = new Date(now.getTime() + 7_201_000);
    assert.equal(await adminStatus(expiring), 401);

    const refusals = [
      { user: "member", message: "member is not an active owner; recovery issues keys for active owners only" },
      { user: "nobody", message: 'no user named or with id "nobody"' },
      { user: randomUUID(), message: undefined },
    ];
    for (const r of refusals) {
      await assert.rejects(recoverOwnerKey(h.t.db, { user: r.user, clock }), (err) => isOwnerKeyRecoveryRefusedError(err) && (r.message === undefined || err.message === r.message));
    }

    const recovered = await recoverOwnerKey(h.t.db, { user: "OWNER", clock });
    assert.equal(recovered.user.id, h.owner.id);
    assert.equal(recovered.apiKey.name, "recovery");
    assert.equal(recovered.apiKey.expires_at, null);
    assert.equal(idOf(recovered.apiKey.key), recovered.apiKey.id);
    assert.equal(await adminStatus(recovered.apiKey.key), 200);
    const audit = await h.t.db.selectFrom("audit_logs").selectAll().where("resource_id", "=", recovered.apiKey.id).execute();
    assert.deepEqual(
      audit.map((a) => [a.user_id, a.action, a.resource_type, a.status_code]),
      [[null, "create", "api_key", 201]],
    );
    assert.ok(!JSON.stringify(audit).includes(recovered.apiKey.key.split("-")[1]!));

    // Once is enough: the new key is usable, so a second recovery is refused.
    await assert.rejects(recoverOwnerKey(h.t.db, { user: h.owner.id, clock }), (err) => isOwnerKeyRecoveryRefusedError(err));
  });
});

