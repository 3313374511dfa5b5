// Read side of recorded interceptions for the admin API: keyset pages newest first on
// (started_at DESC, id DESC) — the order of aibridge_interceptions_started_idx and, with an
// initiator, aibridge_interceptions_initiator_started_idx — and the children of a page loaded
// with one query per child table.
import { sql, type Kysely } from "kysely";
import type { Database, InterceptionRow, ModelThoughtRow, TokenUsageRow, ToolUsageRow, UserPromptRow } from "../schema.js";

/**
 * started_at rendered exactly (microseconds, UTC) for cursors: a JS Date keeps milliseconds
 * only, and a cursor rounded to milliseconds would skip or repeat rows on a page boundary.
 */
export type InterceptionPageRow = InterceptionRow & { readonly started_at_exact: string };

/** Where a page starts: strictly after this (started_at, id) in the newest-first order. */
export interface InterceptionPosition {
  /** RFC 3339 with up to microsecond precision. */
  readonly startedAt: string;
  /** UUID. */
  readonly id: string;
}

export interface InterceptionFilter {
  readonly initiatorId?: string | undefined;
  readonly provider?: string | undefined;
  readonly model?: string | undefined;
  readonly client?: string | undefined;
  /** Inclusive lower bound on started_at (RFC 3339). */
  readonly startedAfter?: string | undefined;
  /** Exclusive upper bound on started_at (RFC 3339). */
  readonly startedBefore?: string | undefined;
  readonly after?: InterceptionPosition | undefined;
  readonly limit: number;
}

const EXACT_STARTED_AT = sql<string>`to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/** Interceptions matching the filter, in flight or ended, newest first. */
export async function listInterceptions(db: Kysely<Database>, filter: InterceptionFilter): Promise<InterceptionPageRow[]> {
  let query = db.selectFrom("aibridge_interceptions").selectAll().select(EXACT_STARTED_AT.as("started_at_exact"));
  if (filter.initiatorId !== undefined) query = query.where("initiator_id", "=", filter.initiatorId);
  if (filter.provider !== undefined) query = query.where("provider", "=", filter.provider);
  if (filter.model !== undefined) query = query.where("model", "=", filter.model);
  if (filter.client !== undefined) query = query.where("client", "=", filter.client);
  if (filter.startedAfter !== undefined) query = query.where("started_at", ">=", sql<Date>`${filter.startedAfter}::timestamptz`);
  if (filter.startedBefore !== undefined) query = query.where("started_at", "<", sql<Date>`${filter.startedBefore}::timestamptz`);
  if (filter.after !== undefined) {
    // A row comparison, which Postgres answers from the (started_at DESC, id DESC) index.
    query = query.where(sql<boolean>`(started_at, id) < (${filter.after.startedAt}::timestamptz, ${filter.after.id}::uuid)`);
  }
  return query.orderBy("started_at", "desc").orderBy("id", "desc").limit(filter.limit).execute();
}

export async function findInterceptionById(db: Kysely<Database>, id: string): Promise<InterceptionPageRow | undefined> {
  return db
    .selectFrom("aibridge_interceptions")
    .selectAll()
    .select(EXACT_STARTED_AT.as("started_at_exact"))
    .where("id", "=", id)
    .executeTakeFirst();
}

/** The child rows of some interceptions, each list in recording order. */
export interface InterceptionChildren {
  readonly prompts: UserPromptRow[];
  readonly tokenUsages: TokenUsageRow[];
  readonly toolUsages: ToolUsageRow[];
  readonly modelThoughts: ModelThoughtRow[];
}

/** One query per child table for all of `ids` (never one per interception). */
export async function listInterceptionChildren(db: Kysely<Database>, ids: readonly string[]): Promise<InterceptionChildren> {
  if (ids.length === 0) return { prompts: [], tokenUsages: [], toolUsages: [], modelThoughts: [] };
  const prompts = await db
    .selectFrom("aibridge_user_prompts")
    .selectAll()
    .where("interception_id", "in", ids)
    .orderBy("created_at", "asc")
    .orderBy("id", "asc")
    .execute();
  const tokenUsages = await db
    .selectFrom("aibridge_token_usages")
    .selectAll()
    .where("interception_id", "in", ids)
    .orderBy("created_at", "asc")
    .orderBy("id", "asc")
    .execute();
  const toolUsages = await db
    .selectFrom("aibridge_tool_usages")
    .selectAll()
    .where("interception_id", "in", ids)
    .orderBy("created_at", "asc")
    .orderBy("id", "asc")
    .execute();
  const modelThoughts = await db
    .selectFrom("aibridge_model_thoughts")
    .selectAll()
    .where("interception_id", "in", ids)
    .orderBy("created_at", "asc")
    .orderBy("id", "asc")
    .execute();
  return { prompts, tokenUsages, toolUsages, modelThoughts };
}

/**
 * Bytes of recorded content per interception (prompts, tool inputs and errors, thoughts, every
 * child's metadata), measured by the server without reading the values: octet_length of a
 * TOASTed text reads only its header, and pg_column_size gives a jsonb's stored size (small;
 * converting it to text would read it whole).
 */
export async function recordedBytes(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await sql<{ interception_id: string; bytes: string }>`
    SELECT interception_id, sum(bytes)::bigint AS bytes FROM (
      SELECT interception_id, octet_length(prompt) + pg_column_size(metadata) AS bytes FROM aibridge_user_prompts WHERE interception_id = ANY(${ids}::uuid[])
      UNION ALL
      SELECT interception_id, octet_length(input) + coalesce(octet_length(invocation_error), 0) + pg_column_size(metadata) FROM aibridge_tool_usages WHERE interception_id = ANY(${ids}::uuid[])
      UNION ALL
      SELECT interception_id, octet_length(content) + pg_column_size(metadata) FROM aibridge_model_thoughts WHERE interception_id = ANY(${ids}::uuid[])
      UNION ALL
      SELECT interception_id, pg_column_size(metadata) FROM aibridge_token_usages WHERE interception_id = ANY(${ids}::uuid[])
    ) AS children GROUP BY interception_id`.execute(db);
  return new Map(rows.rows.map((r) => [r.interception_id, Number(r.bytes)]));
}
