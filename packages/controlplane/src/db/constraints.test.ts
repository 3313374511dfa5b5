// Each CHECK and UNIQUE constraint of the schema rejects a bad row (against real Postgres).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { sql } from "kysely";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

const hash = (s: string) => createHash("sha256").update(s).digest();
const gatewayKey = (over: Partial<{ name: string; secret_prefix: string; hashed_secret: Buffer }> = {}) => ({
  name: over.name ?? `key-${randomUUID().slice(0, 8)}`,
  secret_prefix: over.secret_prefix ?? randomUUID().replaceAll("-", "").slice(0, 11),
  hashed_secret: over.hashed_secret ?? hash(randomUUID()),
});

async function insertGatewayKey(row: ReturnType<typeof gatewayKey>): Promise<void> {
  await t.db.insertInto("ai_gateway_keys").values(row).execute();
}

async function violation(work: () => Promise<unknown>): Promise<string> {
  try {
    await work();
  } catch (err) {
    return (err as { constraint?: string }).constraint ?? `no constraint: ${(err as Error).message}`;
  }
  return "accepted";
}

describe("ai_gateway_keys constraints", () => {
  before(async () => {
    await insertGatewayKey(gatewayKey({ name: "taken", secret_prefix: "wgk_taken00", hashed_secret: hash("taken") }));
  });
  const cases = [
    { name: "name with upper case", row: () => gatewayKey({ name: "UPPER-CASE" }), want: "ai_gateway_keys_name_check" },
    { name: "name with consecutive hyphens", row: () => gatewayKey({ name: "a--b" }), want: "ai_gateway_keys_name_check" },
    { name: "name starting with a hyphen", row: () => gatewayKey({ name: "-ab" }), want: "ai_gateway_keys_name_check" },
    { name: "name ending with a hyphen", row: () => gatewayKey({ name: "ab-" }), want: "ai_gateway_keys_name_check" },
    { name: "empty name", row: () => gatewayKey({ name: "" }), want: "ai_gateway_keys_name_check" },
    { name: "65-character name", row: () => gatewayKey({ name: "a".repeat(65) }), want: "ai_gateway_keys_name_check" },
    { name: "duplicate name in other case", row: () => gatewayKey({ name: "taken" }), want: "ai_gateway_keys_name_idx" },
    { name: "10-character prefix", row: () => gatewayKey({ secret_prefix: "wgk_012345" }), want: "ai_gateway_keys_secret_prefix_check" },
    { name: "duplicate prefix", row: () => gatewayKey({ secret_prefix: "wgk_taken00" }), want: "ai_gateway_keys_secret_prefix_idx" },
    { name: "empty hash", row: () => gatewayKey({ hashed_secret: Buffer.alloc(0) }), want: "ai_gateway_keys_hashed_secret_check" },
    { name: "duplicate hash", row: () => gatewayKey({ hashed_secret: hash("taken") }), want: "ai_gateway_keys_hashed_secret_idx" },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, async () => {
      assert.equal(await violation(() => insertGatewayKey(c.row())), c.want);
    });
  }
  it("accepts a 64-character name", async () => {
    assert.equal(await violation(() => insertGatewayKey(gatewayKey({ name: "a".repeat(64) }))), "accepted");
  });
});

