// U+0000 in admin requests. Postgres text cannot hold it, so every stored string field of a JSON
// body, every MCP server id of a path and every text filter of the interceptions list that holds
// one is refused as invalid (400, the field named, as other validation failures), never passed
// to the database (which refused it: a 500); nothing is written.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startAdminHarness, type AdminHarness } from "./admin-test-harness.js";

const NUL_DETAIL = "Must not contain the NUL character (U+0000).";
const N = "\u0000";

let h: AdminHarness;
let userId: string;
before(async () => {
  h = await startAdminHarness();
  const user = await h.call("POST", "/api/v2/users", { body: { username: "nul-target" } });
  assert.equal(user.status, 201, user.text);
  userId = user.json.id;
  const server = await h.call("POST", "/api/v2/ai-gateway/mcp-servers", { body: { id: "srv", url: "https://mcp.example/" } });
  assert.equal(server.status, 201, server.text);
});
after(async () => {
  await h?.close();
});

/** Rows of the tables these requests would write. */
async function counts(): Promise<Record<string, number>> {
  const n = async (table: "users" | "api_keys" | "ai_gateway_keys" | "mcp_server_configs" | "external_auth_links" | "audit_logs") =>
    Number((await h.t.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as("n")).executeTakeFirstOrThrow()).n);
  return {
    users: await n("users"),
    api_keys: await n("api_keys"),
    ai_gateway_keys: await n("ai_gateway_keys"),
    mcp_server_configs: await n("mcp_server_configs"),
    external_auth_links: await n("external_auth_links"),
    audit_logs: await n("audit_logs"),
  };
}

const invalid = (field: string) => ({ message: "Validation failed", validations: [{ field, detail: NUL_DETAIL }] });

describe("JSON body fields holding U+0000", () => {
  const cases: { name: string; method: string; path: () => string; body: Record<string, unknown>; field: string }[] = [
    { name: "a username", method: "POST", path: () => "/api/v2/users", body: { username: `a${N}b` }, field: "username" },
    { name: "an email", method: "POST", path: () => "/api/v2/users", body: { username: "nul-email", email: `a${N}@example.com` }, field: "email" },
    { name: "an API key name", method: "POST", path: () => `/api/v2/users/${userId}/keys`, body: { name: `key${N}` }, field: "name" },
    { name: "a gateway key name", method: "POST", path: () => "/api/v2/ai-gateway/keys", body: { name: `gw${N}` }, field: "name" },
    { name: "an MCP server id", method: "POST", path: () => "/api/v2/ai-gateway/mcp-servers", body: { id: `s${N}`, url: "https://x.example/" }, field: "id" },
    { name: "an MCP server url", method: "POST", path: () => "/api/v2/ai-gateway/mcp-servers", body: { id: "s2", url: `https://x.example/${N}` }, field: "url" },
    { name: "a tool allow regex", method: "POST", path: () => "/api/v2/ai-gateway/mcp-servers", body: { id: "s3", url: "https://x.example/", tool_allow_regex: `a${N}` }, field: "tool_allow_regex" },
    { name: "a tool deny regex", method: "POST", path: () => "/api/v2/ai-gateway/mcp-servers", body: { id: "s4", url: "https://x.example/", tool_deny_regex: `a${N}` }, field: "tool_deny_regex" },
    { name: "an MCP access token", method: "PUT", path: () => `/api/v2/users/${userId}/mcp-tokens/srv`, body: { access_token: `t${N}` }, field: "access_token" },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with 400, writing nothing`, async () => {
      const before = await counts();
      const res = await h.call(c.method, c.path(), { body: c.body });
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.json, invalid(c.field));
      assert.deepEqual(await counts(), before);
    });
  }
});

describe("path and query values holding U+0000", () => {
  const paths = [
    { method: "DELETE", path: () => "/api/v2/ai-gateway/mcp-servers/srv%00" },
    { method: "PUT", path: () => `/api/v2/users/${userId}/mcp-tokens/srv%00`, body: { access_token: "t" } },
    { method: "DELETE", path: () => `/api/v2/users/${userId}/mcp-tokens/srv%00` },
  ];
  for (const c of paths) {
    it(`${c.method} with an MCP server id holding U+0000: 400`, async () => {
      const before = await counts();
      const res = await h.call(c.method, c.path(), c.body !== undefined ? { body: c.body } : {});
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.json, { message: "Invalid MCP server ID." });
      assert.deepEqual(await counts(), before);
    });
  }

  for (const field of ["provider", "model", "client"]) {
    it(`lists interceptions filtered by a ${field} holding U+0000: 400`, async () => {
      const res = await h.call("GET", `/api/v2/ai-gateway/interceptions?${field}=a%00`);
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.json, { message: "Invalid query parameters.", validations: [{ field, detail: NUL_DETAIL }] });
    });
  }
});
