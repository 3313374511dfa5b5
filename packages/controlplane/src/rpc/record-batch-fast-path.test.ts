// RecordBatch over the network: binary calls (Connect and gRPC) are routed to the fast path and
// JSON calls to the generated descriptor, and both answer and store exactly the same. Neither
// reads a body before the caller is authenticated (the gateway key gate), so an unauthenticated
// call with a broken body is refused as Unauthenticated; with a key, the fast path refuses an
// oversized batch before decoding any record.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { Client, Transport } from "@connectrpc/connect";
import { Http2SessionManager, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Recorder } from "@weir/proto";
import type { RecordEnvelopeSchema } from "@weir/proto";
import pino from "pino";
import { createControlPlane, type ControlPlane } from "../index.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { gatewayHeaders, insertGatewayKey, type GatewayKeyFixture } from "../testing/rpc-fixtures.js";
import { RECORD_BATCH_PATH, isBinaryRecordBatch } from "./record-batch-fast-path.js";

type Envelope = MessageInitShape<typeof RecordEnvelopeSchema>;

const logger = pino({ level: "silent" });
const at = timestampFromDate(new Date("2026-12-02T10:00:00Z"));

describe("isBinaryRecordBatch", () => {
  const cases: [string | undefined, string, string | undefined, boolean][] = [
    ["POST", RECORD_BATCH_PATH, "application/proto", true],
    ["POST", RECORD_BATCH_PATH, "Application/Proto; charset=utf-8", true],
    ["POST", RECORD_BATCH_PATH, "application/grpc", true],
    ["POST", RECORD_BATCH_PATH, "application/grpc+proto", true],
    ["POST", RECORD_BATCH_PATH, "application/grpc-web+proto", true],
    ["POST", RECORD_BATCH_PATH, "application/json", false],
    ["POST", RECORD_BATCH_PATH, "application/grpc+json", false],
    ["POST", RECORD_BATCH_PATH, undefined, false],
    ["GET", RECORD_BATCH_PATH, "application/proto", false],
    ["POST", "/weir.gateway.v1.Recorder/RecordInterception", "application/proto", false],
  ];
  for (const [method, path, type, want] of cases) {
    it(`${method} ${path} ${type ?? "(no content type)"} → ${want}`, () => assert.equal(isBinaryRecordBatch(method, path, type), want));
  }
});

