// The retention purge on real Postgres: what it deletes (interceptions started before the
// cut-off and every child row of theirs, nothing else), in transactions of at most a batch, once
// across control-plane replicas, and how it is scheduled and survives a failing database.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { sql, type Kysely } from "kysely";
import pino from "pino";
import { createKysely } from "../db/database.js";
import { purgeInterceptionsStartedBefore, type PurgedRows } from "../db/repositories/record-retention-repository.js";
import type { Database } from "../db/schema.js";
import { ControlPlaneMetrics } from "../metrics.js";
import { captureLogger, createTestDatabase, databaseUrl, type TestDatabase } from "../testing/index.js";
import type { Timers } from "../timers.js";
import { RecordPurger, type RecordPurgerOptions } from "./record-purger.js";

const DAY = 86_400_000;
const NOW = new Date("2026-12-03T12:00:00.000Z");
const RETENTION = 60 * DAY;
const CUTOFF = new Date(NOW.getTime() - RETENTION);

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});
beforeEach(async () => {
  await sql`TRUNCATE aibridge_interceptions, aibridge_token_usages, aibridge_user_prompts, aibridge_tool_usages, aibridge_model_thoughts`.execute(t.db);
});

interface Children {
  readonly tokens?: number;
  readonly prompts?: number;
  readonly tools?: number;
  readonly thoughts?: number;
}

/** An interception started at `startedAt` (ended a second later unless inFlight) with children. */
async function seed(startedAt: Date, children: Children = {}, inFlight = false): Promise<string> {
  const id = randomUUID();
  await t.db
    .insertInto("aibridge_interceptions")
    .values({
      id,
      initiator_id: randomUUID(),
      api_key_id: "abcdefghij",
      provider: "openai",
      provider_name: "openai",
      model: "gpt-4o",
      metadata: "{}",
      started_at: startedAt,
      client: "",
      credential_kind: "centralized",
      credential_hint: "",
    })
    .execute();
  if (!inFlight) await t.db.updateTable("aibridge_interceptions").set({ ended_at: new Date(startedAt.getTime() + 1000) }).where("id", "=", id).execute();
  const at = new Date(startedAt.getTime() + 500);
  for (let i = 0; i < (children.tokens ?? 0); i++) {
    await t.db
      .insertInto("aibridge_token_usages")
      .values({ interception_id: id, provider_response_id: `r${i}`, input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 0, cache_write_input_tokens: 0, metadata: "{}", created_at: at })
      .execute();
  }
  for (let i = 0; i < (children.prompts ?? 0); i++) {
    await t.db.insertInto("aibridge_user_prompts").values({ interception_id: id, provider_response_id: `r${i}`, prompt: "hi", metadata: "{}", created_at: at }).execute();
  }
  for (let i = 0; i < (children.tools ?? 0); i++) {
    await t.db
      .insertInto("aibridge_tool_usages")
      .values({ interception_id: id, provider_response_id: `r${i}`, provider_tool_call_id: `call-${i}`, provider_item_id: "", tool: "read_file", input: "{}", injected: false, metadata: "{}", created_at: at })
      .execute();
  }
  for (let i = 0; i < (children.thoughts ?? 0); i++) {
    await t.db.insertInto("aibridge_model_thoughts").values({ interception_id: id, content: "hmm", metadata: "{}", created_at: at }).execute();
  }
  return id;
}

const ALL = { tokens: 1, prompts: 1, tools: 2, thoughts: 1 } as const;

/** Rows per table and interception, as "table:interception" → count. */
async function childCounts(): Promise<Record<string, number>> {
  const rows = await sql<{ k: string; n: number }>`
    SELECT 'tokens:' || interception_id AS k, count(*)::int AS n FROM aibridge_token_usages GROUP BY interception_id
    UNION ALL SELECT 'prompts:' || interception_id, count(*)::int FROM aibridge_user_prompts GROUP BY interception_id
    UNION ALL SELECT 'tools:' || interception_id, count(*)::int FROM aibridge_tool_usages GROUP BY interception_id
    UNION ALL SELECT 'thoughts:' || interception_id, count(*)::int FROM aibridge_model_thoughts GROUP BY interception_id`.execute(t.db);
  return Object.fromEntries(rows.rows.map((r) => [r.k, r.n]));
}

async function interceptionIds(): Promise<string[]> {
  const rows = await t.db.selectFrom("aibridge_interceptions").select("id").orderBy("started_at").execute();
  return rows.map((r) => r.id);
}

function purger(over: Partial<RecordPurgerOptions> = {}): { purger: RecordPurger; metrics: ControlPlaneMetrics; lines: () => any[] } {
  const metrics = new ControlPlaneMetrics({ collectDefaultMetrics: false });
  const { logger, lines } = captureLogger("info");
  const p = new RecordPurger({
    db: t.db,
    logger,
    clock: { now: () => NOW },
    retentionMs: RETENTION,
    intervalMs: 60_000,
    batchSize: 1_000,
    purged: metrics.recordsPurged,
    ...over,
  });
  return { purger: p, metrics, lines };
}

