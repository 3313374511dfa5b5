// The statements of the batch writer (record-batch-repository.ts), built on arrays: each column
// travels as ONE array parameter and `unnest` turns the arrays back into rows. A statement has a
// dozen parameters whatever its row count, so it is cheap to build and send for the control plane
// and cheap to parse and plan for Postgres (a multi-row VALUES list of 500 rows had thousands of
// parameters). Statement size is bounded by the RPC's readMaxBytes, so rows are not chunked.
import { sql, type RawBuilder, type Transaction } from "kysely";
import type { Database } from "../schema.js";
import { timestamptzArray, uuidArray } from "../pg-binary-array.js";
import type { InterceptionEnd, NewInterception, NewModelThought, NewTokenUsage, NewToolUsage, NewUserPrompt } from "./recorder-repository.js";

/** A column of an `unnest` row source: its name, its Postgres type, and its value in a row. */
type Column<R> = readonly [name: string, type: string, value: (row: R) => unknown];

/** Array parameters sent in binary (see pg-binary-array.ts); the others go in pg's text form. */
const BINARY_ARRAYS: Readonly<Record<string, (values: readonly unknown[]) => unknown>> = { uuid: uuidArray, timestamptz: timestamptzArray };

function arrayParameter(type: string, values: readonly unknown[]): unknown {
  const encode = BINARY_ARRAYS[type];
  return encode ? encode(values) : values;
}

/** `unnest($1::t1[], $2::t2[], ...) AS v (c1, c2, ...)`: `rows` as a row source. */
function unnestRows<R>(rows: readonly R[], columns: readonly Column<R>[]): RawBuilder<unknown> {
  const arrays = columns.map(([, type, value]) => sql`${arrayParameter(type, rows.map((r) => value(r)))}::${sql.raw(type)}[]`);
  return sql`unnest(${sql.join(arrays)}) AS v (${sql.join(columns.map(([name]) => sql.id(name)))})`;
}

const columnNames = <R>(columns: readonly Column<R>[], prefix = ""): RawBuilder<unknown> =>
  sql.join(columns.map(([name]) => sql.raw(`${prefix}${name}`)));

/** A child record keyed by the envelope id the gateway chose. */
export interface KeyedRow<T> {
  readonly id: string;
  readonly row: T;
}

/** Inserts rows that are not stored yet; resolves with how many were. */
async function insertRows<R>(trx: Transaction<Database>, table: keyof Database, rows: readonly R[], columns: readonly Column<R>[]): Promise<number> {
  const result = await sql`
    INSERT INTO ${sql.table(table)} (${columnNames(columns)})
    SELECT ${columnNames(columns)} FROM ${unnestRows(rows, columns)}
    ON CONFLICT (id) DO NOTHING`.execute(trx);
  return Number(result.numAffectedRows ?? 0n);
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

export const insertTokenUsages = (trx: Transaction<Database>, rows: readonly KeyedRow<NewTokenUsage>[]) =>
  insertRows(trx, "aibridge_token_usages", rows, TOKEN_USAGE_COLUMNS);
export const insertUserPrompts = (trx: Transaction<Database>, rows: readonly KeyedRow<NewUserPrompt>[]) =>
  insertRows(trx, "aibridge_user_prompts", rows, USER_PROMPT_COLUMNS);
export const insertToolUsages = (trx: Transaction<Database>, rows: readonly KeyedRow<NewToolUsage>[]) =>
  insertRows(trx, "aibridge_tool_usages", rows, TOOL_USAGE_COLUMNS);
export const insertModelThoughts = (trx: Transaction<Database>, rows: readonly KeyedRow<NewModelThought>[]) =>
  insertRows(trx, "aibridge_model_thoughts", rows, MODEL_THOUGHT_COLUMNS);

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
 * Inserts the interceptions not stored yet, those with an end already ended. Thread lineage as
 * interceptionRow's (recorder-repository.ts): the parent is the interception of the latest tool
 * usage with the correlating provider call id, the root is the parent's root or the parent.
 * Resolves with how many rows were inserted, and how many of them ended.
 */
export async function insertInterceptions(trx: Transaction<Database>, rows: readonly StartRow[]): Promise<{ started: number; ended: number }> {
  const result = await sql<{ started: number; ended: number }>`
    WITH inserted AS (
      INSERT INTO aibridge_interceptions (${columnNames(INTERCEPTION_COLUMNS)}, thread_parent_id, thread_root_id)
      SELECT ${columnNames(INTERCEPTION_COLUMNS, "v.")}, parent.interception_id, parent.root_id
      FROM ${unnestRows(rows, INTERCEPTION_COLUMNS)}
      LEFT JOIN LATERAL (
        SELECT t.interception_id, coalesce(p.thread_root_id, p.id) AS root_id
        FROM aibridge_tool_usages AS t
        JOIN aibridge_interceptions AS p ON p.id = t.interception_id
        WHERE t.provider_tool_call_id <> '' -- lets the planner use the partial index
          AND t.provider_tool_call_id = v.correlating_tool_call_id
        ORDER BY t.created_at DESC, t.id DESC
        LIMIT 1
      ) AS parent ON true
      ON CONFLICT (id) DO NOTHING
      RETURNING ended_at
    )
    SELECT count(*)::int AS started, count(ended_at)::int AS ended FROM inserted`.execute(trx);
  return result.rows[0] ?? { started: 0, ended: 0 };
}

const END_COLUMNS: readonly Column<InterceptionEnd>[] = [
  ["id", "uuid", (e) => e.id],
  ["ended_at", "timestamptz", (e) => e.endedAt],
  ["credential_hint", "text", (e) => e.credentialHint],
  ["error_type", "text", (e) => e.errorType],
  ["error_message", "text", (e) => e.errorMessage],
];

/** Ends interceptions once (`ended_at IS NULL`), with hintAfterEnd's rule; resolves with how many. */
export async function endInterceptions(trx: Transaction<Database>, ends: readonly InterceptionEnd[]): Promise<number> {
  const result = await sql`
    UPDATE aibridge_interceptions AS i
    SET ended_at = v.ended_at,
        error_type = v.error_type,
        error_message = v.error_message,
        credential_hint = CASE WHEN i.credential_kind = 'centralized' AND v.credential_hint <> '' THEN v.credential_hint ELSE i.credential_hint END
    FROM ${unnestRows(ends, END_COLUMNS)}
    WHERE i.id = v.id AND i.ended_at IS NULL`.execute(trx);
  return Number(result.numAffectedRows ?? 0n);
}

/** Which of `ids` are stored interceptions. */
export async function existingInterceptions(trx: Transaction<Database>, ids: readonly string[]): Promise<Set<string>> {
  const result = await sql<{ id: string }>`SELECT id FROM aibridge_interceptions WHERE id = ANY(${uuidArray(ids)}::uuid[])`.execute(trx);
  return new Set(result.rows.map((r) => r.id));
}
