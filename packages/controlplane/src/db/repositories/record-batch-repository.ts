// Writes of Recorder.RecordBatch (API 1.1): many records at once, atomically, applied in the order
// given, idempotently:
// - child records (token usage, prompt, tool usage, thought) are keyed by the id the gateway
//   chose (`INSERT ... ON CONFLICT (id) DO NOTHING`), an interception start by its own id, and
//   an end is once-only (`WHERE ended_at IS NULL`) — so a batch retried after its answer was
//   lost writes nothing twice;
// - a record referring to an interception that does not exist is rejected (reported, not
//   written) and the rest of the batch is still written: existence is checked inside the
//   statement (the child tables have no foreign key to check it again);
// - a record the database itself refuses (a data exception or constraint violation, e.g. a
//   timestamp before 4713 BC; a NUL in text is not one, record-batch-sql.ts replaces it) aborts
//   the batch: the batch is then written again with existence checked before the other rows are
//   sent (so a refused value in a record that is rejected as not found does not count), and if
//   Postgres still refuses, one record at a time, each in a savepoint, and only the refused
//   records are rejected;
// - any other failure (connection lost, ...) is thrown: the caller answers with an error and the
//   gateway retries the whole batch (a failure writes nothing, except in the second statement
//   a retry may need, see writeSegment: the first then stays written, harmlessly).
//
// Order: records are grouped into segments, each written by ONE statement (record-batch-sql.ts)
// in dependency order (starts, then child records, then ends). A new segment begins only where
// that grouping could change the result: an interception start whose thread lineage refers to a
// tool call recorded earlier in the same segment must see that tool usage row, and no part of a
// statement sees the rows another part writes.
//
// Cost: Postgres round trips dominate at low load, so a batch of one segment (the usual case) is
// one statement, atomic by itself, without BEGIN/COMMIT; only a batch of several segments needs a
// transaction, and a retried batch whose starts are already stored a second statement for their
// ends (record-batch-sql.ts explains why). An interception usually starts and ends within one batch: such a start is inserted
// already ended (one row version instead of an insert and then an update), and records of
// interceptions started in the segment skip the existence check.
//
// Ids are compared in lower case, as Postgres compares uuids.
import { sql, type Kysely } from "kysely";
import { postgresErrorCode } from "../postgres-error.js";
import type { Database } from "../schema.js";
import { endInterceptions, writeSegmentRows, type ChildKind, type ChildRows, type SegmentWritten } from "./record-batch-sql.js";
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

/** An interception id as Postgres compares it. */
const key = (interceptionId: string): string => interceptionId.toLowerCase();

/** Records that can be written with one statement. */
class Segment {
  /** By interception (key()). */
  readonly starts = new Map<string, Extract<BatchRecord, { kind: "interception_start" }>>();
  readonly children: Child[] = [];
  /** By interception (key()). */
  readonly ends = new Map<string, Extract<BatchRecord, { kind: "interception_end" }>>();
  private readonly toolCallIds = new Set<string>();

  get empty(): boolean {
    return this.starts.size === 0 && this.children.length === 0 && this.ends.size === 0;
  }

  /** Whether `r` must not be written in the same statement as what this segment holds. */
  conflicts(r: BatchRecord): boolean {
    return r.kind === "interception_start" && r.start.correlatingToolCallId !== null && this.toolCallIds.has(r.start.correlatingToolCallId);
  }

