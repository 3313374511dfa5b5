// The single-process deployment, composed the way `weir control-plane --embedded-gateway` does
// it: a real ControlPlane on a real Postgres test database with an embedded Gateway on its
// in-process transport, mounted under the provider prefixes, and the LLM emulator as upstream.
// The only addition is a recording wrapper around the in-process transport, so tests can see
// which RPCs the gateway made for requests (and with what IsAuthorized request) — every call
// still goes to the real services; the authorization watch, a background stream, is not listed.
import type { Transport } from "@connectrpc/connect";
import pino from "pino";
import { bootstrapOwner, createControlPlane, type ControlPlane } from "@weir/controlplane";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { PROVIDER_ALIAS_PREFIXES, createEmbeddedGateway, type AuthorizedUser, type Gateway } from "@weir/gateway";
import { createLlmEmulator, type LlmEmulator } from "@weir/llm-emulator";
import { eventually } from "./stack.js";

export const CENTRAL_OPENAI_KEY = "sk-central-openai-embedded";
export const CENTRAL_ANTHROPIC_KEY = "sk-ant-central-embedded";

/** One RPC the embedded gateway made. */
export interface RecordedRpc {
  readonly method: string;
  readonly input: any;
}

export interface TestUser {
  readonly id: string;
  readonly username: string;
  /** The full API key (network callers). SECURITY: test key only. */
  readonly apiKey: string;
  /** Its id: what a delegated in-process caller knows. */
  readonly apiKeyId: string;
}

export interface EmbeddedStack {
  readonly database: TestDatabase;
  readonly controlPlane: ControlPlane;
  readonly gateway: Gateway;
  readonly emulator: LlmEmulator;
  readonly rpcs: RecordedRpc[];
  /** IsAuthorized requests made so far. */
  authorizations(): { key: string; keyId: string }[];
  createUser(username: string): Promise<TestUser>;
  /** An admin API call as the owner; its JSON answer (throws on a status of 300 or more). */
  admin(method: string, path: string, body?: unknown): Promise<any>;
  /** The stored interception `id` once it has ended (RecordInterceptionEnded arrived). */
  endedInterception(id: string): Promise<any>;
  /** Forgets recorded RPCs and upstream requests. */
  reset(): void;
  stop(): Promise<void>;
}

export interface EmbeddedStackOptions {
  readonly allowByok?: boolean;
  readonly onHandlerCreate?: (user: AuthorizedUser) => void | Promise<void>;
}

/** Records every call, then hands it to the real transport unchanged. */
function recordingTransport(inner: Transport, rpcs: RecordedRpc[]): Transport {
  return {
    unary(method, signal, timeoutMs, header, input, contextValues) {
      rpcs.push({ method: method.name, input });
      return inner.unary(method, signal, timeoutMs, header, input, contextValues);
    },
    stream(method, signal, timeoutMs, header, input, contextValues) {
      if (method.name !== "WatchAuthorizationChanges") rpcs.push({ method: method.name, input: undefined });
      return inner.stream(method, signal, timeoutMs, header, input, contextValues);
    },
  };
}

export async function startEmbeddedStack(options: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  const database = await createTestDatabase();
  const logger = pino({ level: "silent" });
  const emulator = createLlmEmulator();
  await emulator.start();
  let gateway: Gateway | undefined;
  const controlPlane = createControlPlane({
    listen: { host: "127.0.0.1", port: 0 },
    databaseUrl: database.url,
    logger,
    mounts: [{ prefixes: PROVIDER_ALIAS_PREFIXES, handler: (req, res) => gateway!.handler(req, res) }],
  });
  await controlPlane.start();
  const rpcs: RecordedRpc[] = [];
  gateway = createEmbeddedGateway({
    controlPlaneTransport: recordingTransport(controlPlane.createInProcessTransport(), rpcs),
    openai: { baseUrl: emulator.openaiBaseUrl, apiKey: CENTRAL_OPENAI_KEY },
    anthropic: { baseUrl: emulator.anthropicBaseUrl, apiKey: CENTRAL_ANTHROPIC_KEY },
    allowByok: options.allowByok ?? false,
    shutdownTimeoutMs: 5_000,
    recordFlushTimeoutMs: 5_000,
    logger,
    ...(options.onHandlerCreate ? { onHandlerCreate: options.onHandlerCreate } : {}),
  });
  await gateway.start();
  // Tests start from a gateway that hears revocations, and whose first reset (which drops every
  // pooled handler) cannot land in the middle of a test.
  const watching = gateway;
  try {
    await eventually("the embedded gateway's authorization watch", async () => ((await watching.metrics.authWatchConnected.get()).values[0]?.value === 1 ? true : undefined));
  } catch (err) {
    // Otherwise the servers left running keep the test process alive after the failure.
    await watching.shutdown();
    await controlPlane.shutdown();
    await emulator.shutdown();
    await database.drop();
    throw err;
  }

  const owner = await bootstrapOwner(database.db, { username: "owner" });
  const admin = async (method: string, path: string, body?: unknown): Promise<any> => {
    const res = await fetch(`${controlPlane.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${owner.key}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };

  return {
    database,
    controlPlane,
    gateway,
    emulator,
    rpcs,
    authorizations: () => rpcs.filter((r) => r.method === "IsAuthorized").map((r) => ({ key: r.input.key ?? "", keyId: r.input.keyId ?? "" })),
    admin,
    async createUser(username) {
      const user = await admin("POST", "/api/v2/users", { username, role: "member" });
      const key = await admin("POST", `/api/v2/users/${user.id}/keys`, { name: "embedded" });
      return { id: user.id, username, apiKey: key.key, apiKeyId: key.id };
    },
    endedInterception(id) {
      return eventually(`interception ${id} to end`, async () => {
        const row = await database.db.selectFrom("aibridge_interceptions").selectAll().where("id", "=", id).executeTakeFirst();
        return row?.ended_at ? row : undefined;
      });
    },
    reset() {
      rpcs.length = 0;
      emulator.clearRequests();
    },
    async stop() {
      // The single-process shutdown order: the gateway drains and flushes, then the control plane.
      await gateway!.shutdown();
      await controlPlane.shutdown();
      await emulator.shutdown();
      await database.drop();
    },
  };
}
