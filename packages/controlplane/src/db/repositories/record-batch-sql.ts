// The statement of the batch writer (record-batch-repository.ts): ONE statement per segment, whose
// data-modifying CTEs insert the interceptions, insert each kind of child record, end
// interceptions, and report what they did. One statement is atomic by itself, so a batch of one
// segment costs one round trip to Postgres and no BEGIN/COMMIT.
//
// Rows travel as arrays: each column is ONE array parameter and `unnest` turns the arrays back into
// rows, so a statement has the same few dozen parameters whatever its row count (cheap to build,
// send, parse and plan). Statement size is bounded by the RPC's readMaxBytes, so rows are not
// chunked.
//
// Snapshots: every part of the statement reads the table contents as of the statement's start and
// none sees another part's rows (https://www.postgresql.org/docs/current/queries-with.html#QUERIES-WITH-MODIFYING).
// The statement is built around that:
// - the existence check (`missing`) runs only on interceptions no start of the segment inserts:
//   a start inserted by this statement would look missing;
// - a start's end is written by its INSERT (already ended): an UPDATE in the same statement would
//   not see the row. The UPDATE ends only interceptions the segment does not start, which were
//   stored before the statement (or are missing, and then match nothing);
// - a start the INSERT skips (`ON CONFLICT DO NOTHING`) was stored before, by an earlier attempt
//   of the batch, or by another transaction that committed after the statement's snapshot (the
//   INSERT waits for it, then skips it; nothing else in the statement sees that row). Such starts
//   with an end are reported (`skippedEnded`), and the writer applies their ends in a statement
//   of its own, which sees them. This happens only on retries, so it costs nothing usually, and
//   it keeps the UPDATE to the few ends whose start came in an earlier batch (given all ends, the
//   planner's estimate made it scan the whole table);
// - no row is modified twice: the INSERT changes no stored row and the UPDATE touches only those;
// - the child tables have no foreign key (migration 2026_12_03): a child of an interception the
//   statement starts is written unchecked (its start is inserted, or was stored before), and the
//   others only if the `missing` check found their interception.
import { sql, type Kysely, type RawBuilder } from "kysely";
import type { Database } from "../schema.js";
import { timestamptzArray, uuidArray } from "../pg-binary-array.js";
import { textArrayLiteral } from "../pg-text-array.js";
import { storableJsonText, storableText } from "../storable-text.js";
import type { InterceptionEnd, NewInterception, NewModelThought, NewTokenUsage, NewToolUsage, NewUserPrompt } from "./recorder-repository.js";

/** A column of an `unnest` row source: its name, its Postgres type, and its value in a row. */
type Column<R> = readonly [name: string, type: string, value: (row: R) => unknown];

/** Array parameters sent in binary (see pg-binary-array.ts); the others go in pg's text form. */
const BINARY_ARRAYS: Readonly<Record<string, (values: readonly unknown[]) => unknown>> = { uuid: uuidArray, timestamptz: timestamptzArray };

/** Binary, or pg's text form made by pg-text-array.ts (or by pg, for values it does not take). */
function arrayParameter(type: string, values: readonly unknown[]): unknown {
  const encode = BINARY_ARRAYS[type];
  return encode ? encode(values) : (textArrayLiteral(values) ?? values);
}

/**
 * Text values as Postgres can store them (storable-text.ts), by column type: here, every text and
 * jsonb value of a batch passes, and a NUL in one record would otherwise refuse it.
 */
const STORABLE: Readonly<Record<string, (value: unknown) => unknown>> = {
  text: (v) => (typeof v === "string" ? storableText(v) : v),
  jsonb: (v) => (typeof v === "string" ? storableJsonText(v) : v),
};

/** A column's values in `rows`, storable. */
function columnValues<R>(rows: readonly R[], type: string, value: (row: R) => unknown): unknown[] {
  const storable = STORABLE[type];
  return storable ? rows.map((r) => storable(value(r))) : rows.map((r) => value(r));
}

/** `unnest($1::t1[], $2::t2[], ...) AS v (c1, c2, ...)`: `rows` as a row source. */
function unnestRows<R>(rows: readonly R[], columns: readonly Column<R>[]): RawBuilder<unknown> {
  const arrays = columns.map(([, type, value]) => sql`${arrayParameter(type, columnValues(rows, type, value))}::${sql.raw(type)}[]`);
  return sql`unnest(${sql.join(arrays)}) AS v (${sql.join(columns.map(([name]) => sql.id(name)))})`;
}

const columnNames = <R>(columns: readonly Column<R>[], prefix = ""): RawBuilder<unknown> =>
  sql.join(columns.map(([name]) => sql.raw(`${prefix}${name}`)));

