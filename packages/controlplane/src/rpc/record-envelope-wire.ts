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
import { WireType, getTextEncoding } from "@bufbuild/protobuf/wire";
import { AnySchema, TimestampSchema } from "@bufbuild/protobuf/wkt";
import type { Any, Timestamp } from "@bufbuild/protobuf/wkt";
import {
  METADATA_VALUE_TYPE_URL,
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
    return readEnvelope(cursor.reset(bytes));
  } catch {
    // notFast, or anything unforeseen: fromBinary then has the last word.
    return undefined;
  } finally {
    cursor.clear();
  }
}

// ---- primitives ----
//
// A cursor of its own rather than protobuf-es's BinaryReader, which allocates for every field
// (a [number, type] array per tag, a subarray per string and the TextDecoder's own work): this
// decoder made most of the control plane's garbage under RecordBatch load. Each read takes the
// bytes exactly as BinaryReader reads them (varints of up to 10 bytes, lengths within the
// message); anything it does not take throws notFast, and fromBinary decodes the envelope.

const text = getTextEncoding();
/** Strings up to this many bytes are checked for ASCII here; longer ones go to the TextDecoder, whose scan is faster. */
const SHORT_TEXT_BYTES = 128;
/** The type URL of every metadata value a gateway sends: compared, not decoded. */
const VALUE_TYPE_URL_BYTES = new TextEncoder().encode(METADATA_VALUE_TYPE_URL);
const NO_BYTES = new Uint8Array(0);
const NO_BYTES_VIEW = Buffer.alloc(0);
/** Turns a varint's two 32-bit halves into an int64, as protobuf-es does. */
const int64View = new DataView(new ArrayBuffer(8));

class Cursor {
  private bytes: Uint8Array = NO_BYTES;
  /** The same bytes as a Buffer, for Buffer#toString (made once per envelope, not per string). */
  private view: Buffer = NO_BYTES_VIEW;
  pos = 0;
  len = 0;
  /** The low and high 32 bits of the last varint read. */
  private lo = 0;
  private hi = 0;

  reset(bytes: Uint8Array): this {
    this.bytes = bytes;
    this.view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.len = bytes.length;
    return this;
  }

  /** Lets go of the bytes, which are a view of a whole request body. */
  clear(): void {
    this.bytes = NO_BYTES;
    this.view = NO_BYTES_VIEW;
  }

  private byte(): number {
    if (this.pos >= this.len) throw notFast;
    return this.bytes[this.pos++]!;
  }

  /** A varint of at most 10 bytes into lo/hi, bit for bit as protobuf-es's varint64read. */
  private varint(): void {
    let lo = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      b = this.byte();
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.lo = lo;
        this.hi = 0;
        return;
      }
    }
    b = this.byte();
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x70) >> 4;
    for (let shift = 3; b >= 0x80; shift += 7) {
      if (shift > 31) throw notFast; // more than 10 bytes
      b = this.byte();
      hi |= (b & 0x7f) << shift;
    }
    this.lo = lo;
    this.hi = hi;
  }

  /** A field's tag: its number times 8 plus its wire type. */
  tag(): number {
    const start = this.pos;
    this.varint();
    // BinaryReader refuses tags longer than 5 bytes; fromBinary reports it.
    if (this.pos - start > 5 || this.lo >>> 3 === 0) throw notFast;
    return this.lo >>> 0;
  }

  uint32(): number {
    this.varint();
    return this.lo >>> 0;
  }

  int32(): number {
    this.varint();
    return this.lo | 0;
  }

  bool(): boolean {
    this.varint();
    return this.lo !== 0 || this.hi !== 0;
  }

  int64(): bigint {
    this.varint();
    int64View.setInt32(0, this.lo, true);
    int64View.setInt32(4, this.hi, true);
    return int64View.getBigInt64(0, true);
  }

  /** The end offset of the length-delimited field at the cursor. */
  delimitedEnd(): number {
    const length = this.uint32();
    const end = this.pos + length;
    if (end > this.len) throw notFast;
    return end;
  }

  bytesField(): Uint8Array {
    const end = this.delimitedEnd();
    const value = this.bytes.subarray(this.pos, end);
    this.pos = end;
    return value;
  }

  /** A string field; invalid UTF-8 becomes U+FFFD, as BinaryReader#string() decodes it. */
  string(): string {
    const end = this.delimitedEnd();
    const start = this.pos;
    this.pos = end;
    if (end - start <= SHORT_TEXT_BYTES) {
      let i = start;
      while (i < end && this.bytes[i]! < 0x80) i++;
      // ASCII is its own Latin-1: sliced without decoding.
      if (i === end) return this.view.toString("latin1", start, end);
    }
    return text.decodeUtf8(this.bytes.subarray(start, end));
  }

  /** A type URL: the metadata values' own without decoding it. */
  typeUrl(): string {
    const start = this.pos;
    const end = this.delimitedEnd();
    if (end - this.pos === VALUE_TYPE_URL_BYTES.length && this.view.compare(VALUE_TYPE_URL_BYTES, 0, VALUE_TYPE_URL_BYTES.length, this.pos, end) === 0) {
      this.pos = end;
      return METADATA_VALUE_TYPE_URL;
    }
    this.pos = start;
    return this.string();
  }
}