describe("other constraints", () => {
  let userId: string;
  let interceptionId: string;
  before(async () => {
    userId = (await t.db.insertInto("users").values({ username: "alice", email: null }).returning("id").executeTakeFirstOrThrow()).id;
    interceptionId = randomUUID();
    await t.db
      .insertInto("aibridge_interceptions")
      .values({ id: interceptionId, initiator_id: userId, api_key_id: "abcdefghij", provider: "openai", provider_name: "openai", model: "m", metadata: "{}", started_at: new Date(), client: "", credential_kind: "centralized", credential_hint: "" })
      .execute();
    await t.db.insertInto("mcp_server_configs").values({ id: "github", url: "https://mcp.example.com" }).execute();
  });
  const cases = [
    { name: "duplicate username in other case", work: () => t.db.insertInto("users").values({ username: "ALICE", email: null }).execute(), want: "users_username_idx" },
    { name: "username with a space", work: () => t.db.insertInto("users").values({ username: "a b", email: null }).execute(), want: "users_username_check" },
    { name: "unknown role", work: () => sql`INSERT INTO users (username, role) VALUES ('bob', 'admin')`.execute(t.db), want: "users_role_check" },
    { name: "unknown status", work: () => sql`INSERT INTO users (username, status) VALUES ('bob', 'gone')`.execute(t.db), want: "users_status_check" },
    { name: "api key id of 9 characters", work: () => t.db.insertInto("api_keys").values({ id: "abcdefghi", hashed_secret: hash("s"), user_id: userId, expires_at: null }).execute(), want: "api_keys_id_check" },
    { name: "api key hash of the wrong length", work: () => t.db.insertInto("api_keys").values({ id: "abcdefghij", hashed_secret: Buffer.from("short"), user_id: userId, expires_at: null }).execute(), want: "api_keys_hashed_secret_check" },
    { name: "api key of an unknown user", work: () => t.db.insertInto("api_keys").values({ id: "abcdefghij", hashed_secret: hash("s"), user_id: randomUUID(), expires_at: null }).execute(), want: "api_keys_user_id_fkey" },
    { name: "unknown credential kind", work: () => sql`INSERT INTO aibridge_interceptions (id, initiator_id, api_key_id, provider, provider_name, model, started_at, credential_kind) VALUES (gen_random_uuid(), gen_random_uuid(), 'k', 'p', 'p', 'm', now(), 'stolen')`.execute(t.db), want: "aibridge_interceptions_credential_kind_check" },
    { name: "unknown error type", work: () => sql`UPDATE aibridge_interceptions SET error_type = 'oops' WHERE id = ${interceptionId}::uuid`.execute(t.db), want: "aibridge_interceptions_error_type_check" },
    { name: "MCP config id with upper case", work: () => t.db.insertInto("mcp_server_configs").values({ id: "GitHub", url: "https://x" }).execute(), want: "mcp_server_configs_id_check" },
    { name: "MCP config URL without scheme", work: () => t.db.insertInto("mcp_server_configs").values({ id: "x", url: "mcp.example.com" }).execute(), want: "mcp_server_configs_url_check" },
    { name: "external auth link with an empty token", work: () => t.db.insertInto("external_auth_links").values({ user_id: userId, mcp_server_config_id: "github", oauth_access_token: "", oauth_expiry: null }).execute(), want: "external_auth_links_token_check" },
    { name: "audit row with an unknown action", work: () => sql`INSERT INTO audit_logs (action, resource_type, resource_id, resource_target, status_code) VALUES ('read', 'x', 'x', 'x', 200)`.execute(t.db), want: "audit_logs_action_check" },
  ];
  for (const c of cases) {
    it(`rejects ${c.name}`, async () => {
      assert.equal(await violation(c.work), c.want);
    });
  }
});

// The reference has no foreign keys from the record tables to their interception, and neither
// has Weir since 2026_12_03 (each child row paid a trigger and a lock on its parent): the writers
// check that the interception exists (record-batch-sql.ts, recorder-repository.ts).
describe("record children", () => {
  it("have no foreign key to their interception", async () => {
    const { rows } = await sql<{ table: string; constraint: string }>`
      SELECT conrelid::regclass::text AS table, conname AS constraint FROM pg_constraint
      WHERE contype = 'f' AND confrelid = 'aibridge_interceptions'::regclass`.execute(t.db);
    assert.deepEqual(rows, []);
  });
});

describe("seed data", () => {
  it("has exactly one system user, created by the migration", async () => {
    const rows = await t.db.selectFrom("users").select(["username", "is_system"]).where("is_system", "=", true).execute();
    assert.deepEqual(rows, [{ username: "weir-system", is_system: true }]);
  });
});
