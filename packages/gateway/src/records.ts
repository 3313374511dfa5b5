// The Recorder records of one interception (reference §8 "Request lifecycle"), made on the
// request path and encoded there, once: each record is its RecordEnvelope in wire form (API
// 1.1), ready to be one element of RecordBatchRequest.records however often it is sent. The
// envelope id is a UUID chosen here and kept through every retry, so the control plane stores
// the record once; the interception start is keyed by the interception id itself.
//
// Fields are written by number (wire-writer.ts explains why not toBinary); records.test.ts
// checks every number below against the generated schema and decodes every record kind.

import { fromBinary } from "@bufbuild/protobuf";
import type { JsonValue } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { RecordEnvelopeSchema } from "@weir/proto";
import type { RecordEnvelope } from "@weir/proto";
import type { CredentialKind } from "./headers.js";
import type { Thought, TokenUsage, ToolCall } from "./providers/provider-api.js";
import type { QueuedRecord, RecordKind } from "./record-queue.js";
import type { ProviderName } from "./routes.js";
import { WireWriter } from "./wire-writer.js";
import { uuidv7 } from "./uuid7.js";

/** Why an interception ended badly; the values of the proto's error_type. */
export type InterceptionErrorType = "upstream_error" | "upstream_disconnected" | "client_disconnected" | "timeout" | "internal";

/** One record as the gateway queues and sends it. */
export interface GatewayRecord extends QueuedRecord {
  readonly kind: RecordKind;
  /** The RecordEnvelope, length-prefixed: exactly one element of RecordBatchRequest.records on the wire. */
  readonly envelope: Uint8Array;
  /** = envelope.length */
  readonly sizeBytes: number;
}

/** Field numbers of the messages written here (weir.gateway.v1, recorder.proto). */
export const RECORD_FIELD_NUMBERS = {
  RecordEnvelope: { id: 1, interception: 2, interceptionEnded: 3, tokenUsage: 4, promptUsage: 5, toolUsage: 6, modelThought: 7 },
  RecordInterceptionRequest: {
    id: 1,
    initiatorId: 2,
    provider: 3,
    model: 4,
    metadata: 5,
    startedAt: 6,
    apiKeyId: 7,
    client: 8,
    userAgent: 9,
    correlatingToolCallId: 10,
    clientSessionId: 11,
    providerName: 12,
    credentialKind: 13,
    credentialHint: 14,
  },
  RecordInterceptionEndedRequest: { id: 1, endedAt: 2, credentialHint: 3, errorType: 4, errorMessage: 5 },
  RecordTokenUsageRequest: {
    interceptionId: 1,
    msgId: 2,
    inputTokens: 3,
    outputTokens: 4,
    metadata: 5,
    createdAt: 6,
    cacheReadInputTokens: 7,
    cacheWriteInputTokens: 8,
  },
  RecordPromptUsageRequest: { interceptionId: 1, msgId: 2, prompt: 3, metadata: 4, createdAt: 5 },
  RecordToolUsageRequest: {
    interceptionId: 1,
    msgId: 2,
    serverUrl: 3,
    tool: 4,
    input: 5,
    injected: 6,
    invocationError: 7,
    metadata: 8,
    createdAt: 9,
    toolCallId: 10,
    itemId: 11,
  },
  RecordModelThoughtRequest: { interceptionId: 1, content: 2, metadata: 3, createdAt: 4 },
} as const;

const ENVELOPE = RECORD_FIELD_NUMBERS.RecordEnvelope;
const START = RECORD_FIELD_NUMBERS.RecordInterceptionRequest;
const ENDED = RECORD_FIELD_NUMBERS.RecordInterceptionEndedRequest;
const TOKENS = RECORD_FIELD_NUMBERS.RecordTokenUsageRequest;
const PROMPT = RECORD_FIELD_NUMBERS.RecordPromptUsageRequest;
const TOOL = RECORD_FIELD_NUMBERS.RecordToolUsageRequest;
const THOUGHT = RECORD_FIELD_NUMBERS.RecordModelThoughtRequest;

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

/**
 * Recorded texts a client or model controls (a prompt, a tool call's input, a thought) are kept up
 * to this many UTF-8 bytes, and names (model, user agent, ids) up to MAX_RECORDED_NAME_BYTES: a
 * record must fit in one RPC message (4 MiB), and one request body may be 32 MiB. The request and
 * the answer themselves pass untouched; only what is recorded is cut, and says so.
 */
