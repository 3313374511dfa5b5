// Writes of Recorder.RecordBatch (API 1.1): many records in ONE transaction, with multi-row
// statements (record-batch-sql.ts), applied in the order given, idempotently:
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
//
// Cost: an interception usually starts and ends within one batch. Such a start is inserted
// already ended (one row version instead of an insert and then an update), and records of
// interceptions started in the segment skip the existence check (the start's insert just made
// sure the row exists).
import { sql, type Kysely, type Transaction } from "kysely";
import { postgresErrorCode } from "../postgres-error.js";
import type { Database } from "../schema.js";
import {
  endInterceptions,
  existingInterceptions,
  insertInterceptions,
  insertModelThoughts,
  insertTokenUsages,
  insertToolUsages,
  insertUserPrompts,
} from "./record-batch-sql.js";
import type {
  InterceptionEnd,
  NewInterception,
  NewModelThought,
  NewTokenUsage,
  NewToolUsage,
  NewUserPrompt,
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

/** Inserts one kind of child record; resolves with how many rows were new. */
function insertChildren(trx: Transaction<Database>, kind: Child["kind"], rows: readonly Child[]): Promise<number> {
  switch (kind) {
    case "token_usage":
      return insertTokenUsages(trx, rows as Extract<Child, { kind: "token_usage" }>[]);
    case "prompt_usage":
      return insertUserPrompts(trx, rows as Extract<Child, { kind: "prompt_usage" }>[]);
    case "tool_usage":
      return insertToolUsages(trx, rows as Extract<Child, { kind: "tool_usage" }>[]);
    case "model_thought":
      return insertModelThoughts(trx, rows as Extract<Child, { kind: "model_thought" }>[]);
  }
}

async function writeSegment(trx: Transaction<Database>, segment: Segment, outcome: BatchWriteOutcome): Promise<void> {
  if (segment.empty) return;
  const { starts, ends } = segment;
  // A start is inserted with the segment's first end of the same interception, already ended.
  let endedOnInsert = 0;
  let someStartStored = false;
  if (starts.size > 0) {
    const rows = [...starts.values()].map((s) => ({ start: s.start, end: ends.get(s.start.id)?.end }));
    const inserted = await insertInterceptions(trx, rows);
    count(outcome, "interception_start", inserted.started);
    endedOnInsert = inserted.ended;
    someStartStored = inserted.started < rows.length;
  }
  // Interceptions started in this segment exist now (inserted, or stored before): only the
  // others are looked up.
  const referenced = new Set<string>();
  for (const c of segment.children) if (!starts.has(c.row.interceptionId)) referenced.add(c.row.interceptionId);
  for (const id of ends.keys()) if (!starts.has(id)) referenced.add(id);
  const existing = referenced.size > 0 ? await existingInterceptions(trx, [...referenced]) : new Set<string>();
  const missing = (r: BatchRecord, interceptionId: string): boolean => {
    if (starts.has(interceptionId) || existing.has(interceptionId)) return false;
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
  // The update ends the interceptions not started in this segment. When some start was already
  // stored (an earlier attempt of this batch, or earlier), its end was not applied by the insert:
  // all ends are then updated; the rows just inserted ended are left alone (`ended_at IS NULL`).
  const toUpdate = [...ends.values()].filter((e) => !missing(e, e.end.id) && (someStartStored || !starts.has(e.end.id))).map((e) => e.end);
  const updated = toUpdate.length > 0 ? await endInterceptions(trx, toUpdate) : 0;
  count(outcome, "interception_end", endedOnInsert + updated);
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
