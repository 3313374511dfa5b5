// Recorder.RecordBatch (API 1.1) on real Postgres: a batch writes exactly the rows the per-record
// RPCs would (keyed by the envelope ids), applied in order (a start before its children, thread
// lineage to a tool call earlier in the same batch), idempotently (the same batch again writes
// nothing; an end is recorded once), with per-record rejections that do not stop the rest
// (malformed, unknown interception, refused by the database), and a whole-call failure when the
// database is down. A start and its end in one batch are stored as one finished row, with exactly
// the fields and counts an insert followed by an update would give.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { Recorder, type RecordEnvelopeSchema } from "@weir/proto";
import { sql } from "kysely";
import pino from "pino";
import { ControlPlaneMetrics, MAX_BATCH_RECORDS, createInProcessTransport } from "../index.js";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { DATABASE_UNAVAILABLE_MESSAGE } from "../rpc/connect-errors.js";
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
const tool = (interceptionId: string, toolCallId = "", createdAt = ts()): Envelope => ({
  id: randomUUID(),
  record: { case: "toolUsage", value: { interceptionId, msgId: "m1", tool: "get_weather", input: "{}", toolCallId, createdAt } },
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

  // Property: a value the database refuses (here a timestamp before 4713 BC, Postgres' first) is
  // isolated, not retried forever.
  it("rejects a record the database refuses and writes the others", async () => {
    const id = randomUUID();
    const refused: Envelope = { id: randomUUID(), record: { case: "promptUsage", value: { interceptionId: id, msgId: "m1", prompt: "hi", createdAt: ts(Date.UTC(-5000, 0, 1)) } } };
    const res = await recorder.recordBatch({ records: [start(id), refused, tokens(id), end(id)] });
    assert.deepEqual(res.rejected.map((r) => r.id), [refused.id]);
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
  it("fails the whole call with Unavailable when the database is down (the gateway retries it)", async () => {
    const unreachable = unreachableDatabase();
    try {
      const broken = createClient(Recorder, createInProcessTransport({ db: unreachable, logger }));
      await assert.rejects(broken.recordBatch({ records: lifecycle(randomUUID()) }), (err: unknown) => {
        const e = ConnectError.from(err);
        return e.code === Code.Unavailable && e.rawMessage === DATABASE_UNAVAILABLE_MESSAGE;
      });
    } finally {
      await unreachable.destroy();
    }
  });
});

/** What `call` added to records_written_total, by type (types it did not count are absent). */
async function writtenBy(call: () => Promise<unknown>): Promise<Record<string, number>> {
  const snapshot = async () => new Map((await metrics.recordsWritten.get()).values.map((v) => [String(v.labels.type), v.value]));
  const before = await snapshot();
  await call();
  const out: Record<string, number> = {};
  for (const [type, n] of await snapshot()) if (n !== (before.get(type) ?? 0)) out[type] = n - (before.get(type) ?? 0);
  return out;
}

const send = async (records: Envelope[]) => assert.deepEqual((await recorder.recordBatch({ records })).rejected, []);
const interception = (id: string) => t.db.selectFrom("aibridge_interceptions").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
const endedAt = new Date("2026-12-01T10:00:05Z");

describe("RecordBatch: a start and its end", () => {
  // Property: the row a start and its end in one batch make is the row the start followed by the
  // end makes, for every hint rule and error; counted as one start and one end.
  const cases = [
    { name: "centralized: a non-empty end hint replaces the start's", kind: "centralized", startHint: "sk-...start", endHint: "sk-...end", want: "sk-...end" },
    { name: "centralized: an empty end hint keeps the start's", kind: "centralized", startHint: "sk-...start", endHint: "", want: "sk-...start" },
    { name: "byok: the start's hint stays", kind: "byok", startHint: "sk-...start", endHint: "sk-...end", want: "sk-...start" },
    { name: "unknown kind is centralized", kind: "", startHint: "", endHint: "sk-...end", want: "sk-...end" },
  ];
  for (const sameBatch of [true, false]) {
    for (const c of cases) {
      it(`${sameBatch ? "in one batch" : "in two batches"}: ${c.name}`, async () => {
        const id = randomUUID();
        const first = start(id, { credentialKind: c.kind, credentialHint: c.startHint });
        const last = end(id, { credentialHint: c.endHint, errorType: "upstream_error", errorMessage: "502 from upstream" });
        const written = await writtenBy(async () => {
          if (sameBatch) await send([first, prompt(id), last]);
          else {
            await send([first, prompt(id)]);
            await send([last]);
          }
        });
        assert.deepEqual(written, { interception_start: 1, prompt_usage: 1, interception_end: 1 });
        const row = await interception(id);
        assert.equal(row.credential_hint, c.want);
        assert.equal(row.credential_kind, c.kind === "byok" ? "byok" : "centralized");
        assert.deepEqual([row.ended_at, row.error_type, row.error_message], [endedAt, "upstream_error", "502 from upstream"]);
      });
    }
  }

  it("in one batch: no error and no end hint leave those columns empty", async () => {
    const id = randomUUID();
    await send([start(id, { credentialHint: "sk-...start" }), end(id)]);
    const row = await interception(id);
    assert.deepEqual([row.ended_at, row.error_type, row.error_message, row.credential_hint], [endedAt, null, null, "sk-...start"]);
  });

  // Property (cost): a start and its end in one batch are stored as one row version, with no
  // UPDATE; an end whose start is already stored is an UPDATE, as before.
  it("stores a start and its end in one batch without updating the row", async () => {
    await sql`
      CREATE TABLE test_interception_updates (id uuid NOT NULL);
      CREATE FUNCTION test_note_interception_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO test_interception_updates VALUES (NEW.id); RETURN NULL; END $$;
      CREATE TRIGGER test_note_interception_update AFTER UPDATE ON aibridge_interceptions
        FOR EACH ROW EXECUTE FUNCTION test_note_interception_update();`.execute(t.db);
    try {
      const [whole, split] = [randomUUID(), randomUUID()];
      await send([start(split)]);
      await send([start(whole), prompt(whole), end(whole), end(split)]);
      const updated = await t.db.selectFrom("test_interception_updates" as never).select("id" as never).execute();
      assert.deepEqual(updated, [{ id: split }]);
      assert.deepEqual(await rows([whole, split]), { interceptions: 2, ended: 2, tokens: 0, prompts: 1, tools: 0, thoughts: 0 });
    } finally {
      await sql`
        DROP TRIGGER test_note_interception_update ON aibridge_interceptions;
        DROP FUNCTION test_note_interception_update();
        DROP TABLE test_interception_updates;`.execute(t.db);
    }
  });

  // Property (exactly-once): whatever an earlier attempt stored, a retry ends an interception
  // once, with its first end, and counts only what it wrote itself.
  const retries = [
    { name: "the same batch again", first: (s: Envelope, e: Envelope) => [s, e], then: (s: Envelope, e: Envelope) => [s, e], want: {}, errorType: "internal" },
    { name: "the start stored alone first", first: (s: Envelope) => [s], then: (s: Envelope, e: Envelope) => [s, e], want: { interception_end: 1 }, errorType: "internal" },
    { name: "the start and another end stored first", first: (s: Envelope) => [s, end(s.id!, { errorType: "timeout" })], then: (s: Envelope, e: Envelope) => [s, e], want: {}, errorType: "timeout" },
    { name: "only the end again", first: (s: Envelope, e: Envelope) => [s, e], then: (_: Envelope, e: Envelope) => [e], want: {}, errorType: "internal" },
  ];
  for (const c of retries) {
    it(`retried: ${c.name}`, async () => {
      const id = randomUUID();
      const [s, e] = [start(id), end(id, { errorType: "internal" })];
      await send(c.first(s, e));
      assert.deepEqual(await writtenBy(() => send(c.then(s, e))), c.want);
      assert.deepEqual(await rows([id]), { interceptions: 1, ended: 1, tokens: 0, prompts: 0, tools: 0, thoughts: 0 });
      assert.equal((await interception(id)).error_type, c.errorType);
    });
  }

  // Property: records of an interception started in the same batch need no lookup, the others
  // still do: a record for an interception that is not stored, or only started later in the
  // batch after a lineage break, is rejected as before.
  it("rejects records of interceptions not stored before their segment", async () => {
    const [parent, late, unknown] = [randomUUID(), randomUUID(), randomUUID()];
    const callId = `call_${randomUUID()}`;
    const early = prompt(late); // before `late` starts, in the segment the lineage break ends
    const orphanTool = tool(unknown);
    const orphanEnd = end(unknown);
    const res = await recorder.recordBatch({
      records: [start(parent), tool(parent, callId), early, orphanTool, orphanEnd, start(late, { correlatingToolCallId: callId }), prompt(late), end(late), end(parent)],
    });
    assert.deepEqual(
      res.rejected.map((r) => ({ id: r.id, reason: r.reason })),
      [
        { id: early.id!, reason: `interception ${late} not found` },
        { id: orphanTool.id!, reason: `interception ${unknown} not found` },
        { id: orphanEnd.id!, reason: `interception ${unknown} not found` },
      ],
    );
    assert.deepEqual(await rows([parent, late]), { interceptions: 2, ended: 2, tokens: 0, prompts: 1, tools: 1, thoughts: 0 });
    assert.equal((await interception(late)).thread_parent_id, parent);
  });
});

describe("RecordBatch: thread lineage", () => {
  // Property: a start's parent is the interception of the latest tool usage with its correlating
  // call id, whether that was recorded in an earlier batch or earlier in the same batch; its root
  // is the parent's root, or the parent.
  it("links a chain recorded across and within batches", async () => {
    const [root, child, grandchild, other, orphan] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const [rootCall, childCall] = [`call_${randomUUID()}`, `call_${randomUUID()}`];
    await send([start(root), tool(root, rootCall), end(root)]);
    await send([
      start(child, { correlatingToolCallId: rootCall }),
      tool(child, childCall),
      end(child),
      start(grandchild, { correlatingToolCallId: childCall }),
      end(grandchild),
      start(other),
      // a later tool usage with the same call id is the one that counts
      tool(other, childCall, ts(Date.parse("2026-12-01T10:00:09Z"))),
      start(orphan, { correlatingToolCallId: `call_${randomUUID()}` }),
      end(other),
      end(orphan),
    ]);
    const lineage = async (id: string) => {
      const row = await interception(id);
      return [row.thread_parent_id, row.thread_root_id];
    };
    assert.deepEqual(await lineage(root), [null, null]);
    assert.deepEqual(await lineage(child), [root, root]);
    assert.deepEqual(await lineage(grandchild), [child, root]);
    assert.deepEqual(await lineage(orphan), [null, null]);
    const later = randomUUID();
    await send([start(later, { correlatingToolCallId: childCall }), end(later)]);
    assert.deepEqual(await lineage(later), [other, other]);
    // Another user's request carrying the call id joins no thread of this user's.
    const intruder = randomUUID();
    await send([start(intruder, { correlatingToolCallId: childCall, initiatorId: "00000000-0000-4000-8000-000000000002" }), end(intruder)]);
    assert.deepEqual(await lineage(intruder), [null, null]);
  });
});
