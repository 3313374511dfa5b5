// Decodes one RecordEnvelope (recorder.proto) from its wire form by field number, into exactly
// the message fromBinary would build. RecordBatch is the control plane's busiest call, and
// protobuf-es's reflective decoder cost ~7 µs per record there — a fifth of the control plane's
// CPU under load, plus the garbage of its reflection. The gateway writes these same fields by
// number (gateway/src/records.ts).
//
// Only the shape gateways send is decoded here: known fields with their wire types, each
// singular message field once. Anything else — an unknown field (it must be kept in $unknown),
// a repeated embedded message (it must be merged), a wrong wire type, a truncated message —
// goes to fromBinary, which has the exact semantics and errors for it.

import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { AnySchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import type { Any, Timestamp } from "@bufbuild/protobuf/wkt";
import {
  RecordEnvelopeSchema,
  RecordInterceptionEndedRequestSchema,
  RecordInterceptionRequestSchema,
  RecordModelThoughtRequestSchema,
  RecordPromptUsageRequestSchema,
  RecordTokenUsageRequestSchema,
  RecordToolUsageRequestSchema,
} from "@weir/proto";
import type {
  RecordEnvelope,
  RecordInterceptionEndedRequest,
  RecordInterceptionRequest,
  RecordModelThoughtRequest,
  RecordPromptUsageRequest,
  RecordTokenUsageRequest,
  RecordToolUsageRequest,
} from "@weir/proto";

/** The shape is not one this decoder takes; fromBinary decodes the envelope instead. */
class NotFastPathError extends Error {}

const notFast = new NotFastPathError("not on the fast path");

/** Decodes a RecordEnvelope; the result equals fromBinary(RecordEnvelopeSchema, bytes). */
export function decodeRecordEnvelope(bytes: Uint8Array): RecordEnvelope {
  // Unusual or broken input: the reflective decoder has the exact semantics (and errors).
  return decodeRecordEnvelopeFast(bytes) ?? fromBinary(RecordEnvelopeSchema, bytes);
}

/** The fast path alone: undefined when the envelope is not a shape it takes (or is broken). */
export function decodeRecordEnvelopeFast(bytes: Uint8Array): RecordEnvelope | undefined {
  try {
    return readEnvelope(new BinaryReader(bytes));
  } catch {
    // NotFastPathError, or the reader's own errors on truncated input.
    return undefined;
  }
}

// ---- primitives ----

/** The end offset of the length-delimited field at the reader's position. */
function delimitedEnd(r: BinaryReader): number {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > r.len) throw notFast;
  return end;
}

function expect(wireType: WireType, want: WireType): void {
  if (wireType !== want) throw notFast;
}

function str(r: BinaryReader, wireType: WireType): string {
  expect(wireType, WireType.LengthDelimited);
  return r.string();
}

function int64(r: BinaryReader, wireType: WireType): bigint {
  expect(wireType, WireType.Varint);
  const v = r.int64();
  if (typeof v !== "bigint") throw notFast;
  return v;
}

function timestamp(r: BinaryReader, wireType: WireType, seen: boolean): Timestamp {
  expect(wireType, WireType.LengthDelimited);
  if (seen) throw notFast; // a second occurrence merges into the first
  const end = delimitedEnd(r);
  const t: Timestamp = { $typeName: TimestampSchema.typeName, seconds: 0n, nanos: 0 };
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1) t.seconds = int64(r, wt);
    else if (no === 2) {
      expect(wt, WireType.Varint);
      t.nanos = r.int32();
    } else throw notFast;
  }
  if (r.pos !== end) throw notFast;
  return t;
}

