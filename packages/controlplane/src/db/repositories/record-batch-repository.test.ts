// writeRecordBatch on real Postgres, at the level where one statement's snapshot matters: a batch
// of one segment is ONE statement (no BEGIN/COMMIT), whose parts do not see each other's rows;
// every case below writes what the statements run one after the other would write, with the
// same rejections in the same order and the same counts in the same order.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { writeRecordBatch, type BatchRecord, type BatchRecordKind, type Database } from "../../index.js";
import { createTestDatabase, type TestDatabase } from "../../testing/index.js";

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

type Start = Extract<BatchRecord, { kind: "interception_start" }>;
type End = Extract<BatchRecord, { kind: "interception_end" }>;

const at = (s = 0) => new Date(Date.parse("2026-12-01T10:00:00Z") + s * 1000);

// Record builders: one per kind, each with a fresh envelope id.
const start = (id: string, over: Partial<Start["start"]> = {}): BatchRecord => ({
  kind: "interception_start",
  id,
  start: {
    id,
    initiatorId: "00000000-0000-4000-8000-000000000001",
    apiKeyId: "abcdefghij",
    provider: "openai",
    providerName: "openai",
    model: "gpt-4o",
    metadata: {},
    startedAt: at(),
    client: "",
    clientSessionId: null,
    correlatingToolCallId: null,
    credentialKind: "centralized",
    credentialHint: "",
    agentFirewallSessionId: null,
    agentFirewallSequenceNumber: null,
    ...over,
  },
});
const end = (id: string, over: Partial<End["end"]> = {}): BatchRecord => ({
  kind: "interception_end",
  id: randomUUID(),
  end: { id, endedAt: at(5), credentialHint: "", errorType: null, errorMessage: null, ...over },
});
const prompt = (interceptionId: string, createdAt = at(1)): BatchRecord => ({
  kind: "prompt_usage",
  id: randomUUID(),
  row: { interceptionId, providerResponseId: "m1", prompt: "hi", metadata: {}, createdAt },
});
/** Before 4713 BC, Postgres' first timestamp: a value it refuses. */
const beforePostgresTime = new Date(Date.UTC(-5000, 0, 1));
const tokens = (interceptionId: string): BatchRecord => ({
  kind: "token_usage",
  id: randomUUID(),
  row: { interceptionId, providerResponseId: "m1", inputTokens: "10", outputTokens: "5", cacheReadInputTokens: "0", cacheWriteInputTokens: "0", metadata: {}, createdAt: at(2) },
});
const tool = (interceptionId: string, toolCallId = "", createdAt = at(3)): BatchRecord => ({
  kind: "tool_usage",
  id: randomUUID(),
  row: { interceptionId, providerResponseId: "m1", providerToolCallId: toolCallId, providerItemId: "", serverUrl: null, tool: "get_weather", input: "{}", injected: false, invocationError: null, metadata: {}, createdAt },
});
const thought = (interceptionId: string): BatchRecord => ({
  kind: "model_thought",
  id: randomUUID(),
  row: { interceptionId, content: "hmm", metadata: {}, createdAt: at(4) },
});

/** The interception a record belongs to. */
const interceptionOf = (r: BatchRecord): string => (r.kind === "interception_start" ? r.start.id : r.kind === "interception_end" ? r.end.id : r.row.interceptionId);

const interception = (id: string) => t.db.selectFrom("aibridge_interceptions").selectAll().where("id", "=", id).executeTakeFirst();

async function childRows(interceptionId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ["aibridge_token_usages", "aibridge_user_prompts", "aibridge_tool_usages", "aibridge_model_thoughts"] as const) {
    const { n } = await t.db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as("n")).where("interception_id", "=", interceptionId).executeTakeFirstOrThrow();
    if (Number(n) > 0) out[table.replace("aibridge_", "")] = Number(n);
  }
  return out;
}

/** Fresh interception ids for a case. */
const fresh = () => ({ a: randomUUID(), b: randomUUID(), c: randomUUID(), unknown: randomUUID(), call: `call_${randomUUID()}` });
type Ids = ReturnType<typeof fresh>;

interface Case {
  name: string;
  /** Batches written first (earlier batches, or an earlier attempt of the same one). */
  before?: (ids: Ids) => BatchRecord[][];
  batch: (ids: Ids, earlier: BatchRecord[][]) => BatchRecord[];
  /** Indexes into the batch of the records rejected as "interception <id> not found", in order. */
  rejected?: number[];
  written: [BatchRecordKind, number][];
  /** Per interception: whether it is ended, its error type, and its thread parent (by name). */
  want: Partial<Record<keyof Ids, { ended: boolean; errorType?: string | null; parent?: keyof Ids | null; children?: Record<string, number> }>>;
}