/** A child record keyed by the envelope id the gateway chose. */
export interface KeyedRow<T> {
  readonly id: string;
  readonly row: T;
}

const TOKEN_USAGE_COLUMNS: readonly Column<KeyedRow<NewTokenUsage>>[] = [
  ["id", "uuid", (r) => r.id],
  ["interception_id", "uuid", (r) => r.row.interceptionId],
  ["provider_response_id", "text", (r) => r.row.providerResponseId],
  ["input_tokens", "int8", (r) => r.row.inputTokens],
  ["output_tokens", "int8", (r) => r.row.outputTokens],
  ["cache_read_input_tokens", "int8", (r) => r.row.cacheReadInputTokens],
  ["cache_write_input_tokens", "int8", (r) => r.row.cacheWriteInputTokens],
  ["metadata", "jsonb", (r) => JSON.stringify(r.row.metadata)],
  ["created_at", "timestamptz", (r) => r.row.createdAt],
];

const USER_PROMPT_COLUMNS: readonly Column<KeyedRow<NewUserPrompt>>[] = [
  ["id", "uuid", (r) => r.id],
  ["interception_id", "uuid", (r) => r.row.interceptionId],
  ["provider_response_id", "text", (r) => r.row.providerResponseId],
  ["prompt", "text", (r) => r.row.prompt],
  ["metadata", "jsonb", (r) => JSON.stringify(r.row.metadata)],
  ["created_at", "timestamptz", (r) => r.row.createdAt],
];

const TOOL_USAGE_COLUMNS: readonly Column<KeyedRow<NewToolUsage>>[] = [
  ["id", "uuid", (r) => r.id],
  ["interception_id", "uuid", (r) => r.row.interceptionId],
  ["provider_response_id", "text", (r) => r.row.providerResponseId],
  ["provider_tool_call_id", "text", (r) => r.row.providerToolCallId],
  ["provider_item_id", "text", (r) => r.row.providerItemId],
  ["server_url", "text", (r) => r.row.serverUrl],
  ["tool", "text", (r) => r.row.tool],
  ["input", "text", (r) => r.row.input],
  ["injected", "bool", (r) => r.row.injected],
  ["invocation_error", "text", (r) => r.row.invocationError],
  ["metadata", "jsonb", (r) => JSON.stringify(r.row.metadata)],
  ["created_at", "timestamptz", (r) => r.row.createdAt],
];

const MODEL_THOUGHT_COLUMNS: readonly Column<KeyedRow<NewModelThought>>[] = [
  ["id", "uuid", (r) => r.id],
  ["interception_id", "uuid", (r) => r.row.interceptionId],
  ["content", "text", (r) => r.row.content],
  ["metadata", "jsonb", (r) => JSON.stringify(r.row.metadata)],
  ["created_at", "timestamptz", (r) => r.row.createdAt],
];

/** An interception start, with its first end when the same segment holds it. */
export interface StartRow {
  readonly start: NewInterception;
  readonly end: InterceptionEnd | undefined;
}

/** endInterceptions' hint rule: a centralized interception takes a non-empty end hint. */
function hintAfterEnd(s: StartRow): string {
  return s.end !== undefined && s.start.credentialKind === "centralized" && s.end.credentialHint !== "" ? s.end.credentialHint : s.start.credentialHint;
}

const INTERCEPTION_COLUMNS: readonly Column<StartRow>[] = [
  ["id", "uuid", (r) => r.start.id],
  ["initiator_id", "uuid", (r) => r.start.initiatorId],
  ["api_key_id", "text", (r) => r.start.apiKeyId],
  ["provider", "text", (r) => r.start.provider],
  ["provider_name", "text", (r) => r.start.providerName],
  ["model", "text", (r) => r.start.model],
  ["metadata", "jsonb", (r) => JSON.stringify(r.start.metadata)],
  ["started_at", "timestamptz", (r) => r.start.startedAt],
  ["client", "text", (r) => r.start.client],
  ["client_session_id", "text", (r) => r.start.clientSessionId],
  ["correlating_tool_call_id", "text", (r) => r.start.correlatingToolCallId],
  ["credential_kind", "text", (r) => r.start.credentialKind],
  ["credential_hint", "text", hintAfterEnd],
  ["agent_firewall_session_id", "uuid", (r) => r.start.agentFirewallSessionId],
  ["agent_firewall_sequence_number", "int4", (r) => r.start.agentFirewallSequenceNumber],
  ["ended_at", "timestamptz", (r) => r.end?.endedAt ?? null],
  ["error_type", "text", (r) => r.end?.errorType ?? null],
  ["error_message", "text", (r) => r.end?.errorMessage ?? null],
];

