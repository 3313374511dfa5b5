// Recorder (DESIGN §4, reference §8): one handler per record type. Each validates ids and
// timestamps, maps the request to a row and writes it in a single statement. Domain errors
// (InvalidArgument, NotFound, AlreadyExists) become Connect codes in rpc/connect-errors.ts;
// database failures become Internal with a generic message there.
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type {
  Recorder,
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
  type CredentialKind,
  type InterceptionErrorType,
  type NewInterception,
  type NewModelThought,
  type NewTokenUsage,
  type NewToolUsage,
  type NewUserPrompt,
  type InterceptionEnd,
} from "../db/repositories/recorder-repository.js";
import type { Database } from "../db/schema.js";
import { InvalidArgumentError, NotFoundError } from "../errors.js";
import type { ControlPlaneMetrics, RecordType } from "../metrics.js";
import { callerLogFields } from "../rpc/rpc-context.js";
import { metadataToJson } from "./metadata-json.js";
import { optionalUuid, requireCount, requireNonEmpty, requireTimestamp, requireUuid } from "./request-validation.js";
import type { ServiceDeps } from "./service-deps.js";

const CREDENTIAL_KINDS: ReadonlySet<string> = new Set<CredentialKind>(["centralized", "byok"]);
const ERROR_TYPES: ReadonlySet<string> = new Set<InterceptionErrorType>(["upstream_error", "upstream_disconnected", "client_disconnected", "timeout", "internal"]);

/** Metadata key under which an interception's User-Agent is stored (reference §8). */
export const USER_AGENT_METADATA_KEY = "request_user_agent";

// Request -> row mapping, one named function per record type.

export function interceptionFromRequest(req: RecordInterceptionRequest): NewInterception {
  const metadata = metadataToJson(req.metadata);
  if (req.userAgent !== "") metadata[USER_AGENT_METADATA_KEY] = req.userAgent;
  return {
    id: requireUuid("id", req.id),
    initiatorId: requireUuid("initiator_id", req.initiatorId),
    apiKeyId: requireNonEmpty("api_key_id", req.apiKeyId),
    provider: req.provider,
    providerName: req.providerName !== "" ? req.providerName : req.provider,
    model: req.model,
    metadata,
    startedAt: requireTimestamp("started_at", req.startedAt),
    client: req.client,
    clientSessionId: req.clientSessionId ?? null,
    correlatingToolCallId: req.correlatingToolCallId || null,
    // As in the reference, an unknown (or empty) kind is recorded as centralized.
    credentialKind: CREDENTIAL_KINDS.has(req.credentialKind) ? (req.credentialKind as CredentialKind) : "centralized",
    credentialHint: req.credentialHint,
    agentFirewallSessionId: optionalUuid("agent_firewall_session_id", req.agentFirewallSessionId),
    agentFirewallSequenceNumber: req.agentFirewallSequenceNumber ?? null,
  };
}

export function interceptionEndFromRequest(req: RecordInterceptionEndedRequest): InterceptionEnd {
  const errorType = req.errorType || null; // unset and "" both mean "no error"
  if (errorType !== null && !ERROR_TYPES.has(errorType)) {
    throw new InvalidArgumentError("error_type", `must be one of ${[...ERROR_TYPES].join(", ")}`);
  }
  return {
    id: requireUuid("id", req.id),
    endedAt: requireTimestamp("ended_at", req.endedAt),
    credentialHint: req.credentialHint,
    errorType: errorType as InterceptionErrorType | null,
    errorMessage: req.errorMessage ?? null,
  };
}

export function tokenUsageFromRequest(req: RecordTokenUsageRequest): NewTokenUsage {
  return {
    interceptionId: requireUuid("interception_id", req.interceptionId),
    providerResponseId: req.msgId,
    inputTokens: requireCount("input_tokens", req.inputTokens),
    outputTokens: requireCount("output_tokens", req.outputTokens),
    cacheReadInputTokens: requireCount("cache_read_input_tokens", req.cacheReadInputTokens),
    cacheWriteInputTokens: requireCount("cache_write_input_tokens", req.cacheWriteInputTokens),
    metadata: metadataToJson(req.metadata),
    createdAt: requireTimestamp("created_at", req.createdAt),
  };
}

export function userPromptFromRequest(req: RecordPromptUsageRequest): NewUserPrompt {
  return {
    interceptionId: requireUuid("interception_id", req.interceptionId),
    providerResponseId: req.msgId,
    prompt: req.prompt,
    metadata: metadataToJson(req.metadata),
    createdAt: requireTimestamp("created_at", req.createdAt),
  };
}

export function toolUsageFromRequest(req: RecordToolUsageRequest): NewToolUsage {
  return {
    interceptionId: requireUuid("interception_id", req.interceptionId),
    providerResponseId: req.msgId,
    providerToolCallId: req.toolCallId,
    providerItemId: req.itemId,
    serverUrl: req.serverUrl ?? null,
    tool: req.tool,
    input: req.input,
    injected: req.injected,
    invocationError: req.invocationError ?? null,
    metadata: metadataToJson(req.metadata),
    createdAt: requireTimestamp("created_at", req.createdAt),
  };
}

export function modelThoughtFromRequest(req: RecordModelThoughtRequest): NewModelThought {
  return {
    interceptionId: requireUuid("interception_id", req.interceptionId),
    content: req.content,
    metadata: metadataToJson(req.metadata),
    createdAt: requireTimestamp("created_at", req.createdAt),
  };
}

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

  private written(type: RecordType, interceptionId: string, ctx: HandlerContext, fields: Record<string, unknown> = {}): void {
    this.metrics?.recordsWritten.inc({ type });
    // SECURITY: prompts, tool inputs and thoughts are user content and are never logged.
    if (!this.logger.isLevelEnabled("debug")) return;
    this.logger.debug({ record_type: type, interception_id: interceptionId, ...callerLogFields(ctx.values), ...fields }, "interception log");
  }
}