async function purgedMetric(metrics: ControlPlaneMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.recordsPurged.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.table), v.value]));
}

const rows = (r: Partial<PurgedRows>): PurgedRows => ({
  aibridge_token_usages: 0,
  aibridge_user_prompts: 0,
  aibridge_tool_usages: 0,
  aibridge_model_thoughts: 0,
  aibridge_interceptions: 0,
  ...r,
});

describe("RecordPurger", () => {
  // Property: exactly the interceptions that started and ended before now − retention go, each
  // with all of its children, and in-flight ones a day after that (a long stream, or a gateway
  // whose clock runs behind, keeps its interception); one that ended after the cut-off, one that
  // started at the cut-off itself and everything younger stays, children included.
  it("deletes interceptions started before the cut-off with every child row, in-flight ones a day later, and nothing else", async () => {
    const oldEnded = await seed(new Date(CUTOFF.getTime() - DAY), ALL);
    const oldInFlight = await seed(new Date(CUTOFF.getTime() - DAY - 1), { prompts: 1 }, true);
    const recentInFlight = await seed(new Date(CUTOFF.getTime() - DAY + 60_000), { prompts: 1 }, true);
    const endedAfterCutoff = await seed(new Date(CUTOFF.getTime() - 60_000), { prompts: 1 }, true);
    await t.db.updateTable("aibridge_interceptions").set({ ended_at: new Date(CUTOFF.getTime() + 1) }).where("id", "=", endedAfterCutoff).execute();
    const atCutoff = await seed(CUTOFF, ALL);
    const young = await seed(new Date(NOW.getTime() - 3_600_000), ALL);
    assert.equal(Object.keys(await childCounts()).length, 4 * 3 + 3);

    const { purger: p, metrics, lines } = purger();
    const pass = await p.runPass();

    assert.deepEqual(pass, {
      cutoff: CUTOFF,
      ran: true,
      complete: true,
      rows: rows({ aibridge_interceptions: 2, aibridge_token_usages: 1, aibridge_user_prompts: 2, aibridge_tool_usages: 2, aibridge_model_thoughts: 1 }),
    });
    assert.deepEqual(await interceptionIds(), [recentInFlight, endedAfterCutoff, atCutoff, young]);
    const kept = await childCounts();
    for (const id of [atCutoff, young]) {
      assert.deepEqual([kept[`tokens:${id}`], kept[`prompts:${id}`], kept[`tools:${id}`], kept[`thoughts:${id}`]], [1, 1, 2, 1]);
    }
    assert.equal(kept[`prompts:${recentInFlight}`], 1);
    assert.equal(kept[`prompts:${endedAfterCutoff}`], 1);
    assert.equal(Object.keys(kept).length, 10, `no child of ${oldEnded} or ${oldInFlight} may remain`);
    assert.deepEqual(await purgedMetric(metrics), {
      aibridge_interceptions: 2,
      aibridge_token_usages: 1,
      aibridge_user_prompts: 2,
      aibridge_tool_usages: 2,
      aibridge_model_thoughts: 1,
    });
    const logged = lines().filter((l) => l.msg === "purged records past the retention period");
    assert.equal(logged.length, 1);
    assert.equal(logged[0].cutoff, CUTOFF.toISOString());
    assert.equal(logged[0].deleted.aibridge_interceptions, 2);
  });

  it("logs nothing and deletes nothing when nothing is past the retention period", async () => {
    const young = await seed(new Date(NOW.getTime() - DAY), ALL);
    const { purger: p, lines } = purger();
    assert.deepEqual((await p.runPass())?.rows, rows({}));
    assert.deepEqual(await interceptionIds(), [young]);
    assert.deepEqual(lines(), []);
  });

  // Property: one transaction deletes at most a batch, oldest first; a pass keeps going until the
  // backlog is gone.
  it("deletes at most a batch per transaction, oldest first, and works off a larger backlog in one pass", async () => {
    const old: string[] = [];
    for (let i = 0; i < 7; i++) old.push(await seed(new Date(CUTOFF.getTime() - (10 - i) * DAY), { tokens: 1 }));
    const young = await seed(NOW, { tokens: 1 });

    const first = await purgeInterceptionsStartedBefore(t.db, CUTOFF, 3);
    assert.deepEqual(first, rows({ aibridge_interceptions: 3, aibridge_token_usages: 3 }));
    assert.deepEqual(await interceptionIds(), [...old.slice(3), young]);

    const { purger: p } = purger({ batchSize: 3 });
    assert.deepEqual((await p.runPass())?.rows, rows({ aibridge_interceptions: 4, aibridge_token_usages: 4 }));
    assert.deepEqual(await interceptionIds(), [young]);
  });

  // Property: while another session (another control plane) holds the retention lock, a pass
  // deletes nothing and says so; once the lock is free it does the work.
  it("leaves the work to another control plane that is purging", async () => {
    const old = await seed(new Date(CUTOFF.getTime() - DAY), ALL);
    const { purger: p } = purger();
    await t.db.connection().execute(async (other) => {
      await sql`SELECT pg_advisory_lock(${0x77656972}, 2)`.execute(other);
      try {
        assert.deepEqual(await p.runPass(), { cutoff: CUTOFF, ran: false, complete: false, rows: rows({}) });
        assert.deepEqual(await interceptionIds(), [old]);
      } finally {
        await sql`SELECT pg_advisory_unlock(${0x77656972}, 2)`.execute(other);
      }
    });
    assert.equal((await p.runPass())?.rows.aibridge_interceptions, 1);
    assert.deepEqual(await interceptionIds(), []);
  });

  // Property: two control planes purging at the same time (each its own pool) delete every old
  // row exactly once between them: the counts add up to what there was.
  it("deletes every row once when two control planes purge at the same time", async () => {
    for (let i = 0; i < 40; i++) await seed(new Date(CUTOFF.getTime() - (i + 1) * 60_000), { tokens: 1, prompts: 1 });
    const young = await seed(NOW);
    const otherPool: Kysely<Database> = createKysely(t.url, 4);
    try {
      const a = purger({ batchSize: 3 });
      const b = purger({ batchSize: 3, db: otherPool });
      const [pa, pb] = await Promise.all([a.purger.runPass(), b.purger.runPass()]);
      assert.ok(pa && pb);
      assert.ok(pa.ran || pb.ran);
      assert.equal(pa.rows.aibridge_interceptions + pb.rows.aibridge_interceptions, 40);
      assert.equal(pa.rows.aibridge_token_usages + pb.rows.aibridge_token_usages, 40);
      assert.equal(pa.rows.aibridge_user_prompts + pb.rows.aibridge_user_prompts, 40);
      assert.deepEqual(await interceptionIds(), [young]);
    } finally {
      await otherPool.destroy();
    }
  });

  // Property: a pass that deleted many interceptions refreshes the planner's statistics itself
  // (with stale ones list pages were ten times slower after a big purge).
  it("analyzes the tables after a large pass", async () => {
    await sql`INSERT INTO aibridge_interceptions (id, initiator_id, api_key_id, provider, provider_name, model, started_at, ended_at)
      SELECT gen_random_uuid(), gen_random_uuid(), 'abcdefghij', 'openai', 'openai', 'gpt-4o', ${CUTOFF}::timestamptz - g * interval '1 second', ${CUTOFF}::timestamptz - g * interval '1 second' + interval '1 millisecond'
      FROM generate_series(1, 10000) AS g`.execute(t.db);
    const analyzed = async () =>
      (await sql<{ n: number }>`SELECT coalesce(analyze_count, 0)::int AS n FROM pg_stat_user_tables WHERE relname = 'aibridge_interceptions'`.execute(t.db)).rows[0]?.n ?? 0;
    const before = await analyzed();
    const { purger: p } = purger({ batchSize: 5_000 });
    assert.equal((await p.runPass())?.rows.aibridge_interceptions, 10_000);
    assert.ok((await analyzed()) > before, "ANALYZE ran");
  });

  // Property: a database that fails does not throw out of the job; the pass is logged as failed
  // and nothing is counted.
  it("logs a failed pass and counts nothing when the database fails", async () => {
    const missing: Kysely<Database> = createKysely(databaseUrl(t.serverUrl, `weir_missing_${randomUUID().slice(0, 8)}`), 1);
    try {
      const { purger: p, metrics, lines } = purger({ db: missing });
      assert.equal(await p.runPass(), undefined);
      const failed = lines().filter((l) => l.msg === "purging records past the retention period failed; retrying at the next interval");
      assert.equal(failed.length, 1);
      assert.equal(failed[0].level, 40);
      assert.match(failed[0].err.message, /does not exist/);
      assert.deepEqual(await purgedMetric(metrics), { aibridge_interceptions: 0, aibridge_token_usages: 0, aibridge_user_prompts: 0, aibridge_tool_usages: 0, aibridge_model_thoughts: 0 });
    } finally {
      await missing.destroy();
    }
  });

  // Property: the first pass runs at once; the next one an interval after a pass ended (also a
  // failed one); close() stops the schedule.
  it("runs a pass at start and then one interval after each pass ends, until closed", async () => {
    const scheduled: { fn: () => void; ms: number }[] = [];
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        const handle = { fn, ms };
        scheduled.push(handle);
        return handle;
      },
      clearTimeout: (handle) => {
        const i = scheduled.indexOf(handle as (typeof scheduled)[number]);
        if (i >= 0) scheduled.splice(i, 1);
      },
    };
    const old = await seed(new Date(CUTOFF.getTime() - DAY), ALL);
    const { purger: p, metrics } = purger({ timers, intervalMs: 600_000 });
    p.start();
    assert.deepEqual(scheduled.map((s) => s.ms), [0]);
    scheduled.shift()!.fn();
    const next = await waitFor(() => scheduled[0]);
    assert.equal(next.ms, 600_000);
    assert.deepEqual(await interceptionIds(), []);
    assert.equal((await purgedMetric(metrics)).aibridge_interceptions, 1, `${old} purged once`);
    await p.close();
    assert.deepEqual(scheduled, []);
  });
});

async function waitFor<T>(get: () => T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = get();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("timed out");
}