/**
 * The INSERT of the interceptions not stored yet, those with an end already ended. Thread lineage
 * as interceptionRow's (recorder-repository.ts): the parent is the interception of the latest tool
 * usage with the correlating provider call id by the same user, the root is the parent's root or
 * the parent. Tool
 * usages of the same statement are not seen (the batch writer starts a new segment for them).
 */
function insertInterceptions(rows: readonly StartRow[]): RawBuilder<unknown> {
  return sql`
    INSERT INTO aibridge_interceptions (${columnNames(INTERCEPTION_COLUMNS)}, thread_parent_id, thread_root_id)
    SELECT ${columnNames(INTERCEPTION_COLUMNS, "v.")}, parent.interception_id, parent.root_id
    FROM ${unnestRows(rows, INTERCEPTION_COLUMNS)}
    LEFT JOIN LATERAL (
      SELECT t.interception_id, coalesce(p.thread_root_id, p.id) AS root_id
      FROM aibridge_tool_usages AS t
      JOIN aibridge_interceptions AS p ON p.id = t.interception_id
      WHERE t.provider_tool_call_id <> '' -- lets the planner use the partial index
        AND t.provider_tool_call_id = v.correlating_tool_call_id
        AND p.initiator_id = v.initiator_id
      ORDER BY t.created_at DESC, t.id DESC
      LIMIT 1
    ) AS parent ON true
    ON CONFLICT (id) DO NOTHING
    RETURNING id, ended_at`;
}

const END_COLUMNS: readonly Column<InterceptionEnd>[] = [
  ["id", "uuid", (e) => e.id],
  ["ended_at", "timestamptz", (e) => e.endedAt],
  ["credential_hint", "text", (e) => e.credentialHint],
  ["error_type", "text", (e) => e.errorType],
  ["error_message", "text", (e) => e.errorMessage],
];

/** The UPDATE ending stored interceptions once (`ended_at IS NULL`), with hintAfterEnd's rule. */
function updateEnds(ends: readonly InterceptionEnd[]): RawBuilder<unknown> {
  return sql`
    UPDATE aibridge_interceptions AS i
    SET ended_at = v.ended_at,
        error_type = v.error_type,
        error_message = v.error_message,
        credential_hint = CASE WHEN i.credential_kind = 'centralized' AND v.credential_hint <> '' THEN v.credential_hint ELSE i.credential_hint END
    FROM ${unnestRows(ends, END_COLUMNS)}
    WHERE i.id = v.id AND i.ended_at IS NULL
    RETURNING i.id`;
}

/** Ends stored interceptions once, in a statement of their own; resolves with how many. */
export async function endInterceptions(db: Kysely<Database>, ends: readonly InterceptionEnd[]): Promise<number> {
  const result = await updateEnds(ends).execute(db);
  return result.rows.length;
}

/** Child records of one kind. */
export type ChildRows =
  | { readonly kind: "token_usage"; readonly rows: readonly KeyedRow<NewTokenUsage>[] }
  | { readonly kind: "prompt_usage"; readonly rows: readonly KeyedRow<NewUserPrompt>[] }
  | { readonly kind: "tool_usage"; readonly rows: readonly KeyedRow<NewToolUsage>[] }
  | { readonly kind: "model_thought"; readonly rows: readonly KeyedRow<NewModelThought>[] };

export type ChildKind = ChildRows["kind"];

/** The INSERT of child rows not stored yet, skipping those of `missing` interceptions when given. */
function insertRows<R extends { readonly row: { readonly interceptionId: string } }>(
  table: keyof Database,
  rows: readonly R[],
  columns: readonly Column<R>[],
  skipMissing: boolean,
): RawBuilder<unknown> {
  return sql`
    INSERT INTO ${sql.table(table)} (${columnNames(columns)})
    SELECT ${columnNames(columns)} FROM ${unnestRows(rows, columns)}
    ${skipMissing ? sql`WHERE v.interception_id NOT IN (SELECT id FROM missing)` : sql``}
    ON CONFLICT (id) DO NOTHING
    RETURNING 1`;
}

function insertChildren(c: ChildRows, skipMissing: boolean): RawBuilder<unknown> {
  switch (c.kind) {
    case "token_usage":
      return insertRows("aibridge_token_usages", c.rows, TOKEN_USAGE_COLUMNS, skipMissing);
    case "prompt_usage":
      return insertRows("aibridge_user_prompts", c.rows, USER_PROMPT_COLUMNS, skipMissing);
    case "tool_usage":
      return insertRows("aibridge_tool_usages", c.rows, TOOL_USAGE_COLUMNS, skipMissing);
    case "model_thought":
      return insertRows("aibridge_model_thoughts", c.rows, MODEL_THOUGHT_COLUMNS, skipMissing);
  }
}

