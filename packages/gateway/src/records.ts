// Building the Recorder messages for one interception (reference §8 "Request lifecycle").
// Every record gets a UUID when it is made (API 1.1: RecordEnvelope.id), kept through every
// retry, so the control plane stores it once however often it is sent; the interception start
// is keyed by the interception id itself.

import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type {
  RecordEnvelopeSchema,
  RecordInterceptionEndedRequestSchema,
  RecordInterceptionRequestSchema,
  RecordModelThoughtRequestSchema,
  RecordPromptUsageRequestSchema,
  RecordTokenUsageRequestSchema,
  RecordToolUsageRequestSchema,
} from "@weir/proto";
import type { CredentialKind } from "./headers.js";
import { toMetadata } from "./metadata.js";
import type { Thought, TokenUsage, ToolCall } from "./providers/provider-api.js";
import type { QueuedRecord } from "./record-queue.js";
import type { ProviderName } from "./routes.js";

export type InterceptionMessage = MessageInitShape<typeof RecordInterceptionRequestSchema>;

/** Why an interception ended badly; the values of the proto's error_type. */
export type InterceptionErrorType = "upstream_error" | "upstream_disconnected" | "client_disconnected" | "timeout" | "internal";

/** The interception start as a queued record (API 1.1: it goes through the queue too). */
export type InterceptionRecord = QueuedRecord & { readonly kind: "interception"; readonly message: InterceptionMessage };

/** Any record the queue carries: the interception start or a follow-up record. */
export type GatewayRecord = InterceptionRecord | FollowUpRecord;

/** One queued follow-up record. */
export type FollowUpRecord =
  | (QueuedRecord & { readonly kind: "prompt_usage"; readonly message: MessageInitShape<typeof RecordPromptUsageRequestSchema> })
  | (QueuedRecord & { readonly kind: "token_usage"; readonly message: MessageInitShape<typeof RecordTokenUsageRequestSchema> })
  | (QueuedRecord & { readonly kind: "tool_usage"; readonly message: MessageInitShape<typeof RecordToolUsageRequestSchema> })
  | (QueuedRecord & { readonly kind: "model_thought"; readonly message: MessageInitShape<typeof RecordModelThoughtRequestSchema> })
  | (QueuedRecord & {
      readonly kind: "interception_ended";
      readonly message: MessageInitShape<typeof RecordInterceptionEndedRequestSchema>;
    });

/** Everything known about an interception when it starts. */
export interface InterceptionStart {
  readonly id: string;
  readonly initiatorId: string;
  readonly apiKeyId: string;
  readonly username: string;
  readonly provider: ProviderName;
  readonly model: string;
  readonly client: string;
  readonly clientSessionId: string | undefined;
  readonly userAgent: string;
  readonly credentialKind: CredentialKind;
  /** SECURITY: a masked hint, never the credential. */
  readonly credentialHint: string;
  readonly correlatingToolCallId: string | undefined;
  readonly startedAtMs: number;
}

export function interceptionMessage(start: InterceptionStart): InterceptionMessage {
  return {
    id: start.id,
    initiatorId: start.initiatorId,
    apiKeyId: start.apiKeyId,
    provider: start.provider,
    providerName: start.provider,
    model: start.model,
    metadata: toMetadata({ username: start.username }),
    startedAt: timestampFromMs(start.startedAtMs),
    client: start.client,
    userAgent: start.userAgent,
    correlatingToolCallId: start.correlatingToolCallId,
    clientSessionId: start.clientSessionId,
    credentialKind: start.credentialKind,
    credentialHint: start.credentialHint,
  };
}

// Bytes a record adds to a batch beyond its large text fields (ids, timestamps, metadata).
const RECORD_OVERHEAD_BYTES = 512;

function textBytes(...texts: (string | undefined)[]): number {
  let bytes = RECORD_OVERHEAD_BYTES;
  for (const text of texts) if (text !== undefined) bytes += Buffer.byteLength(text);
  return bytes;
}

export function interceptionRecord(start: InterceptionStart): InterceptionRecord {
  return {
    id: start.id,
    interceptionId: start.id,
    kind: "interception",
    sizeBytes: textBytes(start.userAgent, start.model),
    message: interceptionMessage(start),
  };
}

export function promptRecord(interceptionId: string, msgId: string, prompt: string, atMs: number): FollowUpRecord {
  return {
    id: randomUUID(),
    interceptionId,
    kind: "prompt_usage",
    sizeBytes: textBytes(prompt),
    message: { interceptionId, msgId, prompt, createdAt: timestampFromMs(atMs), metadata: {} },
  };
}

export function tokenUsageRecord(interceptionId: string, msgId: string, usage: TokenUsage, atMs: number): FollowUpRecord {
  return {
    id: randomUUID(),
    interceptionId,
    kind: "token_usage",
    sizeBytes: textBytes(),
    message: {
      interceptionId,
      msgId,
      inputTokens: BigInt(Math.trunc(usage.input)),
      outputTokens: BigInt(Math.trunc(usage.output)),
      cacheReadInputTokens: BigInt(Math.trunc(usage.cacheRead)),
      cacheWriteInputTokens: BigInt(Math.trunc(usage.cacheWrite)),
      metadata: toMetadata(usage.extras),
      createdAt: timestampFromMs(atMs),
    },
  };
}

export function toolUsageRecord(interceptionId: string, msgId: string, call: ToolCall, atMs: number): FollowUpRecord {
  return {
    id: randomUUID(),
    interceptionId,
    kind: "tool_usage",
    sizeBytes: textBytes(call.name, call.input),
    message: {
      interceptionId,
      msgId,
      tool: call.name,
      input: call.input,
      injected: false,
      toolCallId: call.id,
      itemId: call.itemId,
      metadata: {},
      createdAt: timestampFromMs(atMs),
    },
  };
}

export function thoughtRecord(interceptionId: string, thought: Thought, atMs: number): FollowUpRecord {
  return {
    id: randomUUID(),
    interceptionId,
    kind: "model_thought",
    sizeBytes: textBytes(thought.content),
    message: {
      interceptionId,
      content: thought.content,
      metadata: toMetadata({ source: thought.source }),
      createdAt: timestampFromMs(atMs),
    },
  };
}

export function endedRecord(
  interceptionId: string,
  credentialHint: string,
  atMs: number,
  error: { readonly type: InterceptionErrorType; readonly message: string } | undefined,
): FollowUpRecord {
  return {
    id: randomUUID(),
    interceptionId,
    kind: "interception_ended",
    sizeBytes: textBytes(error?.message),
    message: {
      id: interceptionId,
      endedAt: timestampFromMs(atMs),
      credentialHint,
      errorType: error?.type,
      errorMessage: error?.message,
    },
  };
}

/** The RecordBatch envelope of a record. */
export function recordEnvelope(record: GatewayRecord): MessageInitShape<typeof RecordEnvelopeSchema> {
  switch (record.kind) {
    case "interception":
      return { id: record.id, record: { case: "interception", value: record.message } };
    case "interception_ended":
      return { id: record.id, record: { case: "interceptionEnded", value: record.message } };
    case "token_usage":
      return { id: record.id, record: { case: "tokenUsage", value: record.message } };
    case "prompt_usage":
      return { id: record.id, record: { case: "promptUsage", value: record.message } };
    case "tool_usage":
      return { id: record.id, record: { case: "toolUsage", value: record.message } };
    case "model_thought":
      return { id: record.id, record: { case: "modelThought", value: record.message } };
  }
}
