// Deletes recorded traffic past the retention period (the reference's DeleteOldAIBridgeRecords):
// interceptions that started before a cut-off, with their token usages, prompts, tool usages and
// thoughts. The child tables have no foreign key (migration 2026_12_03), so the children go in
// the same statement as their interceptions, found through their interception_id indexes.
//
// One call deletes at most `limit` interceptions, oldest first, in one transaction, so a large
// backlog (retention switched on over months of data) is worked off in short transactions that
// never hold many row locks or write one huge WAL burst. Control-plane replicas purge the same
// tables: a transaction-level advisory lock lets one of them at a time do it; the others see the
// lock taken and leave the work to it.
//
// An interception goes once it both started and ended before the cut-off: a stream longer than
// the period keeps its interception until the period has passed since its end too, so records
// still on their way (batches travel in parallel) find it. One still in flight is kept a day
// longer than the period (a gateway whose clock runs behind must not lose it, with the records
// still to come); one that never ends (its gateway died) goes then.
//
// A child record that arrives while its interception is being deleted can still outlive it (the
// writers check that the interception exists without locking it); that takes a record arriving
// a whole retention period after its interception ended. Such a row would stay: purges go
// through interceptions.
import { sql, type Kysely } from "kysely";
import { ADVISORY_LOCKS } from "../advisory-locks.js";
import type { Database } from "../schema.js";

/** The tables a purge deletes from, children first. */
export const PURGED_TABLES = [
  "aibridge_token_usages",
  "aibridge_user_prompts",
  "aibridge_tool_usages",
  "aibridge_model_thoughts",
  "aibridge_interceptions",
] as const;
export type PurgedTable = (typeof PURGED_TABLES)[number];

/** Refreshes the planner's statistics of the purged tables (after a large purge). */
export async function analyzePurgedTables(db: Kysely<Database>): Promise<void> {
  await sql`ANALYZE ${sql.join(PURGED_TABLES.map((t) => sql.table(t)))}`.execute(db);
}

/** Rows deleted, per table. */
export type PurgedRows = Readonly<Record<PurgedTable, number>>;

/**
 * Deletes up to `limit` interceptions that started before `cutoff`, oldest first, and every
 * child row of them. Answers the rows deleted, or undefined when another session holds the
 * retention lock (another control plane is purging).
 */
export async function purgeInterceptionsStartedBefore(db: Kysely<Database>, cutoff: Date, limit: number): Promise<PurgedRows | undefined> {
  return db.transaction().execute(async (trx) => {
    const [a, b] = ADVISORY_LOCKS.recordRetention;
    const locked = await sql<{ locked: boolean }>`SELECT pg_try_advisory_xact_lock(${a}, ${b}) AS locked`.execute(trx);
    if (locked.rows[0]?.locked !== true) return undefined;
    // MATERIALIZED: every DELETE below must see the same set of ids.
    const counted = await sql<Record<PurgedTable, number>>`
      WITH doomed AS MATERIALIZED (
        SELECT id FROM aibridge_interceptions
        WHERE started_at < ${cutoff} AND coalesce(ended_at, started_at + interval '1 day') < ${cutoff}
        ORDER BY started_at LIMIT ${limit}
      ),
      token_usages AS (DELETE FROM aibridge_token_usages WHERE interception_id IN (SELECT id FROM doomed) RETURNING 1),
      user_prompts AS (DELETE FROM aibridge_user_prompts WHERE interception_id IN (SELECT id FROM doomed) RETURNING 1),
      tool_usages AS (DELETE FROM aibridge_tool_usages WHERE interception_id IN (SELECT id FROM doomed) RETURNING 1),
      model_thoughts AS (DELETE FROM aibridge_model_thoughts WHERE interception_id IN (SELECT id FROM doomed) RETURNING 1),
      interceptions AS (DELETE FROM aibridge_interceptions WHERE id IN (SELECT id FROM doomed) RETURNING 1)
      SELECT
        (SELECT count(*) FROM token_usages)::int AS aibridge_token_usages,
        (SELECT count(*) FROM user_prompts)::int AS aibridge_user_prompts,
        (SELECT count(*) FROM tool_usages)::int AS aibridge_tool_usages,
        (SELECT count(*) FROM model_thoughts)::int AS aibridge_model_thoughts,
        (SELECT count(*) FROM interceptions)::int AS aibridge_interceptions`.execute(trx);
    const row = counted.rows[0];
    if (row === undefined) throw new Error("the purge statement returned no row");
    return row;
  });
}