/** One entry of a map<string, google.protobuf.Any>, added to `map` (a later key wins). */
function anyMapEntry(r: BinaryReader, wireType: WireType, map: Record<string, Any>): void {
  expect(wireType, WireType.LengthDelimited);
  const end = delimitedEnd(r);
  let key = "";
  let value: Any | undefined;
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1) key = str(r, wt);
    else if (no === 2) {
      expect(wt, WireType.LengthDelimited);
      if (value !== undefined) throw notFast;
      value = any(r, delimitedEnd(r));
    } else throw notFast;
  }
  // A missing value, or a key that is not a plain property name, is left to fromBinary.
  if (r.pos !== end || value === undefined || key === "__proto__") throw notFast;
  map[key] = value;
}

function any(r: BinaryReader, end: number): Any {
  const a: Any = { $typeName: AnySchema.typeName, typeUrl: "", value: new Uint8Array(0) };
  while (r.pos < end) {
    const [no, wt] = r.tag();
    expect(wt, WireType.LengthDelimited);
    if (no === 1) a.typeUrl = r.string();
    else if (no === 2) a.value = r.bytes();
    else throw notFast;
  }
  if (r.pos !== end) throw notFast;
  return a;
}

// ---- the envelope and its records ----

function readEnvelope(r: BinaryReader): RecordEnvelope {
  const envelope: RecordEnvelope = { $typeName: RecordEnvelopeSchema.typeName, id: "", record: { case: undefined } };
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1) {
      envelope.id = str(r, wt);
      continue;
    }
    expect(wt, WireType.LengthDelimited);
    // A oneof member seen before would be merged (same member) or replaced (another one).
    if (envelope.record.case !== undefined) throw notFast;
    const end = delimitedEnd(r);
    switch (no) {
      case 2:
        envelope.record = { case: "interception", value: interception(r, end) };
        break;
      case 3:
        envelope.record = { case: "interceptionEnded", value: interceptionEnded(r, end) };
        break;
      case 4:
        envelope.record = { case: "tokenUsage", value: tokenUsage(r, end) };
        break;
      case 5:
        envelope.record = { case: "promptUsage", value: promptUsage(r, end) };
        break;
      case 6:
        envelope.record = { case: "toolUsage", value: toolUsage(r, end) };
        break;
      case 7:
        envelope.record = { case: "modelThought", value: modelThought(r, end) };
        break;
      default:
        throw notFast;
    }
    if (r.pos !== end) throw notFast;
  }
  if (r.pos !== r.len) throw notFast;
  return envelope;
}

function interception(r: BinaryReader, end: number): RecordInterceptionRequest {
  const m: RecordInterceptionRequest = {
    $typeName: RecordInterceptionRequestSchema.typeName,
    id: "",
    initiatorId: "",
    provider: "",
    model: "",
    metadata: {},
    apiKeyId: "",
    client: "",
    userAgent: "",
    providerName: "",
    credentialKind: "",
    credentialHint: "",
  };
  while (r.pos < end) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1: m.id = str(r, wt); break;
      case 2: m.initiatorId = str(r, wt); break;
      case 3: m.provider = str(r, wt); break;
      case 4: m.model = str(r, wt); break;
      case 5: anyMapEntry(r, wt, m.metadata); break;
      case 6: m.startedAt = timestamp(r, wt, m.startedAt !== undefined); break;
      case 7: m.apiKeyId = str(r, wt); break;
      case 8: m.client = str(r, wt); break;
      case 9: m.userAgent = str(r, wt); break;
      case 10: m.correlatingToolCallId = str(r, wt); break;
      case 11: m.clientSessionId = str(r, wt); break;
      case 12: m.providerName = str(r, wt); break;
      case 13: m.credentialKind = str(r, wt); break;
      case 14: m.credentialHint = str(r, wt); break;
      case 15: m.agentFirewallSessionId = str(r, wt); break;
      case 16:
        expect(wt, WireType.Varint);
        m.agentFirewallSequenceNumber = r.int32();
        break;
      default: throw notFast;
    }
  }
  return m;
}

