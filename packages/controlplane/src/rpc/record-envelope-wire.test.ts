// The hand decoder of RecordEnvelope against protobuf-es's own: for every record kind, every
// field, presence of optional fields, metadata maps and random values, the fast path must take
// the envelope and build exactly what fromBinary builds; for what it does not take (unknown
// fields, a repeated embedded message, truncated input) the result — or the error — must still
// be fromBinary's.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ScalarType, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { ValueSchema, anyPack } from "@bufbuild/protobuf/wkt";
import { METADATA_VALUE_TYPE_URL, RecordEnvelopeSchema } from "@weir/proto";
import { decodeRecordEnvelope, decodeRecordEnvelopeFast } from "./record-envelope-wire.js";

type Envelope = MessageInitShape<typeof RecordEnvelopeSchema>;

const ts = { seconds: 1_796_000_000n, nanos: 123_456_789 };
const meta = () => ({
  username: anyPack(ValueSchema, create(ValueSchema, { kind: { case: "stringValue", value: "ana" } })),
  "": { typeUrl: METADATA_VALUE_TYPE_URL, value: new Uint8Array([1, 2, 3]) },
  "ключ": { typeUrl: "", value: new Uint8Array(0) },
});

const CASES: { name: string; envelope: Envelope }[] = [
  { name: "empty envelope", envelope: {} },
  { name: "id only", envelope: { id: "e" } },
  {
    name: "interception, every field",
    envelope: {
      id: "3f1c7a4e-0000-4000-8000-000000000001",
      record: {
        case: "interception",
        value: {
          id: "3f1c7a4e-0000-4000-8000-000000000001",
          initiatorId: "u",
          provider: "openai",
          model: "gpt-4o",
          metadata: meta(),
          startedAt: ts,
          apiKeyId: "abcdefghij",
          client: "claude-code",
          userAgent: "ua/1 ✓",
          correlatingToolCallId: "call_1",
          clientSessionId: "s",
          providerName: "openai",
          credentialKind: "byok",
          credentialHint: "sk-...abcd",
          agentFirewallSessionId: "fw",
          agentFirewallSequenceNumber: -7,
        },
      },
    },
  },
  // Explicit presence: an optional field set to "" is present, and must stay so.
  { name: "interception, optional fields present but empty", envelope: { record: { case: "interception", value: { correlatingToolCallId: "", clientSessionId: "", agentFirewallSequenceNumber: 0 } } } },
  { name: "interception, defaults only", envelope: { record: { case: "interception", value: {} } } },
  {
    name: "interception ended with an error",
    envelope: { id: "x", record: { case: "interceptionEnded", value: { id: "i", endedAt: { seconds: -5n, nanos: 0 }, credentialHint: "h", errorType: "timeout", errorMessage: "upstream request timed out" } } },
  },
  { name: "interception ended, no error", envelope: { record: { case: "interceptionEnded", value: { id: "i", endedAt: {} } } } },
  {
    name: "token usage with large and negative counts",
    envelope: {
      record: {
        case: "tokenUsage",
        value: { interceptionId: "i", msgId: "m", inputTokens: 9_007_199_254_740_993n, outputTokens: -1n, metadata: meta(), createdAt: ts, cacheReadInputTokens: 5n, cacheWriteInputTokens: 6n },
      },
    },
  },
  { name: "prompt usage", envelope: { record: { case: "promptUsage", value: { interceptionId: "i", msgId: "m", prompt: "héllo\n".repeat(1000), metadata: meta(), createdAt: ts } } } },
  {
    name: "tool usage, every field",
    envelope: {
      record: {
        case: "toolUsage",
        value: { interceptionId: "i", msgId: "m", serverUrl: "https://mcp", tool: "t", input: "{}", injected: true, invocationError: "boom", metadata: meta(), createdAt: ts, toolCallId: "c", itemId: "it" },
      },
    },
  },
  { name: "model thought", envelope: { record: { case: "modelThought", value: { interceptionId: "i", content: "hmm", metadata: meta(), createdAt: ts } } } },
];

const encode = (e: Envelope): Uint8Array => toBinary(RecordEnvelopeSchema, create(RecordEnvelopeSchema, e));

/** A record of `desc` with every field set to a non-default value, found by reflection. */
function everyField(desc: DescMessage): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  for (const f of desc.fields) {
    if (f.fieldKind === "map") init[f.localName] = { k: { typeUrl: "t", value: new Uint8Array([1]) } };
    else if (f.fieldKind === "message") init[f.localName] = { seconds: 1n, nanos: 2 };
    else if (f.fieldKind === "scalar") {
      const values: Partial<Record<ScalarType, unknown>> = { [ScalarType.STRING]: "s", [ScalarType.INT64]: 3n, [ScalarType.INT32]: 4, [ScalarType.BOOL]: true };
      if (!(f.scalar in values)) throw new Error(`${desc.typeName}.${f.name}: a scalar type the test does not fill; extend it and record-envelope-wire.ts`);
      init[f.localName] = values[f.scalar];
    } else throw new Error(`${desc.typeName}.${f.name}: a ${f.fieldKind} field; extend the test and record-envelope-wire.ts`);
  }
  return init;
}

