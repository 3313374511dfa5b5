// Recorder.RecordBatch (API 1.1): validates each envelope exactly like the per-record RPCs
// validate their request, rejects the malformed ones individually (the batch is not refused for
// them), and writes the rest in one transaction (db/repositories/record-batch-repository.ts).
import type { RecordBatchRequest, RecordEnvelope } from "@weir/proto";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { writeRecordBatch, type BatchRecord, type BatchRecordKind, type RejectedBatchRecord } from "../db/repositories/record-batch-repository.js";
import type { Database } from "../db/schema.js";
import { InvalidArgumentError, isInvalidArgumentError } from "../errors.js";
import type { ControlPlaneMetrics, RecordType } from "../metrics.js";
import {
  interceptionEndFromRequest,
  interceptionFromRequest,
  modelThoughtFromRequest,
  tokenUsageFromRequest,
  toolUsageFromRequest,
  userPromptFromRequest,
} from "./request-mapping.js";
import { requireUuid } from "./request-validation.js";

/** Most records one call may carry; larger batches are refused as a whole (InvalidArgument). */
export const MAX_BATCH_RECORDS = 5_000;

/** Validates one envelope; throws InvalidArgumentError naming the bad field. */
export function batchRecordFromEnvelope(envelope: RecordEnvelope): BatchRecord {
  const id = requireUuid("id", envelope.id);
  const record = envelope.record;
  switch (record.case) {
    case "interception":
      return { kind: "interception_start", id, start: interceptionFromRequest(record.value) };
    case "interceptionEnded":
      return { kind: "interception_end", id, end: interceptionEndFromRequest(record.value) };
    case "tokenUsage":
      return { kind: "token_usage", id, row: tokenUsageFromRequest(record.value) };
    case "promptUsage":
      return { kind: "prompt_usage", id, row: userPromptFromRequest(record.value) };
    case "toolUsage":
      return { kind: "tool_usage", id, row: toolUsageFromRequest(record.value) };
    case "modelThought":
      return { kind: "model_thought", id, row: modelThoughtFromRequest(record.value) };
    case undefined:
      throw new InvalidArgumentError("record", "required");
  }
}

const RECORD_TYPES: Readonly<Record<BatchRecordKind, RecordType>> = {
  interception_start: "interception_start",
  interception_end: "interception_end",
  token_usage: "token_usage",
  prompt_usage: "prompt_usage",
  tool_usage: "tool_usage",
  model_thought: "model_thought",
};

export interface RecordBatchDeps {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  readonly metrics: ControlPlaneMetrics | undefined;
}

/** Serves one RecordBatch call; `logFields` name the caller. */
export async function recordBatch(
  deps: RecordBatchDeps,
  req: RecordBatchRequest,
  logFields: Record<string, unknown>,
): Promise<{ rejected: RejectedBatchRecord[] }> {
  if (req.records.length > MAX_BATCH_RECORDS) throw new InvalidArgumentError("records", `more than ${MAX_BATCH_RECORDS} in one batch`);
  const rejected: RejectedBatchRecord[] = [];
  const records: BatchRecord[] = [];
  const seen = new Set<string>();
  for (const envelope of req.records) {
    // The same envelope twice in one batch is one record.
    if (seen.has(envelope.id)) continue;
    seen.add(envelope.id);
    try {
      records.push(batchRecordFromEnvelope(envelope));
    } catch (err) {
      if (!isInvalidArgumentError(err)) throw err;
      rejected.push({ id: envelope.id, reason: err.message });
    }
  }
  const outcome = await writeRecordBatch(deps.db, records);
  rejected.push(...outcome.rejected);
  for (const [kind, n] of outcome.written) deps.metrics?.recordsWritten.inc({ type: RECORD_TYPES[kind] }, n);
  if (rejected.length > 0) deps.metrics?.recordsRejected.inc(rejected.length);
  // SECURITY: ids and reasons only; prompts, tool inputs and thoughts are never logged.
  if (rejected.length > 0) deps.logger.warn({ ...logFields, records: req.records.length, rejected: rejected.slice(0, 20) }, "record batch: records rejected");
  if (deps.logger.isLevelEnabled("debug")) {
    deps.logger.debug({ ...logFields, records: req.records.length, written: Object.fromEntries(outcome.written), rejected: rejected.length }, "record batch");
  }
  return { rejected };
}