/** What one segment's statement is to write. */
export interface SegmentRows {
  /** One per interception, with its first end in the segment. */
  readonly starts: readonly StartRow[];
  /** At most one entry per kind. */
  readonly children: readonly ChildRows[];
  /** Ends to apply by UPDATE (one per interception): those of interceptions not among `starts`. */
  readonly ends: readonly InterceptionEnd[];
  /** The interceptions children and ends refer to that are not among `starts`: checked to exist. */
  readonly referenced: readonly string[];
}

/** What the statement wrote (rows an earlier statement wrote are not counted). */
export interface SegmentWritten {
  readonly started: number;
  /** Starts inserted already ended. */
  readonly endedOnInsert: number;
  readonly children: Readonly<Partial<Record<ChildKind, number>>>;
  /** Stored interceptions the UPDATE ended. */
  readonly endedByUpdate: number;
  /** Which `referenced` interceptions are not stored (lower case): nothing referring to them was written. */
  readonly missing: readonly string[];
  /** Starts with an end that the INSERT skipped as already stored (lower case): their ends are not applied. */
  readonly skippedEnded: readonly string[];
}

interface SegmentResultRow {
  started: number;
  ended_on_insert: number;
  ended_by_update: number;
  missing: string[];
  skipped_ended: string[];
  token_usage: number;
  prompt_usage: number;
  tool_usage: number;
  model_thought: number;
}

const NOTHING_WRITTEN: SegmentWritten = { started: 0, endedOnInsert: 0, children: {}, endedByUpdate: 0, missing: [], skippedEnded: [] };

/** Writes `segment` with ONE statement (see the file comment); none when there is nothing to do. */
export async function writeSegmentRows(db: Kysely<Database>, segment: SegmentRows): Promise<SegmentWritten> {
  if (segment.starts.length === 0 && segment.referenced.length === 0 && segment.children.length === 0 && segment.ends.length === 0) return NOTHING_WRITTEN;
  const ctes: RawBuilder<unknown>[] = [];
  const results: RawBuilder<unknown>[] = [];
  if (segment.starts.length > 0) {
    ctes.push(sql`new_interceptions AS (${insertInterceptions(segment.starts)})`);
    results.push(sql`(SELECT count(*) FROM new_interceptions)::int AS started`, sql`(SELECT count(ended_at) FROM new_interceptions)::int AS ended_on_insert`);
    const ended = segment.starts.filter((s) => s.end !== undefined).map((s) => s.start.id);
    if (ended.length > 0) {
      results.push(sql`ARRAY(
        SELECT s.id::text FROM unnest(${uuidArray(ended)}::uuid[]) AS s (id)
        WHERE s.id NOT IN (SELECT id FROM new_interceptions)) AS skipped_ended`);
    }
  }
  const checked = segment.referenced.length > 0;
  if (checked) {
    ctes.push(sql`missing AS (
      SELECT r.id FROM unnest(${uuidArray(segment.referenced)}::uuid[]) AS r (id)
      WHERE NOT EXISTS (SELECT FROM aibridge_interceptions AS i WHERE i.id = r.id))`);
    results.push(sql`ARRAY(SELECT id::text FROM missing) AS missing`);
  }
  for (const c of segment.children) {
    ctes.push(sql`${sql.id(`new_${c.kind}`)} AS (${insertChildren(c, checked)})`);
    results.push(sql`(SELECT count(*) FROM ${sql.id(`new_${c.kind}`)})::int AS ${sql.id(c.kind)}`);
  }
  if (segment.ends.length > 0) {
    ctes.push(sql`ended AS (${updateEnds(segment.ends)})`);
    results.push(sql`(SELECT count(*) FROM ended)::int AS ended_by_update`);
  }
  const result = await sql<Partial<SegmentResultRow>>`WITH ${sql.join(ctes)} SELECT ${sql.join(results)}`.execute(db);
  const row = result.rows[0] ?? {};
  const children: Partial<Record<ChildKind, number>> = {};
  for (const c of segment.children) children[c.kind] = row[c.kind] ?? 0;
  return {
    started: row.started ?? 0,
    endedOnInsert: row.ended_on_insert ?? 0,
    children,
    endedByUpdate: row.ended_by_update ?? 0,
    missing: row.missing ?? [],
    skippedEnded: row.skipped_ended ?? [],
  };
}
