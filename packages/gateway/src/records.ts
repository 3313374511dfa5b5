// Building the Recorder messages for one interception (reference §8 "Request lifecycle").

import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type {
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

export function promptRecord(interceptionId: string, msgId: string, prompt: string, atMs: number): FollowUpRecord {
  return {
    interceptionId,
    kind: "prompt_usage",
    message: { interceptionId, msgId, prompt, createdAt: timestampFromMs(atMs), metadata: {} },
  };
}

export function tokenUsageRecord(interceptionId: string, msgId: string, usage: TokenUsage, atMs: number): FollowUpRecord {
  return {
    interceptionId,
    kind: "token_usage",
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
    interceptionId,
    kind: "tool_usage",
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
    interceptionId,
    kind: "model_thought",
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
    interceptionId,
    kind: "interception_ended",
    message: {
      id: interceptionId,
      endedAt: timestampFromMs(atMs),
      credentialHint,
      errorType: error?.type,
      errorMessage: error?.message,
    },
  };
}
