// Writes of Recorder.RecordBatch (API 1.1): many records in ONE transaction, with multi-row
// statements, applied in the order given, idempotently:
// - child records (token usage, prompt, tool usage, thought) are keyed by the id the gateway
//   chose (`INSERT ... ON CONFLICT (id) DO NOTHING`), an interception start by its own id, and
//   an end is once-only (`WHERE ended_at IS NULL`) — so a batch retried after its answer was
//   lost writes nothing twice;
// - a record referring to an interception that does not exist is rejected (reported, not
//   written) and the rest of the batch is still written: the existence check is one query per
//   segment, so no foreign-key violation aborts the transaction;
// - a record the database itself refuses (a data exception or constraint violation, e.g. a NUL
//   character in a prompt) would abort the transaction: the batch is then applied again one
//   record at a time, each in a savepoint, and only the refused records are rejected;
// - any other failure (connection lost, ...) rolls everything back and is thrown: the caller
//   answers with an error and the gateway retries the whole batch.
//
// Order: records are grouped into segments written as multi-row statements in dependency order
// (starts, then child records, then ends). A new segment begins only where that grouping could
// change the result: an interception start whose thread lineage refers to a tool call recorded
// earlier in the same segment must see that tool usage row.
import { sql, type Kysely, type Transaction } from "kysely";
import { postgresErrorCode } from "../postgres-error.js";
import type { Database } from "../schema.js";
import {
  interceptionRow,
  modelThoughtRow,
  tokenUsageRow,
  toolUsageRow,
  userPromptRow,
  type InterceptionEnd,
  type NewInterception,
  type NewModelThought,
  type NewTokenUsage,
  type NewToolUsage,
  type NewUserPrompt,
} from "./recorder-repository.js";

/** One validated record of a batch; `id` is its envelope id. */
export type BatchRecord =
  | { readonly kind: "interception_start"; readonly id: string; readonly start: NewInterception }
  | { readonly kind: "interception_end"; readonly id: string; readonly end: InterceptionEnd }
  | { readonly kind: "token_usage"; readonly id: string; readonly row: NewTokenUsage }
  | { readonly kind: "prompt_usage"; readonly id: string; readonly row: NewUserPrompt }
  | { readonly kind: "tool_usage"; readonly id: string; readonly row: NewToolUsage }
  | { readonly kind: "model_thought"; readonly id: string; readonly row: NewModelThought };

export type BatchRecordKind = BatchRecord["kind"];

/** A record that will never be written. */
export interface RejectedBatchRecord {
  readonly id: string;
  readonly reason: string;
}

export interface BatchWriteOutcome {
  readonly rejected: RejectedBatchRecord[];
  /** Rows this call wrote, by kind (rows an earlier attempt wrote are not counted). */
  readonly written: Map<BatchRecordKind, number>;
}

/** Rows per statement: well below Postgres' 65,535 bind parameters for the widest table. */
const ROWS_PER_STATEMENT = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += ROWS_PER_STATEMENT) out.push(items.slice(i, i + ROWS_PER_STATEMENT));
  return out;
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation). */
function databaseRefusal(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = postgresErrorCode(e);
    if (code !== undefined) return code.startsWith("22") || code.startsWith("23") ? code : undefined;
  }
  return undefined;
}

type Child = Extract<BatchRecord, { row: unknown }>;

/** Records that can be written with one statement per table. */
class Segment {
  readonly starts = new Map<string, Extract<BatchRecord, { kind: "interception_start" }>>();
  readonly children: Child[] = [];
  readonly ends = new Map<string, Extract<BatchRecord, { kind: "interception_end" }>>();
  private readonly toolCallIds = new Set<string>();

  get empty(): boolean {
    return this.starts.size === 0 && this.children.length === 0 && this.ends.size === 0;
  }

  /** Whether `r` must not be written in the same statements as what this segment holds. */
  conflicts(r: BatchRecord): boolean {
    return r.kind === "interception_start" && r.start.correlatingToolCallId !== null && this.toolCallIds.has(r.start.correlatingToolCallId);
  }

  add(r: BatchRecord): void {
    switch (r.kind) {
      case "interception_start":
        if (!this.starts.has(r.start.id)) this.starts.set(r.start.id, r);
        return;
      case "interception_end":
        // The first end of an interception wins, as with RecordInterceptionEnded.
        if (!this.ends.has(r.end.id)) this.ends.set(r.end.id, r);
        return;
      case "tool_usage":
        if (r.row.providerToolCallId !== "") this.toolCallIds.add(r.row.providerToolCallId);
        this.children.push(r);
        return;
      default:
        this.children.push(r);
    }
  }
}

function count(outcome: BatchWriteOutcome, kind: BatchRecordKind, n: number): void {
  if (n > 0) outcome.written.set(kind, (outcome.written.get(kind) ?? 0) + n);
}

async function insertChildren(trx: Transaction<Database>, kind: Child["kind"], rows: readonly Child[]): Promise<number> {
  let written = 0;
  for (const chunk of chunks(rows)) {
    const inserted = await insertChildChunk(trx, kind, chunk);
    written += inserted.length;
  }
  return written;
}