export const MAX_RECORDED_TEXT_BYTES = 1024 * 1024;
export const MAX_RECORDED_NAME_BYTES = 4096;
/** An interception's error message (an upstream error body or event, which a provider may make huge). */
export const MAX_RECORDED_ERROR_BYTES = 64 * 1024;

/**
 * `text`, or its first bytes (whole characters) ending with a note of its size. Only a text that
 * is cut is measured (natively, about 1 ms per MB), and only its head is encoded: a 32 MiB prompt
 * is never encoded whole.
 */
export function boundedText(text: string, maxBytes: number = MAX_RECORDED_TEXT_BYTES): string {
  // A UTF-16 unit is at most 3 UTF-8 bytes: most texts need no counting at all.
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes <= maxBytes) return text;
  const note = ` […truncated by Weir: ${bytes} bytes in all]`;
  const room = maxBytes - Buffer.byteLength(note);
  // A bound smaller than the note itself keeps the bound, without the note.
  return room > 0 ? headBytes(text, room) + note : headBytes(text, maxBytes);
}

/** A name cut to MAX_RECORDED_NAME_BYTES, without a note. */
function boundedName(name: string): string {
  if (name.length * 3 <= MAX_RECORDED_NAME_BYTES || (name.length <= MAX_RECORDED_NAME_BYTES && Buffer.byteLength(name, "utf8") <= MAX_RECORDED_NAME_BYTES)) return name;
  return headBytes(name, MAX_RECORDED_NAME_BYTES);
}

function headBytes(text: string, maxBytes: number): string {
  // The first maxBytes bytes lie within the first maxBytes characters: only those are encoded.
  // A character cut in two decodes as U+FFFD at the end: drop it.
  return Buffer.from(text.slice(0, maxBytes), "utf8").subarray(0, maxBytes).toString("utf8").replace(/\uFFFD$/, "");
}

// Records are built one at a time on the event loop, so one buffer serves them all.
const writer = new WireWriter(4096);

function record(id: string, interceptionId: string, kind: RecordKind, envelopeCase: number, body: (w: WireWriter) => void): GatewayRecord {
  const envelope = writer
    .reset()
    .delimited((env) => env.string(ENVELOPE.id, id).message(envelopeCase, body))
    .finish();
  return { id, interceptionId, kind, envelope, sizeBytes: envelope.length };
}

const NO_METADATA: Readonly<Record<string, JsonValue>> = Object.freeze({});

export function interceptionRecord(start: InterceptionStart): GatewayRecord {
  return record(start.id, start.id, "interception", ENVELOPE.interception, (w) => {
    w.string(START.id, start.id)
      .string(START.initiatorId, start.initiatorId)
      .string(START.provider, start.provider)
      .string(START.model, boundedName(start.model))
      .valueMap(START.metadata, { username: start.username })
      .timestamp(START.startedAt, start.startedAtMs)
      .string(START.apiKeyId, start.apiKeyId)
      .string(START.client, start.client)
      .string(START.userAgent, boundedName(start.userAgent))
      .optionalString(START.correlatingToolCallId, start.correlatingToolCallId === undefined ? undefined : boundedName(start.correlatingToolCallId))
      .optionalString(START.clientSessionId, start.clientSessionId === undefined ? undefined : boundedName(start.clientSessionId))
      .string(START.providerName, start.provider)
      .string(START.credentialKind, start.credentialKind)
      .string(START.credentialHint, start.credentialHint);
  });
}

export function promptRecord(interceptionId: string, msgId: string, prompt: string, atMs: number): GatewayRecord {
  return record(uuidv7(atMs), interceptionId, "prompt_usage", ENVELOPE.promptUsage, (w) => {
    w.string(PROMPT.interceptionId, interceptionId)
      .string(PROMPT.msgId, boundedName(msgId))
      .string(PROMPT.prompt, boundedText(prompt))
      .valueMap(PROMPT.metadata, NO_METADATA)
      .timestamp(PROMPT.createdAt, atMs);
  });
}

