// Recorder.RecordBatch (API 1.1) on real Postgres: a batch writes exactly the rows the per-record
// RPCs would (keyed by the envelope ids), applied in order (a start before its children, thread
// lineage to a tool call earlier in the same batch), idempotently (the same batch again writes
// nothing; an end is recorded once), with per-record rejections that do not stop the rest
// (malformed, unknown interception, refused by the database), and a whole-call failure when the
// database is down.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { Recorder, type RecordEnvelopeSchema } from "@weir/proto";
import pino from "pino";
import { ControlPlaneMetrics, MAX_BATCH_RECORDS, createInProcessTransport } from "../index.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { unreachableDatabase } from "../testing/rpc-fixtures.js";

type Envelope = MessageInitShape<typeof RecordEnvelopeSchema>;

const logger = pino({ level: "silent" });
const ts = (ms = Date.parse("2026-12-01T10:00:00Z")) => timestampFromDate(new Date(ms));

let t: TestDatabase;
let recorder: Client<typeof Recorder>;
const metrics = new ControlPlaneMetrics({ collectDefaultMetrics: false });
before(async () => {
  t = await createTestDatabase();
  recorder = createClient(Recorder, createInProcessTransport({ db: t.db, logger, metrics }));
});
after(async () => {
  await t?.drop();
});

// Envelope builders: one per record type, each with a fresh envelope id.
const start = (id: string, over: Record<string, unknown> = {}): Envelope => ({
  id,
  record: {
    case: "interception",
    value: { id, initiatorId: "00000000-0000-4000-8000-000000000001", apiKeyId: "abcdefghij", provider: "openai", model: "gpt-4o", startedAt: ts(), ...over },
  },
});
const prompt = (interceptionId: string, text = "hi"): Envelope => ({ id: randomUUID(), record: { case: "promptUsage", value: { interceptionId, msgId: "m1", prompt: text, createdAt: ts() } } });
const tokens = (interceptionId: string, input = 10n): Envelope => ({
  id: randomUUID(),
  record: { case: "tokenUsage", value: { interceptionId, msgId: "m1", inputTokens: input, outputTokens: 5n, createdAt: ts() } },
});
const tool = (interceptionId: string, toolCallId = ""): Envelope => ({
  id: randomUUID(),
  record: { case: "toolUsage", value: { interceptionId, msgId: "m1", tool: "get_weather", input: "{}", toolCallId, createdAt: ts() } },
});
const thought = (interceptionId: string): Envelope => ({ id: randomUUID(), record: { case: "modelThought", value: { interceptionId, content: "hmm", createdAt: ts() } } });
const end = (interceptionId: string, over: Record<string, unknown> = {}): Envelope => ({
  id: randomUUID(),
  record: { case: "interceptionEnded", value: { id: interceptionId, endedAt: ts(Date.parse("2026-12-01T10:00:05Z")), ...over } },
});
const lifecycle = (id: string): Envelope[] => [start(id), prompt(id), tokens(id), tool(id), thought(id), end(id)];

/** Rows per table for these interceptions. */
async function rows(ids: string[]): Promise<Record<string, number>> {
  const count = async (table: "aibridge_token_usages" | "aibridge_user_prompts" | "aibridge_tool_usages" | "aibridge_model_thoughts") =>
    Number((await t.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as("n")).where("interception_id", "in", ids).executeTakeFirstOrThrow()).n);
  const interceptions = await t.db.selectFrom("aibridge_interceptions").select(["id", "ended_at"]).where("id", "in", ids).execute();
  return {
    interceptions: interceptions.length,
    ended: interceptions.filter((i) => i.ended_at !== null).length,
    tokens: await count("aibridge_token_usages"),
    prompts: await count("aibridge_user_prompts"),
    tools: await count("aibridge_tool_usages"),
    thoughts: await count("aibridge_model_thoughts"),
  };
}

