// MCP administration: server configs (create/list/delete, regexes must compile, id/url rules) and
// per-user access tokens (upsert/delete, never returned, logged or audited).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { SYSTEM_USER_ID } from "../db/migrations/2026_11_22_000000_initial.js";
import { startAdminHarness, type AdminHarness } from "./admin-test-harness.js";

const SERVERS = "/api/v2/ai-gateway/mcp-servers";
const ID_RULE = "Must be 64 characters or fewer, lowercase letters, numbers, and non-consecutive hyphens, cannot start or end with a hyphen.";
const URL_RULE = "Must be an absolute http:// or https:// URL.";
const tokenPath = (userId: string, serverId: string) => `/api/v2/users/${userId}/mcp-tokens/${serverId}`;

let h: AdminHarness;
const tokens: string[] = [];
before(async () => {
  h = await startAdminHarness();
});
after(async () => {
  await h?.close();
});

async function createServer(body: Record<string, unknown>) {
  const res = await h.call("POST", SERVERS, { body });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

describe("server configs", () => {
  it("creates, lists and deletes a config, with audit rows", async () => {
    const created = await createServer({ id: "github", url: "https://mcp.github.example/mcp", tool_allow_regex: "^read_", tool_deny_regex: "delete" });
    const { created_at, ...rest } = created;
    assert.deepEqual(rest, { id: "github", url: "https://mcp.github.example/mcp", tool_allow_regex: "^read_", tool_deny_regex: "delete" });
    assert.ok(!Number.isNaN(Date.parse(created_at)));
    const defaults = await createServer({ id: "linear", url: "http://linear.internal:8080" });
    assert.equal(defaults.tool_allow_regex, "");
    assert.equal(defaults.tool_deny_regex, "");

    const listed = await h.call("GET", SERVERS);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.json.map((c: { id: string }) => c.id),
      ["github", "linear"],
    );

    assert.equal((await h.call("DELETE", `${SERVERS}/linear`)).status, 204);
    assert.deepEqual(
      (await h.call("GET", SERVERS)).json.map((c: { id: string }) => c.id),
      ["github"],
    );
    const rows = await h.t.db.selectFrom("audit_logs").selectAll().where("resource_id", "=", "linear").orderBy("status_code").execute();
    const diff = { id: "linear", url: "http://linear.internal:8080", tool_allow_regex: "", tool_deny_regex: "" };
    assert.deepEqual(
      rows.map((r) => [r.user_id, r.action, r.resource_type, r.resource_target, r.status_code, r.diff]),
      [
        [h.owner.id, "create", "mcp_server_config", "linear", 201, diff],
        [h.owner.id, "delete", "mcp_server_config", "linear", 204, diff],
      ],
    );
  });

  const invalid = [
    { name: "missing id", body: { url: "https://x.example" }, want: { message: "Validation failed", validations: [{ field: "id", detail: 'Validation failed for tag "required" with value: ""' }] } },
    { name: "an id with upper case", body: { id: "Bad-ID", url: "https://x.example" }, want: { message: "Invalid MCP server ID.", validations: [{ field: "id", detail: ID_RULE }] } },
    { name: "a 65-character id", body: { id: "a".repeat(65), url: "https://x.example" }, want: { message: "Invalid MCP server ID.", validations: [{ field: "id", detail: ID_RULE }] } },
    { name: "an ftp url", body: { id: "x", url: "ftp://x.example" }, want: { message: "Validation failed", validations: [{ field: "url", detail: URL_RULE }] } },
    { name: "a relative url", body: { id: "x", url: "/mcp" }, want: { message: "Validation failed", validations: [{ field: "url", detail: URL_RULE }] } },
    { name: "a duplicate id", body: { id: "github", url: "https://x.example" }, want: { message: "MCP server ID must be unique.", detail: "An MCP server with this ID already exists." } },
    { name: "a regex that is not a string", body: { id: "x", url: "https://x.example", tool_deny_regex: 5 }, want: { message: "Validation failed", validations: [{ field: "tool_deny_regex", detail: "Must be a string." }] } },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name} with 400`, async () => {
      const res = await h.call("POST", SERVERS, { body: c.body });
      assert.equal(res.status, 400);
      assert.deepEqual(res.json, c.want);
    });
  }
  for (const field of ["tool_allow_regex", "tool_deny_regex"]) {
    it(`refuses a ${field} that does not compile`, async () => {
      const res = await h.call("POST", SERVERS, { body: { id: "regex", url: "https://x.example", [field]: "(unclosed" } });
      assert.equal(res.status, 400);
      assert.equal(res.json.message, "Validation failed");
      assert.equal(res.json.validations.length, 1);
      assert.equal(res.json.validations[0].field, field);
      assert.match(res.json.validations[0].detail, /^Must be a valid regular expression: /);
    });
  }
  it("answers 404 for deleting an unknown config", async () => {
    const res = await h.call("DELETE", `${SERVERS}/nothing-here`);
    assert.equal(res.status, 404);
    assert.deepEqual(res.json, { message: "MCP server not found." });
  });
});

describe("user access tokens", () => {
  before(async () => {
    await createServer({ id: "tokens", url: "https://tokens.example" });
  });
  async function link() {
    return h.t.db.selectFrom("external_auth_links").selectAll().where("user_id", "=", h.member.id).where("mcp_server_config_id", "=", "tokens").executeTakeFirst();
  }
  it("stores a token, replaces it, and deletes it; the token never appears in answers, audit or logs", async () => {
    tokens.push("tok-first-a1b2c3d4e5", "tok-second-f6g7h8i9");
    const put = await h.call("PUT", tokenPath(h.member.id, "tokens"), { body: { access_token: tokens[0], expires_at: "2026-06-01T00:00:00Z" } });
    assert.equal(put.status, 204);
    assert.equal(put.text, "");
    let row = await link();
    assert.equal(row?.oauth_access_token, tokens[0]);
    assert.equal(row?.oauth_expiry?.toISOString(), "2026-06-01T00:00:00.000Z");

    const replaced = await h.call("PUT", tokenPath(h.member.id, "tokens"), { body: { access_token: tokens[1] } });
    assert.equal(replaced.status, 204);
    row = await link();
    assert.equal(row?.oauth_access_token, tokens[1]);
    assert.equal(row?.oauth_expiry, null);

    const deleted = await h.call("DELETE", tokenPath(h.member.id, "tokens"));
    assert.equal(deleted.status, 204);
    assert.equal(await link(), undefined);
    const again = await h.call("DELETE", tokenPath(h.member.id, "tokens"));
    assert.equal(again.status, 404);
    assert.deepEqual(again.json, { message: "MCP token not found." });

    const rows = await h.t.db.selectFrom("audit_logs").selectAll().where("resource_type", "=", "mcp_access_token").orderBy("time").execute();
    assert.deepEqual(
      rows.map((r) => [r.user_id, r.action, r.resource_id, r.resource_target, r.status_code]),
      [
        [h.owner.id, "create", `${h.member.id}/tokens`, "member/tokens", 204],
        [h.owner.id, "write", `${h.member.id}/tokens`, "member/tokens", 204],
        [h.owner.id, "delete", `${h.member.id}/tokens`, "member/tokens", 204],
      ],
    );
    assert.deepEqual(rows[0]!.diff, { user_id: h.member.id, mcp_server_config_id: "tokens", expires_at: "2026-06-01T00:00:00.000Z" });
    const everything = JSON.stringify(rows) + h.logs.join("\n");
    for (const t of tokens) assert.ok(!everything.includes(t), "a token leaked");
  });
  it("drops a user's tokens with the server config", async () => {
    await createServer({ id: "cascade", url: "https://cascade.example" });
    assert.equal((await h.call("PUT", tokenPath(h.member.id, "cascade"), { body: { access_token: "tok-cascade" } })).status, 204);
    assert.equal((await h.call("DELETE", `${SERVERS}/cascade`)).status, 204);
    assert.equal((await h.call("DELETE", tokenPath(h.member.id, "cascade"))).status, 404);
  });
  const invalid = [
    { name: "an unknown server", method: "PUT", path: () => tokenPath(h.member.id, "nope"), body: { access_token: "t" }, want: 404, json: { message: "MCP server not found." } },
    { name: "an unknown user", method: "PUT", path: () => tokenPath(randomUUID(), "tokens"), body: { access_token: "t" }, want: 404, json: { message: "User not found." } },
    { name: "a bad user UUID", method: "PUT", path: () => tokenPath("nope", "tokens"), body: { access_token: "t" }, want: 400, json: { message: "Invalid user ID." } },
    { name: "the system user", method: "PUT", path: () => tokenPath(SYSTEM_USER_ID, "tokens"), body: { access_token: "t" }, want: 403, json: { message: "System users cannot be modified." } },
    {
      name: "a missing token",
      method: "PUT",
      path: () => tokenPath(h.member.id, "tokens"),
      body: {},
      want: 400,
      json: { message: "Validation failed", validations: [{ field: "access_token", detail: 'Validation failed for tag "required" with value: ""' }] },
    },
    {
      name: "a bad expiry",
      method: "PUT",
      path: () => tokenPath(h.member.id, "tokens"),
      body: { access_token: "t", expires_at: "2026-02-30T00:00:00Z" },
      want: 400,
      json: { message: "Validation failed", validations: [{ field: "expires_at", detail: "Must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z." }] },
    },
    {
      name: "an expiry in year 0000",
      method: "PUT",
      path: () => tokenPath(h.member.id, "tokens"),
      body: { access_token: "t", expires_at: "0000-01-01T00:00:00Z" },
      want: 400,
      json: { message: "Validation failed", validations: [{ field: "expires_at", detail: "Must be an RFC 3339 timestamp in year 0001 or later." }] },
    },
    { name: "deleting for an unknown user", method: "DELETE", path: () => tokenPath(randomUUID(), "tokens"), want: 404, json: { message: "User not found." } },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name} → ${c.want}`, async () => {
      const res = await h.call(c.method, c.path(), { body: c.body });
      assert.equal(res.status, c.want);
      assert.deepEqual(res.json, c.json);
    });
  }
});