export function tokenUsageRecord(interceptionId: string, msgId: string, usage: TokenUsage, atMs: number): GatewayRecord {
  return record(uuidv7(atMs), interceptionId, "token_usage", ENVELOPE.tokenUsage, (w) => {
    w.string(TOKENS.interceptionId, interceptionId)
      .string(TOKENS.msgId, boundedName(msgId))
      .int64(TOKENS.inputTokens, usage.input)
      .int64(TOKENS.outputTokens, usage.output)
      .valueMap(TOKENS.metadata, usage.extras)
      .timestamp(TOKENS.createdAt, atMs)
      .int64(TOKENS.cacheReadInputTokens, usage.cacheRead)
      .int64(TOKENS.cacheWriteInputTokens, usage.cacheWrite);
  });
}

export function toolUsageRecord(interceptionId: string, msgId: string, call: ToolCall, atMs: number): GatewayRecord {
  return record(uuidv7(atMs), interceptionId, "tool_usage", ENVELOPE.toolUsage, (w) => {
    w.string(TOOL.interceptionId, interceptionId)
      .string(TOOL.msgId, boundedName(msgId))
      .string(TOOL.tool, boundedName(call.name))
      .string(TOOL.input, boundedText(call.input))
      .bool(TOOL.injected, false)
      .valueMap(TOOL.metadata, NO_METADATA)
      .timestamp(TOOL.createdAt, atMs)
      .string(TOOL.toolCallId, boundedName(call.id))
      .string(TOOL.itemId, boundedName(call.itemId));
  });
}

export function thoughtRecord(interceptionId: string, thought: Thought, atMs: number): GatewayRecord {
  return record(uuidv7(atMs), interceptionId, "model_thought", ENVELOPE.modelThought, (w) => {
    w.string(THOUGHT.interceptionId, interceptionId)
      .string(THOUGHT.content, boundedText(thought.content))
      .valueMap(THOUGHT.metadata, { source: thought.source })
      .timestamp(THOUGHT.createdAt, atMs);
  });
}

export function endedRecord(
  interceptionId: string,
  credentialHint: string,
  atMs: number,
  error: { readonly type: InterceptionErrorType; readonly message: string } | undefined,
): GatewayRecord {
  return record(uuidv7(atMs), interceptionId, "interception_ended", ENVELOPE.interceptionEnded, (w) => {
    w.string(ENDED.id, interceptionId)
      .timestamp(ENDED.endedAt, atMs)
      .string(ENDED.credentialHint, credentialHint)
      .optionalString(ENDED.errorType, error?.type)
      .optionalString(ENDED.errorMessage, error === undefined ? undefined : boundedText(error.message, MAX_RECORDED_ERROR_BYTES));
  });
}

/**
 * A record decoded back into its message (the per-record RPCs of a 1.0 control plane need
 * messages; that path is rare and may afford reflection).
 */
export function decodeRecord(r: GatewayRecord): RecordEnvelope {
  const reader = new BinaryReader(r.envelope);
  const length = reader.uint32();
  return fromBinary(RecordEnvelopeSchema, r.envelope.subarray(reader.pos, reader.pos + length));
}

const KIND_OF_CASE = {
  interception: "interception",
  interceptionEnded: "interception_ended",
  tokenUsage: "token_usage",
  promptUsage: "prompt_usage",
  toolUsage: "tool_usage",
  modelThought: "model_thought",
} as const satisfies Record<NonNullable<RecordEnvelope["record"]["case"]>, RecordKind>;

/**
 * The record whose length-prefixed envelope this is (as records are written to the spool):
 * throws when the bytes are not one whole RecordEnvelope with an id and a record.
 */
export function recordFromEnvelope(envelope: Uint8Array): GatewayRecord {
  const reader = new BinaryReader(envelope);
  const length = reader.uint32();
  if (reader.pos + length !== envelope.length) throw new Error("not one whole length-prefixed record envelope");
  const { id, record } = fromBinary(RecordEnvelopeSchema, envelope.subarray(reader.pos));
  if (id === "" || record.case === undefined) throw new Error("a record envelope without an id or a record");
  const interceptionId = record.case === "interception" || record.case === "interceptionEnded" ? record.value.id : record.value.interceptionId;
  return { id, interceptionId, kind: KIND_OF_CASE[record.case], envelope, sizeBytes: envelope.length };
}
