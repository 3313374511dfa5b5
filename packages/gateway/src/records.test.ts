// Pins the hand-written wire encoding of records against the generated schema: every field
// number, every proto field accounted for, and every record kind decoding (with the reflective
// @bufbuild/protobuf decoder) to exactly the message the reflective API builds from the same
// facts — including empty and explicit-presence fields, multi-byte text, long lengths,
// metadata of every JSON type and token counts beyond 32 bits.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, createRegistry, fromBinary, fromJson, toBinary, toJson } from "@bufbuild/protobuf";
import type { DescMessage, JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema, anyPack, timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Any } from "@bufbuild/protobuf/wkt";
import {
  RecordBatchRequestSchema,
  RecordEnvelopeSchema,
  RecordInterceptionEndedRequestSchema,
  RecordInterceptionRequestSchema,
  RecordModelThoughtRequestSchema,
  RecordPromptUsageRequestSchema,
  RecordTokenUsageRequestSchema,
  RecordToolUsageRequestSchema,
} from "@weir/proto";
import { batchRequest } from "./control-plane-client.js";
import { MAX_RECORDED_TEXT_BYTES, boundedText } from "./records.js";
import { decodeRecord, endedRecord, fromMetadata, interceptionRecord, promptRecord, thoughtRecord, tokenUsageRecord, toolUsageRecord } from "./index.js";
import type { GatewayRecord, InterceptionStart } from "./index.js";
import { RECORD_FIELD_NUMBERS } from "./records.js";

const registry = createRegistry(ValueSchema);
const ID = "7b0c1a9e-3f52-4d7e-9a61-2c8f0e4b5d13";
const AT = 1_764_576_000_123;
const LONG = "x".repeat(20_000);
const UNICODE = "héllo — 你好 👋🏽";

/** Metadata as the reflective API packs it. */
function metadata(values: Record<string, JsonValue>): Record<string, Any> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, anyPack(ValueSchema, fromJson(ValueSchema, v))]));
}

type EnvelopeInit = MessageInitShape<typeof RecordEnvelopeSchema>;

function assertEncodes(r: GatewayRecord, want: EnvelopeInit): void {
  assert.equal(r.sizeBytes, r.envelope.length);
  const got = decodeRecord(r);
  assert.equal(got.record.value?.$unknown, undefined, "no field number unknown to the schema");
  assert.equal(got.$unknown, undefined);
  assert.deepEqual(toJson(RecordEnvelopeSchema, got, { registry }), toJson(RecordEnvelopeSchema, create(RecordEnvelopeSchema, want), { registry }));
}

function start(overrides: Partial<InterceptionStart> = {}): InterceptionStart {
  return {
    id: ID,
    initiatorId: "0d6a4a5e-8f0e-4f43-9a44-5b2f1f6f7e21",
    apiKeyId: "abcdefghij",
    username: "alice",
    provider: "anthropic",
    model: "claude-sonnet-4",
    client: "Claude Code",
    clientSessionId: undefined,
    userAgent: "claude-cli/1.0",
    credentialKind: "centralized",
    credentialHint: "sk-a...wxyz",
    correlatingToolCallId: undefined,
    startedAtMs: AT,
    ...overrides,
  };
}

describe("record field numbers", () => {
  const schemas: Record<keyof typeof RECORD_FIELD_NUMBERS, DescMessage> = {
    RecordEnvelope: RecordEnvelopeSchema,
    RecordInterceptionRequest: RecordInterceptionRequestSchema,
    RecordInterceptionEndedRequest: RecordInterceptionEndedRequestSchema,
    RecordTokenUsageRequest: RecordTokenUsageRequestSchema,
    RecordPromptUsageRequest: RecordPromptUsageRequestSchema,
    RecordToolUsageRequest: RecordToolUsageRequestSchema,
    RecordModelThoughtRequest: RecordModelThoughtRequestSchema,
  };
  // Fields the gateway never sets. A field added to the proto fails here until it is either
  // written by records.ts or listed as deliberately unset.
  const unset: Record<string, readonly string[]> = {
    RecordInterceptionRequest: ["agentFirewallSessionId", "agentFirewallSequenceNumber"],
  };
  for (const [name, numbers] of Object.entries(RECORD_FIELD_NUMBERS)) {
    it(`${name} matches the schema`, () => {
      const schema = schemas[name as keyof typeof RECORD_FIELD_NUMBERS];
      for (const [field, number] of Object.entries(numbers)) {
        assert.equal(schema.fields.find((f) => f.localName === field)?.number, number, `${name}.${field}`);
      }
      const covered = new Set([...Object.keys(numbers), ...(unset[name] ?? [])]);
      assert.deepEqual(
        schema.fields.map((f) => f.localName).filter((f) => !covered.has(f)),
        [],
        `${name} has fields records.ts neither writes nor lists as unset`,
      );
    });
  }
});