/** Decoding is synchronous: one cursor serves every envelope. */
const cursor = new Cursor();

function expect(wireType: WireType, want: WireType): void {
  if (wireType !== want) throw notFast;
}

function str(r: Cursor, wireType: WireType): string {
  expect(wireType, WireType.LengthDelimited);
  return r.string();
}

function int64(r: Cursor, wireType: WireType): bigint {
  expect(wireType, WireType.Varint);
  return r.int64();
}

function timestamp(r: Cursor, wireType: WireType, seen: boolean): Timestamp {
  expect(wireType, WireType.LengthDelimited);
  if (seen) throw notFast; // a second occurrence merges into the first
  const end = r.delimitedEnd();
  const t: Timestamp = { $typeName: TimestampSchema.typeName, seconds: 0n, nanos: 0 };
  while (r.pos < end) {
    const tag = r.tag();
    const no = tag >>> 3;
    const wt = tag & 7;
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
function anyMapEntry(r: Cursor, wireType: WireType, map: Record<string, Any>): void {
  expect(wireType, WireType.LengthDelimited);
  const end = r.delimitedEnd();
  let key = "";
  let value: Any | undefined;
  while (r.pos < end) {
    const tag = r.tag();
    const no = tag >>> 3;
    const wt = tag & 7;
    if (no === 1) key = str(r, wt);
    else if (no === 2) {
      expect(wt, WireType.LengthDelimited);
      if (value !== undefined) throw notFast;
      value = any(r, r.delimitedEnd());
    } else throw notFast;
  }
  // A missing value, or a key that is not a plain property name, is left to fromBinary.
  if (r.pos !== end || value === undefined || key === "__proto__") throw notFast;
  map[key] = value;
}

function any(r: Cursor, end: number): Any {
  let typeUrl = "";
  let value: Uint8Array | undefined;
  while (r.pos < end) {
    const tag = r.tag();
    expect(tag & 7, WireType.LengthDelimited);
    const no = tag >>> 3;
    if (no === 1) typeUrl = r.typeUrl();
    else if (no === 2) value = r.bytesField();
    else throw notFast;
  }
  if (r.pos !== end) throw notFast;
  // The empty default only when the value is absent: every value a gateway sends has one.
  return { $typeName: AnySchema.typeName, typeUrl, value: value ?? new Uint8Array(0) };
}

// ---- the envelope and its records ----

function readEnvelope(r: Cursor): RecordEnvelope {
  const envelope: RecordEnvelope = { $typeName: RecordEnvelopeSchema.typeName, id: "", record: { case: undefined } };
  while (r.pos < r.len) {
    const tag = r.tag();
    const no = tag >>> 3;
    const wt = tag & 7;
    if (no === 1) {
      envelope.id = str(r, wt);
      continue;
    }
    expect(wt, WireType.LengthDelimited);
    // A oneof member seen before would be merged (same member) or replaced (another one).
    if (envelope.record.case !== undefined) throw notFast;
    const end = r.delimitedEnd();
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

function interception(r: Cursor, end: number): RecordInterceptionRequest {
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
    const tag = r.tag();
    const no = tag >>> 3;
    const wt = tag & 7;
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

function interceptionEnded(r: Cursor, end: number): RecordInterceptionEndedRequest {
  const m: RecordInterceptionEndedRequest = { $typeName: RecordInterceptionEndedRequestSchema.typeName, id: "", credentialHint: "" };
  while (r.pos < end) {
    const tag = r.tag();
    const no = tag >>> 3;
    const wt = tag & 7;
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

function tokenUsage(r: Cursor, end: number): RecordTokenUsageRequest {
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
    const tag = r.tag();
    const no = tag >>> 3;
    const wt = tag & 7;
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

function promptUsage(r: Cursor, end: number): RecordPromptUsageRequest {
  const m: RecordPromptUsageRequest = { $typeName: RecordPromptUsageRequestSchema.typeName, interceptionId: "", msgId: "", prompt: "", metadata: {} };
  while (r.pos < end) {
    const tag = r.tag();
    const no = tag >>> 3;
    const wt = tag & 7;
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

function toolUsage(r: Cursor, end: number): RecordToolUsageRequest {
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
    const tag = r.tag();
    const no = tag >>> 3;
    const wt = tag & 7;
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

function modelThought(r: Cursor, end: number): RecordModelThoughtRequest {
  const m: RecordModelThoughtRequest = { $typeName: RecordModelThoughtRequestSchema.typeName, interceptionId: "", content: "", metadata: {} };
  while (r.pos < end) {
    const tag = r.tag();
    const no = tag >>> 3;
    const wt = tag & 7;
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