function interceptionEnded(r: BinaryReader, end: number): RecordInterceptionEndedRequest {
  const m: RecordInterceptionEndedRequest = { $typeName: RecordInterceptionEndedRequestSchema.typeName, id: "", credentialHint: "" };
  while (r.pos < end) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1: m.id = str(r, wt); break;
      case 2: m.endedAt = timestamp(r, wt, m.endedAt !== undefined); break;
      case 3: m.credentialHint = str(r, wt); break;
      case 4: m.errorType = str(r, wt); break;
      case 5: m.errorMessage = str(r, wt); break;
      default: throw notFast;
    }
  }
  return m;
}

function tokenUsage(r: BinaryReader, end: number): RecordTokenUsageRequest {
  const m: RecordTokenUsageRequest = {
    $typeName: RecordTokenUsageRequestSchema.typeName,
    interceptionId: "",
    msgId: "",
    inputTokens: 0n,
    outputTokens: 0n,
    metadata: {},
    cacheReadInputTokens: 0n,
    cacheWriteInputTokens: 0n,
  };
  while (r.pos < end) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1: m.interceptionId = str(r, wt); break;
      case 2: m.msgId = str(r, wt); break;
      case 3: m.inputTokens = int64(r, wt); break;
      case 4: m.outputTokens = int64(r, wt); break;
      case 5: anyMapEntry(r, wt, m.metadata); break;
      case 6: m.createdAt = timestamp(r, wt, m.createdAt !== undefined); break;
      case 7: m.cacheReadInputTokens = int64(r, wt); break;
      case 8: m.cacheWriteInputTokens = int64(r, wt); break;
      default: throw notFast;
    }
  }
  return m;
}

function promptUsage(r: BinaryReader, end: number): RecordPromptUsageRequest {
  const m: RecordPromptUsageRequest = { $typeName: RecordPromptUsageRequestSchema.typeName, interceptionId: "", msgId: "", prompt: "", metadata: {} };
  while (r.pos < end) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1: m.interceptionId = str(r, wt); break;
      case 2: m.msgId = str(r, wt); break;
      case 3: m.prompt = str(r, wt); break;
      case 4: anyMapEntry(r, wt, m.metadata); break;
      case 5: m.createdAt = timestamp(r, wt, m.createdAt !== undefined); break;
      default: throw notFast;
    }
  }
  return m;
}

function toolUsage(r: BinaryReader, end: number): RecordToolUsageRequest {
  const m: RecordToolUsageRequest = {
    $typeName: RecordToolUsageRequestSchema.typeName,
    interceptionId: "",
    msgId: "",
    tool: "",
    input: "",
    injected: false,
    metadata: {},
    toolCallId: "",
    itemId: "",
  };
  while (r.pos < end) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1: m.interceptionId = str(r, wt); break;
      case 2: m.msgId = str(r, wt); break;
      case 3: m.serverUrl = str(r, wt); break;
      case 4: m.tool = str(r, wt); break;
      case 5: m.input = str(r, wt); break;
      case 6:
        expect(wt, WireType.Varint);
        m.injected = r.bool();
        break;
      case 7: m.invocationError = str(r, wt); break;
      case 8: anyMapEntry(r, wt, m.metadata); break;
      case 9: m.createdAt = timestamp(r, wt, m.createdAt !== undefined); break;
      case 10: m.toolCallId = str(r, wt); break;
      case 11: m.itemId = str(r, wt); break;
      default: throw notFast;
    }
  }
  return m;
}

function modelThought(r: BinaryReader, end: number): RecordModelThoughtRequest {
  const m: RecordModelThoughtRequest = { $typeName: RecordModelThoughtRequestSchema.typeName, interceptionId: "", content: "", metadata: {} };
  while (r.pos < end) {
    const [no, wt] = r.tag();
    switch (no) {
      case 1: m.interceptionId = str(r, wt); break;
      case 2: m.content = str(r, wt); break;
      case 3: anyMapEntry(r, wt, m.metadata); break;
      case 4: m.createdAt = timestamp(r, wt, m.createdAt !== undefined); break;
      default: throw notFast;
    }
  }
  return m;
}
