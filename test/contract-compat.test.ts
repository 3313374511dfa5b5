// Contract compatibility across released versions (DESIGN §2), offline:
// - a client generated from the released 1.0 image (proto/versions/v1.0.binpb, through buf and
//   the local protoc-gen-es into a temporary directory) makes every 1.0 RPC, announcing "1.0",
//   against today's control plane: all succeed and the rows are written — a gateway built from
//   the 1.0 image keeps working after the control plane is upgraded;
// - a client generated from the released 1.1 image reads IsAuthorized's key expiry and hears which
//   API key was revoked on WatchAuthorizationChanges;
// - today's gateway against a control plane that speaks 1.0 is refused at start-up with
//   FailedPrecondition naming both versions (upgrade order: control plane first).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { fromJson, type DescService } from "@bufbuild/protobuf";
import { ValueSchema, anyPack, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { Http2SessionManager, connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import pino from "pino";
import { API_VERSION, API_VERSION_HEADER, GATEWAY_KEY_HEADER } from "@weir/proto";
import { GatewayKeyUsageTracker, createControlPlane, createGatewayAuthInterceptor, registerServices, systemClock, type ControlPlane } from "@weir/controlplane";
import { createTestDatabase, insertApiKey, insertGatewayKey, insertUser, type TestDatabase } from "@weir/controlplane/testing";
import { FatalStartupError, Gateway } from "@weir/gateway";

const run = promisify(execFile);
const repo = join(import.meta.dirname, "..");
const logger = pino({ level: "silent" });

let t: TestDatabase;
let scratch: string;
before(async () => {
  t = await createTestDatabase();
  scratch = await mkdtemp(join(tmpdir(), "weir-v1.0-client-"));
  // The generated code imports @bufbuild/protobuf: resolve it from the repository.
  await symlink(join(repo, "node_modules"), join(scratch, "node_modules"));
});
after(async () => {
  await t?.drop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Generates TypeScript from a released image into `scratch`/gen and imports one file of it. */
async function generateReleased(version: string): Promise<(file: string) => Promise<Record<string, unknown>>> {
  const template = JSON.stringify({
    version: "v2",
    plugins: [{ local: join(repo, "node_modules", ".bin", "protoc-gen-es"), out: "gen", opt: ["target=ts", "import_extension=js"] }],
  });
  // One directory per version: a module once imported stays cached by its path.
  const out = join(scratch, `v${version}`);
  await run(join(repo, "node_modules", ".bin", "buf"), ["generate", join(repo, "proto", "versions", `v${version}.binpb`), "--template", template, "-o", out], { cwd: repo });
  return async (file) => (await import(pathToFileURL(join(out, "gen", "weir", "gateway", "v1", file)).href)) as Record<string, unknown>;
}

/** What a gateway of `version` sends on every call. */
function announcing(gatewayKey: string, version: string): Interceptor {
  return (next) => async (req) => {
    req.header.set(GATEWAY_KEY_HEADER, gatewayKey);
    req.header.set(API_VERSION_HEADER, version);
    return next(req);
  };
}

/** Today's control plane, which the released images' clients call. */
describe("clients of released versions against today's control plane", () => {
  let cp: ControlPlane;
  let sessions: Http2SessionManager;
  before(async () => {
    cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger });
    await cp.start();
    sessions = new Http2SessionManager(cp.url);
  });
  after(async () => {
    sessions?.abort();
    await cp?.shutdown();
  });

  describe("a 1.0 client", () => {
    it("makes every 1.0 RPC successfully, announcing version 1.0, and the rows are written", async () => {
      const load = await generateReleased("1.0");
      const Recorder = (await load("recorder_pb.ts")).Recorder as DescService;
      const Authorizer = (await load("authorizer_pb.ts")).Authorizer as DescService;
      const MCPConfigurator = (await load("mcp_configurator_pb.ts")).MCPConfigurator as DescService;
      // Really the 1.0 contract: none of the 1.1 RPCs.
      assert.deepEqual(Recorder.methods.map((m) => m.name).sort(), ["RecordInterception", "RecordInterceptionEnded", "RecordModelThought", "RecordPromptUsage", "RecordTokenUsage", "RecordToolUsage"]);
      assert.deepEqual(Authorizer.methods.map((m) => m.name), ["IsAuthorized"]);

      const gw = await insertGatewayKey(t.db);
      const user = await insertUser(t.db);
      const apiKey = await insertApiKey(t.db, user.id);
      const transport = createConnectTransport({ httpVersion: "2", baseUrl: cp.url, sessionManager: sessions, interceptors: [announcing(gw.key, "1.0")] });
      // The generated 1.0 descriptors come from a runtime import, so their clients are typed loosely.
      type LooseClient = Record<string, (req: object) => Promise<Record<string, unknown>>>;
      const recorder = createClient(Recorder, transport) as unknown as LooseClient;
      const authorizer = createClient(Authorizer, transport) as unknown as LooseClient;
      const mcp = createClient(MCPConfigurator, transport) as unknown as LooseClient;

      const authorized = await authorizer.isAuthorized!({ key: apiKey.key });
      assert.deepEqual([authorized.ownerId, authorized.apiKeyId, authorized.username], [user.id, apiKey.id, user.username]);
      const id = randomUUID();
      const at = timestampFromDate(new Date("2026-12-01T10:00:00Z"));
      const metadata = { source: anyPack(ValueSchema, fromJson(ValueSchema, "compat")) };
      await recorder.recordInterception!({ id, initiatorId: user.id, apiKeyId: apiKey.id, provider: "openai", model: "gpt-4o", startedAt: at, metadata });
      await recorder.recordPromptUsage!({ interceptionId: id, msgId: "m1", prompt: "hi", createdAt: at, metadata });
      await recorder.recordTokenUsage!({ interceptionId: id, msgId: "m1", inputTokens: 7n, outputTokens: 3n, cacheReadInputTokens: 2n, createdAt: at, metadata });
      await recorder.recordToolUsage!({ interceptionId: id, msgId: "m1", tool: "get_weather", input: "{}", toolCallId: "call_1", createdAt: at, metadata });
      await recorder.recordModelThought!({ interceptionId: id, content: "thinking", createdAt: at, metadata });
      await recorder.recordInterceptionEnded!({ id, endedAt: at });
      assert.ok(Array.isArray((await mcp.getMCPServerConfigs!({ userId: user.id })).externalAuthMcpConfigs));
      assert.deepEqual((await mcp.getMCPServerAccessTokensBatch!({ userId: user.id, mcpServerConfigIds: [] })).accessTokens, {});

      const interception = await t.db.selectFrom("aibridge_interceptions").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
      assert.equal(interception.initiator_id, user.id);
      assert.ok(interception.ended_at !== null);
      for (const table of ["aibridge_user_prompts", "aibridge_token_usages", "aibridge_tool_usages", "aibridge_model_thoughts"] as const) {
        const rows = await t.db.selectFrom(table).select("id").where("interception_id", "=", id).execute();
        assert.equal(rows.length, 1, table);
      }
    });
  });

  // The 1.1 RPCs as a gateway built from the released 1.1 image uses them: a change that renumbered
  // a 1.1 field (released as a later minor) left such gateways caching revoked keys, and only this
  // kind of test, not the 1.0 one, would see it.
  describe("a 1.1 client", () => {
    it("reads a key's expiry from IsAuthorized and hears which key was revoked", async () => {
      const Authorizer = (await (await generateReleased("1.1"))("authorizer_pb.ts")).Authorizer as DescService;
      assert.deepEqual(Authorizer.methods.map((m) => m.name).sort(), ["IsAuthorized", "WatchAuthorizationChanges"]);
      const gw = await insertGatewayKey(t.db);
      const user = await insertUser(t.db);
      const expiresAt = new Date("2030-01-02T03:04:05Z");
      const apiKey = await insertApiKey(t.db, user.id, { expiresAt });
      const transport = createConnectTransport({ httpVersion: "2", baseUrl: cp.url, sessionManager: sessions, interceptors: [announcing(gw.key, "1.1")] });
      type Change = { case?: string; value?: { apiKeyId?: string } };
      const authorizer = createClient(Authorizer, transport) as unknown as {
        isAuthorized(req: object): Promise<{ ownerId: string; keyExpiresAt?: { seconds: bigint } }>;
        watchAuthorizationChanges(req: object, options: object): AsyncIterable<{ change: Change }>;
      };

      const authorized = await authorizer.isAuthorized({ key: apiKey.key });
      assert.equal(authorized.ownerId, user.id);
      assert.equal(authorized.keyExpiresAt?.seconds, BigInt(expiresAt.getTime() / 1000));

      const abort = new AbortController();
      const changes: Change[] = [];
      const reading = (async () => {
        try {
          for await (const message of authorizer.watchAuthorizationChanges({}, { signal: abort.signal })) changes.push(message.change);
        } catch {
          // aborted below
        }
      })();
      try {
        await waitUntil(() => changes.length >= 1); // the stream's opening reset
        await t.db.deleteFrom("api_keys").where("id", "=", apiKey.id).execute();
        await waitUntil(() => changes.some((c) => c.case === "apiKey"));
      } finally {
        abort.abort();
        await reading;
      }
      assert.deepEqual(changes.filter((c) => c.case === "apiKey").map((c) => c.value?.apiKeyId), [apiKey.id]);
    });
  });
});

async function waitUntil(done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe(`a ${API_VERSION} gateway against a control plane that speaks 1.0`, () => {
  let url: string;
  let close: () => Promise<void>;
  let gatewayKey: string;
  before(async () => {
    gatewayKey = (await insertGatewayKey(t.db)).key;
    const usage = new GatewayKeyUsageTracker({ db: t.db, logger, clock: systemClock });
    const server = http2.createServer(
      connectNodeAdapter({
        routes: (router) => registerServices(router, { db: t.db, logger }),
        interceptors: [createGatewayAuthInterceptor({ db: t.db, logger, usage, apiVersion: "1.0" })],
      }),
    );
    const open = new Set<http2.ServerHttp2Session>();
    server.on("session", (s) => {
      open.add(s);
      s.once("close", () => open.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of open) s.destroy();
      await closed;
      await usage.close();
    };
  });
  after(() => close?.());

  it("is refused at start-up with FailedPrecondition naming both versions", async () => {
    const gateway = new Gateway({ controlPlaneUrl: url, gatewayKey, listen: { host: "127.0.0.1", port: 0 }, logger });
    await assert.rejects(gateway.start(), (err: unknown) => {
      assert.ok(err instanceof FatalStartupError, String(err));
      assert.equal(err.kind, "api_version");
      assert.ok(err.message.includes(`"${API_VERSION}"`), err.message);
      assert.ok(err.message.includes("server 1.0"), err.message);
      assert.equal(ConnectError.from(err.cause).code, Code.FailedPrecondition);
      return true;
    });
    await gateway.shutdown();
  });
});