describe("RecordBatch over the network: binary fast path and JSON alike", () => {
  let t: TestDatabase;
  let cp: ControlPlane;
  let gw: GatewayKeyFixture;
  const sessions: Http2SessionManager[] = [];
  const transports: Record<"connect binary" | "connect json" | "grpc", Transport> = {} as never;

  before(async () => {
    t = await createTestDatabase();
    cp = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: t.url, logger });
    await cp.start();
    gw = await insertGatewayKey(t.db);
    const session = (): Http2SessionManager => {
      const s = new Http2SessionManager(cp.url);
      sessions.push(s);
      return s;
    };
    transports["connect binary"] = createConnectTransport({ httpVersion: "2", baseUrl: cp.url, sessionManager: session() });
    transports["connect json"] = createConnectTransport({ httpVersion: "2", baseUrl: cp.url, sessionManager: session(), useBinaryFormat: false });
    transports.grpc = createGrpcTransport({ baseUrl: cp.url, sessionManager: session() });
  });
  after(async () => {
    for (const s of sessions) s.abort();
    await cp?.shutdown();
    await t?.drop();
  });

  const batch = (id: string): Envelope[] => {
    const usage: Envelope = { id: randomUUID(), record: { case: "tokenUsage", value: { interceptionId: id, msgId: "m1", inputTokens: 1234n, outputTokens: 56n, cacheReadInputTokens: 7n, createdAt: at } } };
    return [
      { id, record: { case: "interception", value: { id, initiatorId: "00000000-0000-4000-8000-000000000001", apiKeyId: "abcdefghij", provider: "openai", model: "gpt-4o", startedAt: at } } },
      { id: randomUUID(), record: { case: "promptUsage", value: { interceptionId: id, msgId: "m1", prompt: "héllo", createdAt: at } } },
      usage,
      usage, // the same envelope twice is one record
      { id: "not-a-uuid", record: { case: "modelThought", value: { interceptionId: id, content: "x", createdAt: at } } },
      { id: randomUUID(), record: { case: "interceptionEnded", value: { id, endedAt: at, errorType: "timeout", errorMessage: "upstream request timed out" } } },
    ];
  };

  for (const name of ["connect binary", "connect json", "grpc"] as const) {
    it(`${name}: stores the batch and rejects the malformed record`, async () => {
      const recorder: Client<typeof Recorder> = createClient(Recorder, transports[name]);
      const id = randomUUID();
      const res = await recorder.recordBatch({ records: batch(id) }, { headers: gatewayHeaders(gw.key) });
      assert.deepEqual(
        res.rejected.map((r) => ({ id: r.id, reason: r.reason })),
        [{ id: "not-a-uuid", reason: "invalid id: not a UUID" }],
      );
      const row = await t.db.selectFrom("aibridge_interceptions").select(["model", "ended_at"]).where("id", "=", id).executeTakeFirstOrThrow();
      assert.equal(row.model, "gpt-4o");
      assert.ok(row.ended_at !== null);
      const usage = await t.db.selectFrom("aibridge_token_usages").select(["input_tokens", "output_tokens"]).where("interception_id", "=", id).execute();
      assert.deepEqual(usage.map((u) => [Number(u.input_tokens), Number(u.output_tokens)]), [[1234, 56]]);
      const prompts = await t.db.selectFrom("aibridge_user_prompts").select("prompt").where("interception_id", "=", id).execute();
      assert.deepEqual(prompts.map((p) => p.prompt), ["héllo"]);
    });
  }

  it("connect binary: refuses a caller without a gateway key", async () => {
    const recorder = createClient(Recorder, transports["connect binary"]);
    await assert.rejects(recorder.recordBatch({ records: batch(randomUUID()) }, { headers: gatewayHeaders(null) }), (err) => {
      return err instanceof ConnectError && err.code === Code.Unauthenticated;
    });
  });

  /** One raw unary Connect call over HTTP/2: status and JSON error body. */
  const raw = async (contentType: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: { code?: string; message?: string } }> => {
    const client = http2.connect(cp.url);
    try {
      const req = client.request({ ":method": "POST", ":path": RECORD_BATCH_PATH, "content-type": contentType, "connect-protocol-version": "1", ...headers });
      req.end(body);
      const [status, text] = await new Promise<[number, string]>((resolve, reject) => {
        let s = 0;
        let out = "";
        req.on("response", (h) => (s = Number(h[":status"])));
        req.setEncoding("utf8");
        req.on("data", (c: string) => (out += c));
        req.on("end", () => resolve([s, out]));
        req.on("error", reject);
      });
      return { status, body: JSON.parse(text) as { code?: string; message?: string } };
    } finally {
      client.close();
    }
  };

  // records[0] = bytes that are not a RecordEnvelope (a field 1 string running past the end).
  const broken = Buffer.from([0x0a, 0x03, 0x0a, 0x7f, 0x61]);

  it("binary, broken body: the fast path authenticates before it decodes", async () => {
    const res = await raw("application/proto", broken, {});
    assert.equal(res.status, 401);
    assert.equal(res.body.code, "unauthenticated");
  });

  it("binary, broken body, with a gateway key: the parse error Connect itself would give", async () => {
    const res = await raw("application/proto", broken, gatewayHeaders(gw.key));
    assert.equal(res.status, 500);
    assert.equal(res.body.code, "internal");
    assert.match(res.body.message ?? "", /^parse binary: /);
  });

  it("JSON, broken body: refused as well before the body is read (the key gate)", async () => {
    const res = await raw("application/json", Buffer.from("{"), {});
    assert.equal(res.body.code, "unauthenticated");
    assert.equal((await raw("application/json", Buffer.from("{"), gatewayHeaders(gw.key))).body.code, "invalid_argument");
  });

  it("binary, more records than a batch takes: refused before any is decoded", async () => {
    // 5,001 envelopes that do not decode (as `broken`): decoded, the first would fail the call.
    const tooMany = Buffer.alloc(broken.length * 5_001, broken);
    const res = await raw("application/proto", tooMany, gatewayHeaders(gw.key));
    assert.deepEqual([res.status, res.body.code], [400, "invalid_argument"]);
    assert.match(res.body.message ?? "", /more than 5000 in one batch/);
  });
});