describe("writeRecordBatch: what one statement sees", () => {
  const cases: Case[] = [
    {
      // Property: a child of an interception started in the same statement needs no stored row.
      name: "a child of an interception started in the same batch is written",
      batch: ({ a }) => [start(a), prompt(a), tokens(a)],
      written: [["interception_start", 1], ["prompt_usage", 1], ["token_usage", 1]],
      want: { a: { ended: false, children: { user_prompts: 1, token_usages: 1 } } },
    },
    {
      // Property: the end of a start in the same statement is written by the insert (the UPDATE
      // cannot see that row), with the first end's fields.
      name: "an end of an interception started in the same batch",
      batch: ({ a }) => [start(a), end(a, { errorType: "timeout" }), end(a, { errorType: "internal" })],
      written: [["interception_start", 1], ["interception_end", 1]],
      want: { a: { ended: true, errorType: "timeout" } },
    },
    {
      // Property: the statement's UPDATE ends interceptions stored before it.
      name: "an end of an interception started in an earlier batch",
      before: ({ a }) => [[start(a)]],
      batch: ({ a }) => [prompt(a), end(a, { errorType: "timeout" })],
      written: [["prompt_usage", 1], ["interception_end", 1]],
      want: { a: { ended: true, errorType: "timeout", children: { user_prompts: 1 } } },
    },
    {
      name: "an end of an interception ended in an earlier batch: the first end wins",
      before: ({ a }) => [[start(a), end(a, { errorType: "timeout" })]],
      batch: ({ a }) => [end(a, { errorType: "internal" })],
      written: [],
      want: { a: { ended: true, errorType: "timeout" } },
    },
    {
      // Property: a retry after a lost answer writes and counts nothing.
      name: "the whole batch again",
      before: ({ a, b }) => [[start(a), prompt(a), tool(a), thought(a), end(a), prompt(b)]],
      batch: (_, [first]) => first!,
      rejected: [5],
      written: [],
      want: { a: { ended: true, errorType: null, children: { user_prompts: 1, tool_usages: 1, model_thoughts: 1 } } },
    },
    {
      // Property: when the start is already stored, the insert skips it and its end is applied
      // by a statement that sees the stored row; nothing is counted twice.
      name: "the batch again after only its start was stored",
      before: ({ a }) => [[start(a)]],
      batch: ({ a }) => [start(a), prompt(a), end(a, { errorType: "internal" })],
      written: [["prompt_usage", 1], ["interception_end", 1]],
      want: { a: { ended: true, errorType: "internal", children: { user_prompts: 1 } } },
    },
    {
      // Property: records of an unknown interception are rejected (children first, then ends, as
      // the statements used to run), the rest written; kinds are counted in the order of their
      // first written record.
      name: "records of an unknown interception",
      batch: ({ a, unknown }) => [start(a), prompt(unknown), thought(a), end(unknown), tokens(unknown), prompt(a), tokens(a), end(a)],
      rejected: [1, 4, 3],
      written: [["interception_start", 1], ["model_thought", 1], ["prompt_usage", 1], ["token_usage", 1], ["interception_end", 1]],
      want: { a: { ended: true, children: { user_prompts: 1, token_usages: 1, model_thoughts: 1 } }, unknown: { ended: false, children: {} } },
    },
    {
      // Property: a value Postgres refuses in a record that is rejected as not found anyway does
      // not turn the rejection into a refusal, nor change the order of rejections (the
      // statements used to check existence first).
      name: "a refused value in a record of an unknown interception",
      batch: ({ a, unknown }) => [start(a), end(unknown), prompt(unknown, beforePostgresTime), tokens(a), end(a)],
      rejected: [2, 1],
      written: [["interception_start", 1], ["token_usage", 1], ["interception_end", 1]],
      want: { a: { ended: true, children: { token_usages: 1 } } },
    },
    {
      // Property: ids are compared as Postgres compares uuids, in any case.
      name: "ids in another case than the start's",
      before: ({ a }) => [[start(a)]],
      batch: ({ a, b }) => [prompt(a.toUpperCase()), start(b), tokens(b.toUpperCase()), end(b.toUpperCase(), { errorType: "timeout" })],
      written: [["interception_start", 1], ["prompt_usage", 1], ["token_usage", 1], ["interception_end", 1]],
      want: { a: { ended: false, children: { user_prompts: 1 } }, b: { ended: true, errorType: "timeout", children: { token_usages: 1 } } },
    },
    {
      // Property: a start's lineage sees tool usages stored before its statement, not one recorded
      // after it in the same batch (no segment break is needed for that one).
      name: "lineage: a tool call later in the same batch does not count",
      before: ({ a, call }) => [[start(a), tool(a, call, at(1)), end(a)]],
      batch: ({ b, c, call }) => [start(b), start(c, { correlatingToolCallId: call }), tool(b, call, at(9)), end(c), end(b)],
      written: [["interception_start", 2], ["tool_usage", 1], ["interception_end", 2]],
      want: { b: { ended: true, parent: null }, c: { ended: true, parent: "a" } },
    },
    {
      // Property: a tool call earlier in the same batch starts a new segment: the start sees it.
      name: "lineage: a tool call earlier in the same batch counts",
      before: ({ a, call }) => [[start(a), tool(a, call, at(1)), end(a)]],
      batch: ({ b, c, call }) => [start(b), tool(b, call, at(9)), start(c, { correlatingToolCallId: call }), prompt(c), end(c), end(b)],
      written: [["interception_start", 2], ["tool_usage", 1], ["prompt_usage", 1], ["interception_end", 2]],
      want: { b: { ended: true, parent: null }, c: { ended: true, parent: "b", children: { user_prompts: 1 } } },
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const ids = fresh();
      const earlier = c.before?.(ids) ?? [];
      for (const b of earlier) await writeRecordBatch(t.db, b);
      const batch = c.batch(ids, earlier);
      const outcome = await writeRecordBatch(t.db, batch);
      assert.deepEqual(
        outcome.rejected,
        (c.rejected ?? []).map((i) => ({ id: batch[i]!.id, reason: `interception ${interceptionOf(batch[i]!)} not found` })),
      );
      assert.deepEqual([...outcome.written], c.written);
      const name = new Map(Object.entries(ids).map(([k, v]) => [v, k]));
      for (const [k, want] of Object.entries(c.want)) {
        const id = ids[k as keyof Ids];
        const row = await interception(id);
        assert.equal(row !== undefined && row.ended_at !== null, want.ended, `${k} ended`);
        if (want.errorType !== undefined) assert.equal(row?.error_type, want.errorType, `${k} error type`);
        if (want.parent !== undefined) assert.equal(row?.thread_parent_id === null ? null : name.get(row?.thread_parent_id ?? ""), want.parent, `${k} parent`);
        if (want.children !== undefined) assert.deepEqual(await childRows(id), want.children, `${k} children`);
      }
    });
  }

  // Property (no lost end): a start another transaction commits while the statement runs is not
  // inserted (the insert waits, then skips it) and nothing else in the statement sees it; its end
  // is then applied by a statement of its own, and its children are written.
  it("ends an interception whose start another transaction stores during the statement", async () => {
    const id = randomUUID();
    const other = new pg.Client({ connectionString: t.url });
    await other.connect();
    try {
      await other.query("BEGIN");
      await other.query(
        `INSERT INTO aibridge_interceptions (id, initiator_id, api_key_id, provider, provider_name, model, started_at)
         VALUES ($1, '00000000-0000-4000-8000-000000000001', 'abcdefghij', 'openai', 'openai', 'gpt-4o', now())`,
        [id],
      );
      const writing = writeRecordBatch(t.db, [start(id), prompt(id), end(id, { errorType: "timeout" })]);
      // The batch's insert waits for the other transaction's row lock.
      for (let waiting = false, polls = 0; !waiting; polls++) {
        assert.ok(polls < 10_000, "the batch never waited for the other transaction");
        const { rows } = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO aibridge_interceptions%'`.execute(t.db);
        waiting = rows[0]!.n > 0;
      }
      await other.query("COMMIT");
      const outcome = await writing;
      assert.deepEqual(outcome.rejected, []);
      assert.deepEqual([...outcome.written], [["prompt_usage", 1], ["interception_end", 1]]);
      const row = await interception(id);
      assert.deepEqual([row?.ended_at, row?.error_type], [at(5), "timeout"]);
      assert.deepEqual(await childRows(id), { user_prompts: 1 });
    } finally {
      await other.end();
    }
  });
});

