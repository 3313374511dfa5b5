// At-least-once delivery, exactly-once storage (API 1.1), end to end on real Postgres: the
// gateway's record queue and control-plane client against the control plane's real services,
// where the connection drops AFTER the database committed a batch (so the gateway never hears
// that it was stored) — twice. The gateway retries the same batch, and every table holds
// exactly the rows the requests made: none lost, none twice.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import pino from "pino";
import { GatewayKeyUsageTracker, createGatewayAuthInterceptor, registerServices, systemClock } from "@weir/controlplane";
import { createTestDatabase, insertGatewayKey, type TestDatabase } from "@weir/controlplane/testing";
import {
  ControlPlaneClient,
  RecordQueue,
  createGatewayMetrics,
  endedRecord,
  interceptionRecord,
  promptRecord,
  tokenUsageRecord,
  toolUsageRecord,
  type GatewayRecord,
} from "@weir/gateway";

const logger = pino({ level: "silent" });

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

/** The control plane's services over h2c; the `drop` batches after the first are stored, then the connection is cut. */
async function serve(drop: number): Promise<{ url: string; dropped: () => number; close(): Promise<void> }> {
  const usage = new GatewayKeyUsageTracker({ db: t.db, logger, clock: systemClock });
  const rpc = connectNodeAdapter({
    routes: (router) => registerServices(router, { db: t.db, logger }),
    interceptors: [createGatewayAuthInterceptor({ db: t.db, logger, usage })],
  });
  let batches = 0;
  let dropped = 0;
  const server = http2.createServer((req, res) => {
    // The first RecordBatch is the client's capability check; the next `drop` lose their answer.
    if (req.url?.endsWith("/RecordBatch") && ++batches >= 2 && dropped < drop) {
      dropped += 1;
      // writeHead runs once the handler finished, i.e. after the transaction committed.
      res.writeHead = (() => {
        req.stream.session?.destroy();
        return res;
      }) as typeof res.writeHead;
    }
    rpc(req, res);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    dropped: () => dropped,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sessions) s.destroy();
      await closed;
      await usage.close();
    },
  };
}

/** The records one request makes, as the gateway builds them. */
function lifecycle(ownerId: string, apiKeyId: string): GatewayRecord[] {
  const id = randomUUID();
  const at = Date.now();
  return [
    interceptionRecord({
      id,
      initiatorId: ownerId,
      apiKeyId,
      username: "u",
      provider: "openai",
      model: "gpt-4o",
      client: "Unknown",
      clientSessionId: undefined,
      userAgent: "",
      credentialKind: "centralized",
      credentialHint: "",
      correlatingToolCallId: undefined,
      startedAtMs: at,
    }),
    promptRecord(id, "m", "hi", at),
    tokenUsageRecord(id, "m", { input: 3, output: 4, cacheRead: 0, cacheWrite: 0, extras: {} }, at),
    toolUsageRecord(id, "m", { id: "call_1", name: "t", input: "{}", itemId: "" }, at),
    endedRecord(id, "", at, undefined),
  ];
}

describe("a batch whose answer is lost after the commit", () => {
  it("is retried and stored exactly once", async () => {
    const server = await serve(2);
    const { key: gatewayKey } = await insertGatewayKey(t.db);
    const metrics = createGatewayMetrics();
    const client = new ControlPlaneClient({ baseUrl: server.url, gatewayKey, apiVersion: "1.1", rpcTimeoutMs: 2_000, logger, authCache: false });
    const queue = new RecordQueue<GatewayRecord>({
      send: (records, signal) => client.sendRecords(records, signal),
      classify: (err, size) => client.classifyRecordError(err, size),
      logger,
      metrics,
      limits: { maxRecords: 256, maxInFlight: 2, lingerMs: 20, maxBytes: 1 << 20 },
    });
    try {
      await client.start();
      assert.equal(client.recordsInBatches, true);
      const requests = Array.from({ length: 10 }, () => lifecycle(randomUUID(), "abcdefghij"));
      for (const records of requests) for (const r of records) assert.equal(queue.enqueue(r), true);
      assert.equal(await queue.flush(10_000), 0, "every record was delivered");
      assert.equal(server.dropped(), 2, "two batches were stored and their answers lost");
      assert.ok((await metrics.recordsRetriedTotal.get()).values.reduce((n, v) => n + v.value, 0) > 0, "something was retried");
      const ids = requests.map((r) => r[0]!.id);
      const count = async (table: "aibridge_token_usages" | "aibridge_user_prompts" | "aibridge_tool_usages") =>
        Number((await t.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as("n")).where("interception_id", "in", ids).executeTakeFirstOrThrow()).n);
      const interceptions = await t.db.selectFrom("aibridge_interceptions").select(["id", "ended_at"]).where("id", "in", ids).execute();
      assert.equal(interceptions.length, 10);
      assert.equal(interceptions.filter((i) => i.ended_at !== null).length, 10);
      assert.equal(await count("aibridge_user_prompts"), 10);
      assert.equal(await count("aibridge_token_usages"), 10);
      assert.equal(await count("aibridge_tool_usages"), 10);
    } finally {
      queue.close();
      client.close();
      await server.close();
    }
  });
});
