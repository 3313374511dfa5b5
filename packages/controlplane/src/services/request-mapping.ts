// Request -> row mapping of the Recorder's records, one named function per record type, shared
// by the per-record RPCs (recorder.ts) and RecordBatch (record-batch.ts). Each validates ids and
// timestamps and throws InvalidArgumentError naming the bad field.
import type {
  RecordInterceptionEndedRequest,
  RecordInterceptionRequest,
  RecordModelThoughtRequest,
  RecordPromptUsageRequest,
  RecordTokenUsageRequest,
  RecordToolUsageRequest,
} from "@weir/proto";
import type {
  CredentialKind,
  InterceptionEnd,
  InterceptionErrorType,
  NewInterception,
  NewModelThought,
  NewTokenUsage,
  NewToolUsage,
  NewUserPrompt,
} from "../db/repositories/recorder-repository.js";
import { InvalidArgumentError } from "../errors.js";
import { metadataToJson } from "./metadata-json.js";
import { optionalUuid, requireCount, requireNonEmpty, requireTimestamp, requireUuid } from "./request-validation.js";

const CREDENTIAL_KINDS: ReadonlySet<string> = new Set<CredentialKind>(["centralized", "byok"]);
const ERROR_TYPES: ReadonlySet<string> = new Set<InterceptionErrorType>(["upstream_error", "upstream_disconnected", "client_disconnected", "timeout", "internal"]);

/** Metadata key under which an interception's User-Agent is stored (reference §8). */
export const USER_AGENT_METADATA_KEY = "request_user_agent";

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