describe("writeRecordBatch: round trips", () => {
  // Property (cost): a batch of one segment is one statement, without BEGIN/COMMIT; a lineage
  // break costs one statement per segment, in a transaction; a retry whose start is stored, a
  // second statement for its end.
  const cases = [
    {
      name: "one segment: one statement",
      batch: ({ a, b, unknown }: Ids) => [start(a), prompt(a), tokens(a), start(b), tool(b), thought(b), end(a), prompt(unknown), end(b)],
      want: ["with"],
    },
    {
      name: "an end of an earlier batch's start: one statement",
      before: ({ a }: Ids) => [start(a)],
      batch: ({ a }: Ids) => [tokens(a), end(a)],
      want: ["with"],
    },
    {
      name: "a retry whose start is stored: a second statement for its end",
      before: ({ a }: Ids) => [start(a)],
      batch: ({ a }: Ids) => [start(a), tokens(a), end(a)],
      want: ["with", "update"],
    },
    {
      name: "two segments: a transaction of two statements",
      batch: ({ a, b, call }: Ids) => [start(a), tool(a, call), end(a), start(b, { correlatingToolCallId: call }), end(b)],
      want: ["begin", "with", "with", "commit"],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const statements: string[] = [];
      const db = new Kysely<Database>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: t.url, max: 1 }) }),
        log: (event) => {
          statements.push(event.query.sql.trim().split(/\s/)[0]!.toLowerCase());
        },
      });
      try {
        const ids = fresh();
        if (c.before) await writeRecordBatch(t.db, c.before(ids));
        const outcome = await writeRecordBatch(db, c.batch(ids));
        assert.ok(outcome.written.size > 0);
        assert.deepEqual(statements, c.want);
      } finally {
        await db.destroy();
      }
    });
  }
});
