// Recorder (DESIGN §4, reference §8): one handler per record type. Each validates ids and
// timestamps, maps the request to a row and writes it in a single statement. Domain errors
// (InvalidArgument, NotFound, AlreadyExists) become Connect codes in rpc/connect-errors.ts;
// database failures become Internal with a generic message there. RecordBatch (1.1) writes many
// records in one transaction (record-batch.ts).
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  Recorder,
  RecordBatchRequest,
  RecordInterceptionEndedRequest,
  RecordInterceptionRequest,
  RecordModelThoughtRequest,
  RecordPromptUsageRequest,
  RecordTokenUsageRequest,
  RecordToolUsageRequest,
} from "@weir/proto";
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import {
  endInterception,
  insertInterception,
  insertModelThought,
  insertTokenUsage,
  insertToolUsage,
  insertUserPrompt,
} from "../db/repositories/recorder-repository.js";
import type { RejectedBatchRecord } from "../db/repositories/record-batch-repository.js";
import type { Database } from "../db/schema.js";
import { NotFoundError } from "../errors.js";
import type { ControlPlaneMetrics, RecordType } from "../metrics.js";
import { callerLogFields } from "../rpc/rpc-context.js";
import { recordBatch } from "./record-batch.js";
import {
  interceptionEndFromRequest,
  interceptionFromRequest,
  modelThoughtFromRequest,
  tokenUsageFromRequest,
  toolUsageFromRequest,
  userPromptFromRequest,
} from "./request-mapping.js";
import type { ServiceDeps } from "./service-deps.js";

export { USER_AGENT_METADATA_KEY } from "./request-mapping.js";

export class RecorderService implements ServiceImpl<typeof Recorder> {
  private readonly db: Kysely<Database>;
  private readonly logger: Logger;
  private readonly metrics: ControlPlaneMetrics | undefined;

  constructor(deps: ServiceDeps) {
    this.db = deps.db;
    this.logger = deps.logger.child({ component: "recorder" });
    this.metrics = deps.metrics;
  }

  async recordInterception(req: RecordInterceptionRequest, ctx: HandlerContext): Promise<Record<string, never>> {
    const row = interceptionFromRequest(req);
    await insertInterception(this.db, row);
    this.written("interception_start", row.id, ctx, { initiator_id: row.initiatorId, provider: row.provider, model: row.model });
    return {};
  }

  async recordInterceptionEnded(req: RecordInterceptionEndedRequest, ctx: HandlerContext): Promise<Record<string, never>> {
    const end = interceptionEndFromRequest(req);
    const outcome = await endInterception(this.db, end);
    if (outcome === "not_found") throw new NotFoundError(`interception ${end.id} not found`);
    // Ending twice is not an error: the first end wins and the second changes nothing.
    if (outcome === "ended") this.written("interception_end", end.id, ctx, { error_type: end.errorType ?? undefined });
    return {};
  }

  async recordTokenUsage(req: RecordTokenUsageRequest, ctx: HandlerContext): Promise<Record<string, never>> {
    const row = tokenUsageFromRequest(req);
    await insertTokenUsage(this.db, row);
    this.written("token_usage", row.interceptionId, ctx);
    return {};
  }

  async recordPromptUsage(req: RecordPromptUsageRequest, ctx: HandlerContext): Promise<Record<string, never>> {
    const row = userPromptFromRequest(req);
    await insertUserPrompt(this.db, row);
    this.written("prompt_usage", row.interceptionId, ctx);
    return {};
  }

  async recordToolUsage(req: RecordToolUsageRequest, ctx: HandlerContext): Promise<Record<string, never>> {
    const row = toolUsageFromRequest(req);
    await insertToolUsage(this.db, row);
    this.written("tool_usage", row.interceptionId, ctx, { tool: row.tool, injected: row.injected });
    return {};
  }

  async recordModelThought(req: RecordModelThoughtRequest, ctx: HandlerContext): Promise<Record<string, never>> {
    const row = modelThoughtFromRequest(req);
    await insertModelThought(this.db, row);
    this.written("model_thought", row.interceptionId, ctx);
    return {};
  }

  async recordBatch(req: RecordBatchRequest, ctx: HandlerContext): Promise<{ rejected: RejectedBatchRecord[] }> {
    return recordBatch({ db: this.db, logger: this.logger, metrics: this.metrics }, req, callerLogFields(ctx.values));
  }

  private written(type: RecordType, interceptionId: string, ctx: HandlerContext, fields: Record<string, unknown> = {}): void {
    this.metrics?.recordsWritten.inc({ type });
    // SECURITY: prompts, tool inputs and thoughts are user content and are never logged.
    if (!this.logger.isLevelEnabled("debug")) return;
    this.logger.debug({ record_type: type, interception_id: interceptionId, ...callerLogFields(ctx.values), ...fields }, "interception log");
  }
}