  add(r: BatchRecord): void {
    switch (r.kind) {
      case "interception_start":
        if (!this.starts.has(key(r.start.id))) this.starts.set(key(r.start.id), r);
        return;
      case "interception_end":
        // The first end of an interception wins, as with RecordInterceptionEnded.
        if (!this.ends.has(key(r.end.id))) this.ends.set(key(r.end.id), r);
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

/** Splits `records` into segments (see the file comment). */
function segmentsOf(records: readonly BatchRecord[]): Segment[] {
  const segments = [new Segment()];
  for (const r of records) {
    let segment = segments[segments.length - 1]!;
    if (segment.conflicts(r)) {
      segment = new Segment();
      segments.push(segment);
    }
    segment.add(r);
  }
  return segments;
}

function count(outcome: BatchWriteOutcome, kind: BatchRecordKind, n: number): void {
  if (n > 0) outcome.written.set(kind, (outcome.written.get(kind) ?? 0) + n);
}

/** Child records by kind, kinds in order of first appearance. */
function byKind(children: readonly Child[]): ChildRows[] {
  const kinds = new Map<ChildKind, Child[]>();
  for (const c of children) {
    const list = kinds.get(c.kind) ?? [];
    list.push(c);
    kinds.set(c.kind, list);
  }
  return [...kinds].map(([kind, rows]) => ({ kind, rows }) as ChildRows);
}

/**
 * How a segment is written:
 * - "one statement": the usual case;
 * - "checked first": existence is checked (with the starts' insert) BEFORE the rows of child
 *   records and ends are sent, in a second statement and only for existing interceptions, as
 *   the writer did before it used one statement. In one statement, a value Postgres refuses is
 *   refused even in a record of a missing interception, which the writer would have rejected as
 *   not found; so after a refusal the batch is written again this way, and only a refusal here
 *   leads to writing records one by one. Needs a transaction.
 */
type SegmentMode = "one statement" | "checked first";

/** Writes one segment and adds what happened to `outcome`. */
async function writeSegment(db: Kysely<Database>, segment: Segment, outcome: BatchWriteOutcome, mode: SegmentMode): Promise<void> {
  if (segment.empty) return;
  const { starts, ends } = segment;
  // Interceptions started in this segment exist once the start's statement ends (inserted, or
  // stored before): only the others are checked, and the check could not see the inserted ones.
  const referenced = new Set<string>();
  for (const c of segment.children) if (!starts.has(key(c.row.interceptionId))) referenced.add(key(c.row.interceptionId));
  for (const id of ends.keys()) if (!starts.has(id)) referenced.add(id);
  // A start is inserted with the segment's first end of the same interception, already ended.
  const startRows = [...starts].map(([id, s]) => ({ start: s.start, end: ends.get(id)?.end }));
  let written: SegmentWritten;
  let missing: Set<string>;
  if (mode === "one statement") {
    written = await writeSegmentRows(db, {
      starts: startRows,
      children: byKind(segment.children),
      ends: [...ends].filter(([id]) => !starts.has(id)).map(([, e]) => e.end),
      referenced: [...referenced],
    });
    missing = new Set(written.missing);
  } else {
    const first = await writeSegmentRows(db, { starts: startRows, children: [], ends: [], referenced: [...referenced] });
    missing = new Set(first.missing);
    // A new statement sees the rows of the first: rows it inserted ended are left alone
    // (`ended_at IS NULL`), starts it skipped get their end.
    const second = await writeSegmentRows(db, {
      starts: [],
      children: byKind(segment.children.filter((c) => !missing.has(key(c.row.interceptionId)))),
      ends: [...ends].filter(([id]) => !missing.has(id)).map(([, e]) => e.end),
      referenced: [],
    });
    written = { ...first, children: second.children, endedByUpdate: second.endedByUpdate, skippedEnded: [] };
  }
  // The outcome in the order the statements of a segment used to run in (rejections of children,
  // then of ends; counts of starts, of each child kind by its first written record, of ends).
  const reject = (r: BatchRecord, interceptionId: string): boolean => {
    if (!missing.has(key(interceptionId))) return false;
    outcome.rejected.push({ id: r.id, reason: `interception ${interceptionId} not found` });
    return true;
  };
  const kinds = new Set<ChildKind>();
  for (const c of segment.children) if (!reject(c, c.row.interceptionId)) kinds.add(c.kind);
  for (const e of ends.values()) reject(e, e.end.id);
  count(outcome, "interception_start", written.started);
  for (const kind of kinds) count(outcome, kind, written.children[kind] ?? 0);
  let ended = written.endedOnInsert + written.endedByUpdate;
  if (written.skippedEnded.length > 0) {
    // Starts stored before (a retry) or by another transaction during the statement: only a new
    // statement sees them all.
    const skipped = new Set(written.skippedEnded);
    ended += await endInterceptions(db, [...ends].filter(([id]) => skipped.has(id)).map(([, e]) => e.end));
  }
  count(outcome, "interception_end", ended);
}

async function writeSegments(db: Kysely<Database>, segments: readonly Segment[], mode: SegmentMode): Promise<BatchWriteOutcome> {
  const outcome: BatchWriteOutcome = { rejected: [], written: new Map() };
  for (const segment of segments) await writeSegment(db, segment, outcome, mode);
  return outcome;
}

/**
 * Writes a batch atomically (see the file comment). Resolves with what was rejected and written;
 * rejects when nothing was written and the whole batch should be retried.
 */
export async function writeRecordBatch(db: Kysely<Database>, records: readonly BatchRecord[]): Promise<BatchWriteOutcome> {
  if (records.length === 0) return { rejected: [], written: new Map() };
  const segments = segmentsOf(records);
  try {
    // One statement is atomic by itself; several need a transaction.
    if (segments.length === 1) return await writeSegments(db, segments, "one statement");
    return await db.transaction().execute((trx) => writeSegments(trx, segments, "one statement"));
  } catch (err) {
    if (databaseRefusal(err) === undefined) throw new Error("write record batch", { cause: err });
  }
  // Postgres refused a value, maybe of a record that is to be rejected as not found anyway.
  try {
    return await db.transaction().execute((trx) => writeSegments(trx, segments, "checked first"));
  } catch (err) {
    if (databaseRefusal(err) === undefined) throw new Error("write record batch, existence checked first", { cause: err });
  }
  // Some record is refused by the database: isolate it.
  try {
    return await db.transaction().execute(async (trx) => {
      const outcome: BatchWriteOutcome = { rejected: [], written: new Map() };
      for (const r of records) {
        await sql`SAVEPOINT batch_record`.execute(trx);
        try {
          for (const segment of segmentsOf([r])) await writeSegment(trx, segment, outcome, "checked first");
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