describe("RecordBatch", () => {
  it("writes two interceptions' whole lives in one call, child rows keyed by the envelope ids", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const batch = [...lifecycle(a), ...lifecycle(b)];
    const res = await recorder.recordBatch({ records: batch });
    assert.deepEqual(res.rejected, []);
    assert.deepEqual(await rows([a, b]), { interceptions: 2, ended: 2, tokens: 2, prompts: 2, tools: 2, thoughts: 2 });
    const tokenRow = await t.db.selectFrom("aibridge_token_usages").selectAll().where("interception_id", "=", a).executeTakeFirstOrThrow();
    assert.equal(tokenRow.id, batch[2]!.id);
    assert.equal(tokenRow.input_tokens, "10");
  });

  // Property (exactly-once storage): the same batch again — a retry after a lost answer — writes nothing.
  it("writes nothing twice when the same batch is sent again", async () => {
    const id = randomUUID();
    const batch = lifecycle(id);
    await recorder.recordBatch({ records: batch });
    const written = await metrics.recordsWritten.get();
    const again = await recorder.recordBatch({ records: batch });
    assert.deepEqual(again.rejected, []);
    assert.deepEqual(await rows([id]), { interceptions: 1, ended: 1, tokens: 1, prompts: 1, tools: 1, thoughts: 1 });
    assert.deepEqual((await metrics.recordsWritten.get()).values, written.values, "nothing counted as written");
  });

  it("records an interception's end once: the first end wins, also within one batch", async () => {
    const id = randomUUID();
    await recorder.recordBatch({ records: [start(id), end(id, { errorType: "timeout" }), end(id, { errorType: "internal" })] });
    await recorder.recordBatch({ records: [end(id, { errorType: "upstream_error" })] });
    const row = await t.db.selectFrom("aibridge_interceptions").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    assert.equal(row.error_type, "timeout");
  });

  // Property: order within a batch: a start resolves its thread parent from a tool call recorded
  // earlier in the same batch.
  it("applies records in order: lineage to a tool call earlier in the same batch", async () => {
    const [parent, child] = [randomUUID(), randomUUID()];
    const callId = `call_${randomUUID()}`;
    const res = await recorder.recordBatch({ records: [start(parent), tool(parent, callId), end(parent), start(child, { correlatingToolCallId: callId }), end(child)] });
    assert.deepEqual(res.rejected, []);
    const row = await t.db.selectFrom("aibridge_interceptions").selectAll().where("id", "=", child).executeTakeFirstOrThrow();
    assert.equal(row.thread_parent_id, parent);
    assert.equal(row.thread_root_id, parent);
  });

  // Property: a record that can never be written is reported and does not poison the batch.
  it("rejects malformed records and records of unknown interceptions, writing the rest", async () => {
    const [id, unknown] = [randomUUID(), randomUUID()];
    const badId: Envelope = { ...prompt(id), id: "not-a-uuid" };
    const negative = tokens(id, -1n);
    const orphan = tokens(unknown);
    const orphanEnd = end(unknown);
    const empty: Envelope = { id: randomUUID(), record: { case: undefined } };
    const batch = [start(id), badId, negative, orphan, empty, prompt(id), orphanEnd, end(id)];
    const res = await recorder.recordBatch({ records: batch });
    assert.deepEqual(
      res.rejected.map((r) => ({ id: r.id, reason: r.reason })).sort((x, y) => x.id.localeCompare(y.id)),
      [
        { id: "not-a-uuid", reason: "invalid id: not a UUID" },
        { id: negative.id!, reason: "invalid input_tokens: negative" },
        { id: orphan.id!, reason: `interception ${unknown} not found` },
        { id: empty.id!, reason: "invalid record: required" },
        { id: orphanEnd.id!, reason: `interception ${unknown} not found` },
      ].sort((x, y) => x.id.localeCompare(y.id)),
    );
    assert.deepEqual(await rows([id]), { interceptions: 1, ended: 1, tokens: 0, prompts: 1, tools: 0, thoughts: 0 });
  });

  // Property: a value the database refuses (here a NUL character) is isolated, not retried forever.
  it("rejects a record the database refuses and writes the others", async () => {
    const id = randomUUID();
    const nul = prompt(id, "bad \u0000 byte");
    const res = await recorder.recordBatch({ records: [start(id), nul, tokens(id), end(id)] });
    assert.deepEqual(res.rejected.map((r) => r.id), [nul.id]);
    assert.match(res.rejected[0]!.reason, /^refused by the database \(SQLSTATE 22\w{3}\)$/);
    assert.deepEqual(await rows([id]), { interceptions: 1, ended: 1, tokens: 1, prompts: 0, tools: 0, thoughts: 0 });
  });

  it("accepts an empty batch (how gateways detect RecordBatch)", async () => {
    assert.deepEqual((await recorder.recordBatch({ records: [] })).rejected, []);
  });

  it(`refuses a batch of more than ${MAX_BATCH_RECORDS} records as a whole`, async () => {
    const id = randomUUID();
    const records = Array.from({ length: MAX_BATCH_RECORDS + 1 }, () => prompt(id));
    await assert.rejects(recorder.recordBatch({ records }), (err: unknown) => ConnectError.from(err).code === Code.InvalidArgument);
  });

  // Property: a transient failure stores nothing and fails the whole call: the gateway retries it.
  it("fails the whole call with Internal when the database is down", async () => {
    const unreachable = unreachableDatabase();
    try {
      const broken = createClient(Recorder, createInProcessTransport({ db: unreachable, logger }));
      await assert.rejects(broken.recordBatch({ records: lifecycle(randomUUID()) }), (err: unknown) => {
        const e = ConnectError.from(err);
        return e.code === Code.Internal && e.rawMessage === "internal error";
      });
    } finally {
      await unreachable.destroy();
    }
  });
});