describe("decodeRecordEnvelope", () => {
  // A field added to a record message in the contract must be added to the hand decoder too:
  // until then every record carrying it would take the slow path.
  for (const member of RecordEnvelopeSchema.oneofs[0]?.fields ?? []) {
    it(`knows every field of ${member.message?.typeName ?? member.name} (the contract's, by reflection)`, () => {
      assert.ok(member.message !== undefined);
      const envelope = { id: "e", record: { case: member.localName, value: everyField(member.message) } } as Envelope;
      const bytes = encode(envelope);
      const fast = decodeRecordEnvelopeFast(bytes);
      assert.ok(fast !== undefined, `record-envelope-wire.ts does not decode every field of ${member.message.typeName}`);
      assert.deepStrictEqual(fast, fromBinary(RecordEnvelopeSchema, bytes));
    });
  }

  for (const c of CASES) {
    it(`takes the fast path and equals fromBinary: ${c.name}`, () => {
      const bytes = encode(c.envelope);
      const fast = decodeRecordEnvelopeFast(bytes);
      assert.ok(fast !== undefined, "not decoded on the fast path");
      assert.deepStrictEqual(fast, fromBinary(RecordEnvelopeSchema, bytes));
    });
  }

  it("equals fromBinary on random envelopes of every kind", () => {
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const text = (): string => (rand(4) === 0 ? "" : String.fromCodePoint(...Array.from({ length: rand(20) }, () => 32 + rand(0x2fff))));
    const big = (): bigint => BigInt(rand(2 ** 30)) * BigInt(rand(2 ** 30)) * (rand(2) === 0 ? 1n : -1n);
    const maybe = <T>(v: () => T): T | undefined => (rand(2) === 0 ? undefined : v());
    const time = () => maybe(() => ({ seconds: big(), nanos: rand(1_000_000_000) }));
    const metadata = () => Object.fromEntries(Array.from({ length: rand(3) }, () => [text(), { typeUrl: text(), value: new Uint8Array(rand(5)).fill(7) }]));
    for (let i = 0; i < 500; i++) {
      const kinds: Envelope["record"][] = [
        { case: "interception", value: { id: text(), initiatorId: text(), provider: text(), model: text(), metadata: metadata(), startedAt: time(), apiKeyId: text(), client: text(), userAgent: text(), correlatingToolCallId: maybe(text), clientSessionId: maybe(text), providerName: text(), credentialKind: text(), credentialHint: text(), agentFirewallSessionId: maybe(text), agentFirewallSequenceNumber: maybe(() => rand(1000) - 500) } },
        { case: "interceptionEnded", value: { id: text(), endedAt: time(), credentialHint: text(), errorType: maybe(text), errorMessage: maybe(text) } },
        { case: "tokenUsage", value: { interceptionId: text(), msgId: text(), inputTokens: big(), outputTokens: big(), metadata: metadata(), createdAt: time(), cacheReadInputTokens: big(), cacheWriteInputTokens: big() } },
        { case: "promptUsage", value: { interceptionId: text(), msgId: text(), prompt: text(), metadata: metadata(), createdAt: time() } },
        { case: "toolUsage", value: { interceptionId: text(), msgId: text(), serverUrl: maybe(text), tool: text(), input: text(), injected: rand(2) === 0, invocationError: maybe(text), metadata: metadata(), createdAt: time(), toolCallId: text(), itemId: text() } },
        { case: "modelThought", value: { interceptionId: text(), content: text(), metadata: metadata(), createdAt: time() } },
      ];
      const bytes = encode({ id: text(), record: kinds[rand(kinds.length)] });
      const fast = decodeRecordEnvelopeFast(bytes);
      assert.ok(fast !== undefined, `envelope ${i} not decoded on the fast path`);
      assert.deepStrictEqual(fast, fromBinary(RecordEnvelopeSchema, bytes), `envelope ${i}`);
    }
  });

  it("equals fromBinary for an envelope inside a larger buffer (a record is a view of the request body)", () => {
    for (const c of CASES) {
      const bytes = encode(c.envelope);
      const body = new Uint8Array(bytes.length + 11).fill(0xff);
      body.set(bytes, 7);
      const view = body.subarray(7, 7 + bytes.length);
      assert.deepStrictEqual(decodeRecordEnvelopeFast(view), fromBinary(RecordEnvelopeSchema, bytes), c.name);
    }
  });

  it("decodes texts on both sides of the short-text limit, ASCII or not, as fromBinary does", () => {
    const texts = ["", "a", "\ufeffbom first", "x\ufeff", "é", "ascii then é", "✓".repeat(50)];
    for (const n of [127, 128, 129, 300]) texts.push("a".repeat(n), `${"a".repeat(n - 1)}é`, `é${"a".repeat(n)}`);
    for (const t of texts) {
      const bytes = encode({ id: t, record: { case: "promptUsage", value: { interceptionId: t, prompt: t, metadata: { [t]: { typeUrl: t, value: new Uint8Array([1]) } } } } });
      const fast = decodeRecordEnvelopeFast(bytes);
      assert.ok(fast !== undefined, JSON.stringify(t));
      assert.deepStrictEqual(fast, fromBinary(RecordEnvelopeSchema, bytes), JSON.stringify(t));
    }
  });

  it("reads the metadata values' type URL as the constant, and any other type URL as itself", () => {
    const near = METADATA_VALUE_TYPE_URL.slice(0, -1) + "X";
    for (const typeUrl of [METADATA_VALUE_TYPE_URL, near, `${METADATA_VALUE_TYPE_URL}X`, METADATA_VALUE_TYPE_URL.slice(1)]) {
      const bytes = encode({ record: { case: "tokenUsage", value: { metadata: { k: { typeUrl, value: new Uint8Array([0x20, 1]) } } } } });
      const fast = decodeRecordEnvelopeFast(bytes);
      assert.ok(fast?.record.case === "tokenUsage");
      assert.equal(fast.record.value.metadata.k?.typeUrl, typeUrl);
      assert.deepStrictEqual(fast, fromBinary(RecordEnvelopeSchema, bytes));
    }
  });

  it("takes varints as BinaryReader does: non-minimal ones, and no more than 10 bytes", () => {
    // Field 1 of a token usage (interception_id), length 1 written in 2 bytes; input_tokens = 5 in 10 bytes.
    const usage = [0x0a, 0x81, 0x00, 0x69, 0x18, 0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    const bytes = new Uint8Array([0x22, usage.length, ...usage]);
    const fast = decodeRecordEnvelopeFast(bytes);
    assert.ok(fast !== undefined);
    assert.deepStrictEqual(fast, fromBinary(RecordEnvelopeSchema, bytes));
    // input_tokens in 11 bytes: refused by both.
    const tooLong = [0x18, 0x85, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00];
    const bad = new Uint8Array([0x22, tooLong.length, ...tooLong]);
    assert.equal(decodeRecordEnvelopeFast(bad), undefined);
    assert.throws(() => fromBinary(RecordEnvelopeSchema, bad));
    // A tag written in 6 bytes: BinaryReader refuses it, so the fast path leaves it to fromBinary.
    const longTag = new Uint8Array([0x8a, 0x80, 0x80, 0x80, 0x80, 0x00, 0x01, 0x65]);
    assert.equal(decodeRecordEnvelopeFast(longTag), undefined);
  });

  it("leaves an unknown field to fromBinary, which keeps it", () => {
    const known = encode(CASES[2]!.envelope);
    const unknown = new BinaryWriter().tag(99, 0).uint32(7).finish();
    const bytes = new Uint8Array([...known, ...unknown]);
    assert.equal(decodeRecordEnvelopeFast(bytes), undefined);
    const decoded = decodeRecordEnvelope(bytes);
    assert.deepStrictEqual(decoded, fromBinary(RecordEnvelopeSchema, bytes));
    assert.equal(decoded.$unknown?.length, 1);
  });

  it("leaves a repeated embedded message to fromBinary, which merges it", () => {
    // The same oneof member twice: the second occurrence merges into the first.
    const a = encode({ record: { case: "tokenUsage", value: { interceptionId: "i", inputTokens: 1n } } });
    const b = encode({ record: { case: "tokenUsage", value: { outputTokens: 2n } } });
    const bytes = new Uint8Array([...a, ...b]);
    assert.equal(decodeRecordEnvelopeFast(bytes), undefined);
    const decoded = decodeRecordEnvelope(bytes);
    assert.deepStrictEqual(decoded, fromBinary(RecordEnvelopeSchema, bytes));
    assert.equal(decoded.record.case, "tokenUsage");
    assert.deepEqual([decoded.record.value?.interceptionId, decoded.record.value?.inputTokens, decoded.record.value?.outputTokens], ["i", 1n, 2n]);
  });

  it("fails a truncated envelope exactly as fromBinary does", () => {
    const bytes = encode(CASES[2]!.envelope).subarray(0, 40);
    assert.equal(decodeRecordEnvelopeFast(bytes), undefined);
    let want: unknown;
    try {
      fromBinary(RecordEnvelopeSchema, bytes);
    } catch (err) {
      want = err;
    }
    assert.ok(want instanceof Error);
    assert.throws(() => decodeRecordEnvelope(bytes), (err: Error) => err.message === (want as Error).message);
  });
});
