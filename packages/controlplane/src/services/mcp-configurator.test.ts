// MCPConfigurator: configs listed in id order; per-id token outcomes with the reference's
// messages (the [a, a, b, c] case), dedupe, empty list, bad user id, database failure.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { MCPConfigurator } from "@weir/proto";
import pino from "pino";
import { createInProcessTransport } from "../index.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { FakeClock, insertUser, unreachableDatabase } from "../testing/rpc-fixtures.js";

const logger = pino({ level: "silent" });
const clock = new FakeClock();
const MINUTE = 60_000;

let t: TestDatabase;
let client: Client<typeof MCPConfigurator>;
let userId: string;
let otherUserId: string;
before(async () => {
  t = await createTestDatabase();
  client = createClient(MCPConfigurator, createInProcessTransport({ db: t.db, logger, clock }));
  userId = (await insertUser(t.db)).id;
  otherUserId = (await insertUser(t.db)).id;
  await t.db
    .insertInto("mcp_server_configs")
    .values([
      { id: "zeta", url: "https://zeta.example.com/mcp" },
      { id: "alpha", url: "https://alpha.example.com/mcp", tool_allow_regex: "^read_", tool_deny_regex: "delete" },
      { id: "beta", url: "http://beta.internal/mcp" },
      { id: "gamma", url: "https://gamma.example.com/mcp" },
      { id: "forever", url: "https://forever.example.com/mcp" },
    ])
    .execute();
  const now = clock.now().getTime();
  await t.db
    .insertInto("external_auth_links")
    .values([
      { user_id: userId, mcp_server_config_id: "alpha", oauth_access_token: "tok-alpha", oauth_expiry: new Date(now + 10 * MINUTE) },
      { user_id: userId, mcp_server_config_id: "beta", oauth_access_token: "tok-beta", oauth_expiry: new Date(now - MINUTE) },
      { user_id: userId, mcp_server_config_id: "zeta", oauth_access_token: "tok-zeta", oauth_expiry: new Date(now) },
      { user_id: userId, mcp_server_config_id: "forever", oauth_access_token: "tok-forever", oauth_expiry: null },
      { user_id: otherUserId, mcp_server_config_id: "gamma", oauth_access_token: "tok-other", oauth_expiry: null },
    ])
    .execute();
});
after(async () => {
  await t?.drop();
});

describe("GetMCPServerConfigs", () => {
  // Property: every config row, ordered by id, regexes included, no internal config.
  it("lists every config ordered by id", async () => {
    const res = await client.getMCPServerConfigs({ userId });
    assert.equal(res.coderMcpConfig, undefined);
    assert.deepEqual(
      res.externalAuthMcpConfigs.map((c) => ({ id: c.id, url: c.url, allow: c.toolAllowRegex, deny: c.toolDenyRegex })),
      [
        { id: "alpha", url: "https://alpha.example.com/mcp", allow: "^read_", deny: "delete" },
        { id: "beta", url: "http://beta.internal/mcp", allow: "", deny: "" },
        { id: "forever", url: "https://forever.example.com/mcp", allow: "", deny: "" },
        { id: "gamma", url: "https://gamma.example.com/mcp", allow: "", deny: "" },
        { id: "zeta", url: "https://zeta.example.com/mcp", allow: "", deny: "" },
      ],
    );
  });
});

describe("GetMCPServerAccessTokensBatch", () => {
  const cases = [
    {
      name: "reference case: duplicates, an expired token and an unknown config",
      ids: ["alpha", "alpha", "beta", "nope"],
      want: { tokens: { alpha: "tok-alpha" }, errors: { beta: "expired or invalid OAuth2 token", nope: "no MCP config found" } },
    },
    { name: "no external auth link found (another user's link does not count)", ids: ["gamma"], want: { tokens: {}, errors: { gamma: "no external auth link found" } } },
    { name: "a token expiring exactly now is expired", ids: ["zeta"], want: { tokens: {}, errors: { zeta: "expired or invalid OAuth2 token" } } },
    { name: "a token without expiry is valid", ids: ["forever"], want: { tokens: { forever: "tok-forever" }, errors: {} } },
    { name: "empty list", ids: [], want: { tokens: {}, errors: {} } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const res = await client.getMCPServerAccessTokensBatch({ userId, mcpServerConfigIds: c.ids });
      assert.deepEqual({ tokens: { ...res.accessTokens }, errors: { ...res.errors } }, c.want);
    });
  }

  it("rejects a user_id that is not a UUID", async () => {
    await assert.rejects(client.getMCPServerAccessTokensBatch({ userId: "bob", mcpServerConfigIds: ["alpha"] }), (err: unknown) => {
      const e = ConnectError.from(err);
      assert.deepEqual([Code[e.code], e.rawMessage], ["InvalidArgument", "invalid user_id: not a UUID"]);
      return true;
    });
  });

  it("maps an unreachable database to Unavailable", async () => {
    const unreachable = unreachableDatabase();
    after(() => unreachable.destroy());
    const broken = createClient(MCPConfigurator, createInProcessTransport({ db: unreachable, logger, clock }));
    for (const call of [() => broken.getMCPServerConfigs({}), () => broken.getMCPServerAccessTokensBatch({ userId, mcpServerConfigIds: ["alpha"] })]) {
      await assert.rejects(call(), (err: unknown) => ConnectError.from(err).code === Code.Unavailable);
    }
  });
});