describe("record encoding", () => {
  const cases: { name: string; record: () => GatewayRecord; want: EnvelopeInit }[] = [
    {
      name: "interception start, optional fields unset",
      record: () => interceptionRecord(start()),
      want: {
        id: ID,
        record: {
          case: "interception",
          value: {
            id: ID,
            initiatorId: "0d6a4a5e-8f0e-4f43-9a44-5b2f1f6f7e21",
            provider: "anthropic",
            providerName: "anthropic",
            model: "claude-sonnet-4",
            metadata: metadata({ username: "alice" }),
            startedAt: timestampFromMs(AT),
            apiKeyId: "abcdefghij",
            client: "Claude Code",
            userAgent: "claude-cli/1.0",
            credentialKind: "centralized",
            credentialHint: "sk-a...wxyz",
          },
        },
      },
    },
    {
      name: "interception start, optional fields set to empty strings, multi-byte text",
      record: () => interceptionRecord(start({ correlatingToolCallId: "", clientSessionId: "", userAgent: UNICODE, username: UNICODE, credentialHint: "" })),
      want: {
        id: ID,
        record: {
          case: "interception",
          value: {
            id: ID,
            initiatorId: "0d6a4a5e-8f0e-4f43-9a44-5b2f1f6f7e21",
            provider: "anthropic",
            providerName: "anthropic",
            model: "claude-sonnet-4",
            metadata: metadata({ username: UNICODE }),
            startedAt: timestampFromMs(AT),
            apiKeyId: "abcdefghij",
            client: "Claude Code",
            userAgent: UNICODE,
            correlatingToolCallId: "",
            clientSessionId: "",
            credentialKind: "centralized",
          },
        },
      },
    },
    {
      name: "prompt longer than two length bytes",
      record: () => promptRecord(ID, "msg_1", LONG, AT),
      want: { record: { case: "promptUsage", value: { interceptionId: ID, msgId: "msg_1", prompt: LONG, createdAt: timestampFromMs(AT) } } },
    },
    {
      name: "token usage with 64-bit counts, zero cache and extras",
      record: () =>
        tokenUsageRecord(ID, "chatcmpl-1", { input: 2 ** 40 + 7, output: 3, cacheRead: 0, cacheWrite: 129, extras: { prompt_cached: 0, completion_reasoning: 1.5 } }, AT),
      want: {
        record: {
          case: "tokenUsage",
          value: {
            interceptionId: ID,
            msgId: "chatcmpl-1",
            inputTokens: BigInt(2 ** 40 + 7),
            outputTokens: 3n,
            cacheWriteInputTokens: 129n,
            metadata: metadata({ prompt_cached: 0, completion_reasoning: 1.5 }),
            createdAt: timestampFromMs(AT),
          },
        },
      },
    },
    {
      name: "token usage with a negative count (an upstream's nonsense is kept, not wrapped)",
      record: () => tokenUsageRecord(ID, "", { input: -5, output: 0, cacheRead: 0, cacheWrite: 0, extras: {} }, AT),
      want: { record: { case: "tokenUsage", value: { interceptionId: ID, inputTokens: -5n, createdAt: timestampFromMs(AT) } } },
    },
    {
      name: "tool usage",
      record: () => toolUsageRecord(ID, "resp_1", { id: "call_1", name: "read_file", input: '{"path":"/tmp/ü"}', itemId: "fc_1" }, AT),
      want: {
        record: {
          case: "toolUsage",
          value: { interceptionId: ID, msgId: "resp_1", tool: "read_file", input: '{"path":"/tmp/ü"}', toolCallId: "call_1", itemId: "fc_1", createdAt: timestampFromMs(AT) },
        },
      },
    },
    {
      name: "model thought",
      record: () => thoughtRecord(ID, { content: UNICODE, source: "thinking" }, AT),
      want: {
        record: { case: "modelThought", value: { interceptionId: ID, content: UNICODE, metadata: metadata({ source: "thinking" }), createdAt: timestampFromMs(AT) } },
      },
    },
    {
      name: "interception ended cleanly",
      record: () => endedRecord(ID, "sk-a...wxyz", AT, undefined),
      want: { record: { case: "interceptionEnded", value: { id: ID, endedAt: timestampFromMs(AT), credentialHint: "sk-a...wxyz" } } },
    },
    {
      name: "interception ended with an error and an empty message",
      record: () => endedRecord(ID, "", AT + 1, { type: "client_disconnected", message: "" }),
      want: { record: { case: "interceptionEnded", value: { id: ID, endedAt: timestampFromMs(AT + 1), errorType: "client_disconnected", errorMessage: "" } } },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = c.record();
      // Every record but the start gets its own UUID as envelope id.
      const want = c.want.id === undefined ? { ...c.want, id: r.id } : c.want;
      assert.match(r.id, /^[0-9a-f-]{36}$/);
      assert.equal(r.interceptionId, ID);
      assertEncodes(r, want);
    });
  }

  it("a follow-up record's id is a version 7 UUID stamped with the record's own time", () => {
    const at = AT + 7;
    const records = [
      promptRecord(ID, "", "hi", at),
      tokenUsageRecord(ID, "", { input: 1, output: 1, cacheRead: 0, cacheWrite: 0, extras: {} }, at),
      toolUsageRecord(ID, "", { id: "call_1", name: "t", input: "{}", itemId: "" }, at),
      thoughtRecord(ID, { content: "x", source: "thinking" }, at),
      endedRecord(ID, "", at, undefined),
    ];
    for (const r of records) {
      assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, r.kind);
      assert.equal(parseInt(r.id.slice(0, 8) + r.id.slice(9, 13), 16), at, r.kind);
    }
  });

  it("timestamps before 1970 and fractional milliseconds", () => {
    for (const at of [-1_500, -1, 0, 999.5]) {
      const got = decodeRecord(endedRecord(ID, "", at, undefined)).record;
      assert.equal(got.case, "interceptionEnded");
      const ts = got.case === "interceptionEnded" ? got.value.endedAt : undefined;
      const want = timestampFromMs(Math.floor(at));
      assert.equal(ts?.seconds, want.seconds, String(at));
      assert.equal(ts?.nanos, Math.trunc((at - Number(want.seconds) * 1000) * 1_000_000), String(at));
    }
  });

  it("metadata of every JSON type reads back as the same JSON", () => {
    const values: Record<string, JsonValue> = {
      null: null,
      yes: true,
      no: false,
      zero: 0,
      negative: -2.25,
      text: UNICODE,
      empty: "",
      list: [1, "two", [null], { three: 3 }],
      nested: { a: { b: [] }, c: {} },
      long: LONG,
    };
    const got = decodeRecord(tokenUsageRecord(ID, "", { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, extras: values as Record<string, number> }, AT)).record;
    assert.equal(got.case, "tokenUsage");
    assert.deepEqual(fromMetadata(got.case === "tokenUsage" ? got.value.metadata : {}), values);
  });

  it("a number metadata cannot hold becomes a note, not a broken record", () => {
    const got = decodeRecord(tokenUsageRecord(ID, "", { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, extras: { bad: Number.POSITIVE_INFINITY } }, AT)).record;
    assert.deepEqual(fromMetadata(got.case === "tokenUsage" ? got.value.metadata : {}), { bad: "unencodable metadata: Infinity is not a finite number" });
  });
});

