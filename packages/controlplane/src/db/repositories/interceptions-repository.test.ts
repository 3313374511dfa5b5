// The read API's filters must be answered from an index, newest first, not by scanning the table
// or walking the whole started_at index and throwing rows away (at a million interceptions that
// was 0.3 s per page for a rare model and 3–9 s for provider + client matching nothing). Checked
// on the plans Postgres chooses for the repository's own SQL over a table large enough for the
// difference to matter to the planner.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CompiledQuery, Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Database } from "../schema.js";
import { createTestDatabase, type TestDatabase } from "../../testing/index.js";
import { listInterceptions, type InterceptionFilter } from "./interceptions-repository.js";

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
  // 40,000 interceptions: two providers, each with its own client (so provider and client are
  // correlated, as openai/codex and anthropic/claude-code are), a common and a rare model.
  await sql`
    INSERT INTO aibridge_interceptions (id, initiator_id, api_key_id, provider, provider_name, model, started_at, ended_at, client)
    SELECT gen_random_uuid(), gen_random_uuid(), 'abcdefghij',
           CASE WHEN g % 2 = 0 THEN 'openai' ELSE 'anthropic' END,
           CASE WHEN g % 2 = 0 THEN 'openai' ELSE 'anthropic' END,
           CASE WHEN g % 1000 = 0 THEN 'rare-model' ELSE 'common-model' END,
           now() - g * interval '1 second', now() - g * interval '1 second' + interval '1 second',
           CASE WHEN g % 2 = 0 THEN 'codex' ELSE 'claude-code' END
    FROM generate_series(1, 40000) AS g`.execute(t.db);
  await sql`ANALYZE aibridge_interceptions`.execute(t.db);
});
after(async () => {
  await t?.drop();
});

/** The plan Postgres picks for the SQL listInterceptions sends for `filter`. */
async function planOf(filter: Omit<InterceptionFilter, "limit">): Promise<string> {
  const sent: CompiledQuery[] = [];
  const pool = new pg.Pool({ connectionString: t.url, max: 1 });
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => void sent.push(CompiledQuery.raw(event.query.sql, [...event.query.parameters])),
  });
  try {
    await listInterceptions(db, { ...filter, limit: 26 });
    const query = sent[0]!;
    const explained = await db.executeQuery<{ "QUERY PLAN": unknown }>(CompiledQuery.raw(`EXPLAIN (FORMAT JSON) ${query.sql}`, [...query.parameters]));
    return JSON.stringify(explained.rows[0]!["QUERY PLAN"]);
  } finally {
    await db.destroy();
  }
}

const indexOf = (plan: string): string | undefined => /"Index Name":"([^"]+)"/.exec(plan)?.[1];

describe("interception filters", () => {
  for (const [name, filter, index] of [
    ["a rare model", { model: "rare-model" }, "aibridge_interceptions_model_started_idx"],
    ["a model nobody uses", { model: "gpt-9" }, "aibridge_interceptions_model_started_idx"],
    ["a provider nobody uses", { provider: "nope" }, "aibridge_interceptions_provider_started_idx"],
    ["a client nobody uses", { client: "nope" }, "aibridge_interceptions_client_provider_started_idx"],
    ["a provider and client that never go together", { provider: "openai", client: "claude-code" }, "aibridge_interceptions_client_provider_started_idx"],
  ] as const) {
    it(`finds ${name} through its index, without a sequential scan`, async () => {
      const plan = await planOf(filter);
      assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/, plan);
      assert.equal(indexOf(plan), index, plan);
    });
  }

  it("still answers the unfiltered list and an initiator from the started_at indexes", async () => {
    assert.equal(indexOf(await planOf({})), "aibridge_interceptions_started_idx");
    assert.equal(indexOf(await planOf({ initiatorId: "00000000-0000-4000-8000-000000000001" })), "aibridge_interceptions_initiator_started_idx");
  });
});