function insertChildChunk(trx: Transaction<Database>, kind: Child["kind"], chunk: readonly Child[]): Promise<{ id: string }[]> {
  switch (kind) {
    case "token_usage":
      return trx
        .insertInto("aibridge_token_usages")
        .values(chunk.map((c) => tokenUsageRow(c.row as NewTokenUsage, c.id)))
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("id")
        .execute();
    case "prompt_usage":
      return trx
        .insertInto("aibridge_user_prompts")
        .values(chunk.map((c) => userPromptRow(c.row as NewUserPrompt, c.id)))
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("id")
        .execute();
    case "tool_usage":
      return trx
        .insertInto("aibridge_tool_usages")
        .values(chunk.map((c) => toolUsageRow(c.row as NewToolUsage, c.id)))
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("id")
        .execute();
    case "model_thought":
      return trx
        .insertInto("aibridge_model_thoughts")
        .values(chunk.map((c) => modelThoughtRow(c.row as NewModelThought, c.id)))
        .onConflict((oc) => oc.column("id").doNothing())
        .returning("id")
        .execute();
  }
}

async function endInterceptions(trx: Transaction<Database>, ends: readonly InterceptionEnd[]): Promise<number> {
  let written = 0;
  for (const chunk of chunks(ends)) {
    const values = sql.join(
      chunk.map((e) => sql`(${e.id}::uuid, ${e.endedAt}::timestamptz, ${e.credentialHint}::text, ${e.errorType}::text, ${e.errorMessage}::text)`),
    );
    const result = await sql<{ id: string }>`
      UPDATE aibridge_interceptions AS i
      SET ended_at = v.ended_at,
          error_type = v.error_type,
          error_message = v.error_message,
          credential_hint = CASE WHEN i.credential_kind = 'centralized' AND v.credential_hint <> '' THEN v.credential_hint ELSE i.credential_hint END
      FROM (VALUES ${values}) AS v (id, ended_at, credential_hint, error_type, error_message)
      WHERE i.id = v.id AND i.ended_at IS NULL
      RETURNING i.id`.execute(trx);
    written += result.rows.length;
  }
  return written;
}

async function writeSegment(trx: Transaction<Database>, segment: Segment, outcome: BatchWriteOutcome): Promise<void> {
  if (segment.empty) return;
  for (const chunk of chunks([...segment.starts.values()])) {
    const inserted = await trx
      .insertInto("aibridge_interceptions")
      .values(chunk.map((s) => interceptionRow(trx, s.start)))
      .onConflict((oc) => oc.column("id").doNothing())
      .returning("id")
      .execute();
    count(outcome, "interception_start", inserted.length);
  }
  const referenced = [...new Set([...segment.children.map((c) => c.row.interceptionId), ...segment.ends.keys()])];
  const existing = new Set<string>();
  if (referenced.length > 0) {
    for (const chunk of chunks(referenced)) {
      const rows = await trx.selectFrom("aibridge_interceptions").select("id").where("id", "in", chunk).execute();
      for (const row of rows) existing.add(row.id);
    }
  }
  const missing = (r: BatchRecord, interceptionId: string): boolean => {
    if (existing.has(interceptionId)) return false;
    outcome.rejected.push({ id: r.id, reason: `interception ${interceptionId} not found` });
    return true;
  };
  const byKind = new Map<Child["kind"], Child[]>();
  for (const c of segment.children) {
    if (missing(c, c.row.interceptionId)) continue;
    const list = byKind.get(c.kind) ?? [];
    list.push(c);
    byKind.set(c.kind, list);
  }
  for (const [kind, rows] of byKind) count(outcome, kind, await insertChildren(trx, kind, rows));
  const ends = [...segment.ends.values()].filter((e) => !missing(e, e.end.id)).map((e) => e.end);
  if (ends.length > 0) count(outcome, "interception_end", await endInterceptions(trx, ends));
}

async function writeInOrder(trx: Transaction<Database>, records: readonly BatchRecord[], outcome: BatchWriteOutcome): Promise<void> {
  let segment = new Segment();
  for (const r of records) {
    if (segment.conflicts(r)) {
      await writeSegment(trx, segment, outcome);
      segment = new Segment();
    }
    segment.add(r);
  }
  await writeSegment(trx, segment, outcome);
}

/**
 * Writes a batch in one transaction (see the file comment). Resolves with what was rejected
 * and written; rejects when nothing was written and the whole batch should be retried.
 */
export async function writeRecordBatch(db: Kysely<Database>, records: readonly BatchRecord[]): Promise<BatchWriteOutcome> {
  if (records.length === 0) return { rejected: [], written: new Map() };
  try {
    return await db.transaction().execute(async (trx) => {
      const outcome: BatchWriteOutcome = { rejected: [], written: new Map() };
      await writeInOrder(trx, records, outcome);
      return outcome;
    });
  } catch (err) {
    if (databaseRefusal(err) === undefined) throw new Error("write record batch", { cause: err });
  }
  // Some record is refused by the database: isolate it.
  try {
    return await db.transaction().execute(async (trx) => {
      const outcome: BatchWriteOutcome = { rejected: [], written: new Map() };
      for (const r of records) {
        await sql`SAVEPOINT batch_record`.execute(trx);
        try {
          await writeInOrder(trx, [r], outcome);
          await sql`RELEASE SAVEPOINT batch_record`.execute(trx);
        } catch (err) {
          const code = databaseRefusal(err);
          if (code === undefined) throw err;
          await sql`ROLLBACK TO SAVEPOINT batch_record`.execute(trx);
          outcome.rejected.push({ id: r.id, reason: `refused by the database (SQLSTATE ${code})` });
        }
      }
      return outcome;
    });
  } catch (err) {
    throw new Error("write record batch one record at a time", { cause: err });
  }
}