describe("batchRequest", () => {
  // The pre-encoded envelopes are the batch's records field on the wire, in order.
  it("serialises to a RecordBatchRequest with the records in order", () => {
    const records = [interceptionRecord(start()), promptRecord(ID, "m", LONG, AT), endedRecord(ID, "", AT, undefined)];
    const decoded = fromBinary(RecordBatchRequestSchema, toBinary(RecordBatchRequestSchema, batchRequest(records)));
    assert.equal(decoded.$unknown, undefined);
    assert.deepEqual(
      decoded.records.map((e) => toJson(RecordEnvelopeSchema, e, { registry })),
      records.map((r) => toJson(RecordEnvelopeSchema, decodeRecord(r), { registry })),
    );
    assert.deepEqual(
      decoded.records.map((e) => e.record.case),
      ["interception", "promptUsage", "interceptionEnded"],
    );
  });

  it("an empty batch is an empty message", () => {
    assert.equal(toBinary(RecordBatchRequestSchema, batchRequest([])).length, 0);
  });
});

describe("boundedText", () => {
  it("keeps a text within the bound as it is", () => {
    const text = "x".repeat(MAX_RECORDED_TEXT_BYTES);
    assert.equal(boundedText(text), text);
  });

  it("cuts a longer one at a whole character to the bound, ending with the size it had", () => {
    const text = `a${"€".repeat(400_000)}`; // 1 + 1,200,000 bytes
    const cut = boundedText(text);
    assert.ok(cut.endsWith(" […truncated by Weir: 1200001 bytes in all]"), cut.slice(-60));
    assert.ok(Buffer.byteLength(cut) <= MAX_RECORDED_TEXT_BYTES);
    assert.ok(Buffer.byteLength(cut) > MAX_RECORDED_TEXT_BYTES - 6, "cut well short of the bound");
    assert.ok(!cut.includes("\uFFFD"), "a character was cut in two");
    assert.equal(boundedText("€€€€", 12).length, 4);
    // A bound smaller than the note keeps the bound.
    assert.equal(boundedText("x".repeat(300), 30), "x".repeat(30));
  });

  it("bounds what a prompt record carries", () => {
    const record = promptRecord("0194d4e2-0000-7000-8000-000000000001", "msg", "p".repeat(5 * 1024 * 1024), 1);
    assert.ok(record.sizeBytes < MAX_RECORDED_TEXT_BYTES + 200, String(record.sizeBytes));
  });
});
