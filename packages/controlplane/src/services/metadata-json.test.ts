// metadataToJson: a scalar Value read straight from its bytes gives exactly the JSON the
// reflective unpacking gives, and everything else (struct, list, odd encodings, NaN, invalid
// UTF-8, other types) still takes the reflective path.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { create, createRegistry, fromJson, isMessage, toBinary, toJson, type JsonValue } from "@bufbuild/protobuf";
import { AnySchema, ValueSchema, anyPack, anyUnpack, type Any } from "@bufbuild/protobuf/wkt";
import { metadataToJson } from "./metadata-json.js";

const VALUE_URL = "type.googleapis.com/google.protobuf.Value";
const packed = (json: JsonValue): Any => anyPack(ValueSchema, fromJson(ValueSchema, json));
const raw = (bytes: number[], typeUrl = VALUE_URL): Any => create(AnySchema, { typeUrl, value: new Uint8Array(bytes) });
const doubleBytes = (n: number) => [0x11, ...new Uint8Array(new Float64Array([n]).buffer)];
const long = "x".repeat(20_000); // a length of three varint bytes

/** The reflective unpacking every value went through before the fast path. */
function reflective(any: Any): JsonValue {
  try {
    const message = anyUnpack(any, createRegistry(ValueSchema));
    if (message && isMessage(message, ValueSchema)) return toJson(ValueSchema, message);
  } catch {
    // as metadataToJson
  }
  return any.typeUrl;
}

const cases: { name: string; any: Any; want: JsonValue }[] = [
  { name: "string", any: packed("bench-user"), want: "bench-user" },
  { name: "empty string", any: packed(""), want: "" },
  { name: "non-ASCII string", any: packed("naïve ✓ 😀"), want: "naïve ✓ 😀" },
  { name: "string with a two-byte length", any: packed("y".repeat(300)), want: "y".repeat(300) },
  { name: "string with a three-byte length", any: packed(long), want: long },
  { name: "string starting with a BOM", any: raw([0x1a, 0x04, 0xef, 0xbb, 0xbf, 0x61]), want: "a" },
  { name: "invalid UTF-8 is stored as the type URL", any: raw([0x1a, 0x02, 0xff, 0xfe]), want: VALUE_URL },
  { name: "number", any: packed(1.5), want: 1.5 },
  { name: "zero", any: packed(0), want: 0 },
  { name: "large negative number", any: packed(-1e300), want: -1e300 },
  { name: "NaN is stored as the type URL", any: raw(doubleBytes(Number.NaN)), want: VALUE_URL },
  { name: "true", any: packed(true), want: true },
  { name: "false", any: packed(false), want: false },
  { name: "bool encoded as 2", any: raw([0x20, 0x02]), want: true },
  { name: "bool encoded as a two-byte 0", any: raw([0x20, 0x80, 0x00]), want: false },
  { name: "null", any: packed(null), want: null },
  { name: "struct", any: packed({ a: 1, b: ["x", true] }), want: { a: 1, b: ["x", true] } },
  { name: "list", any: packed([1, "x", null]), want: [1, "x", null] },
  { name: "a Value with no kind is stored as the type URL", any: raw([]), want: VALUE_URL },
  { name: "two fields: the last one wins", any: raw([0x1a, 0x01, 0x61, 0x20, 0x01]), want: true },
  { name: "number then bool: the last one wins", any: raw([...doubleBytes(1.5), 0x20, 0x01]), want: true },
  { name: "bool then string: the last one wins", any: raw([0x20, 0x01, 0x1a, 0x01, 0x61]), want: "a" },
  { name: "truncated string", any: raw([0x1a, 0x05, 0x61]), want: VALUE_URL },
  { name: "another type URL prefix naming Value", any: { ...packed("p"), typeUrl: "example.com/t/google.protobuf.Value" }, want: "p" },
  { name: "not a Value is stored as its type URL", any: raw(Array.from(toBinary(ValueSchema, fromJson(ValueSchema, "s"))), "type.googleapis.com/x.Y"), want: "type.googleapis.com/x.Y" },
];

describe("metadataToJson", () => {
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(reflective(c.any), c.want, "the reflective path agrees with want");
      assert.deepEqual(metadataToJson({ k: c.any }), { k: c.want });
    });
  }

  it("keeps every key", () => {
    assert.deepEqual(metadataToJson({ username: packed("u"), n: packed(2), empty: raw([]) }), { username: "u", n: 2, empty: VALUE_URL });
    assert.deepEqual(metadataToJson({}), {});
  });

  it("keeps the keys' order and a key named __proto__ as a key of its own", () => {
    const metadata: Record<string, Any> = { z: packed(1), a: packed(2) };
    Object.defineProperty(metadata, "__proto__", { value: packed("p"), enumerable: true });
    const json = metadataToJson(metadata);
    assert.equal(Object.getPrototypeOf(json), Object.prototype);
    assert.equal(JSON.stringify(json), '{"z":1,"a":2,"__proto__":"p"}');
  });

  it("reads many numbers in a row right (token usages carry several)", () => {
    const values = [0, 1.5, -2, 1e300, 123456789];
    const metadata = Object.fromEntries(values.map((v, i) => [`n${i}`, packed(v)]));
    assert.deepEqual(metadataToJson(metadata), Object.fromEntries(values.map((v, i) => [`n${i}`, v])));
  });
});
