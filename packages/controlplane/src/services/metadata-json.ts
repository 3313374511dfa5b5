// Record metadata arrives as map<string, google.protobuf.Any>, each Any wrapping a
// google.protobuf.Value (reference §8). It is stored as one JSON object: each value unpacked to
// its JSON form; a value that is not a Value (or cannot be unpacked) is stored as its type URL
// string, so nothing the gateway sends makes the record fail.
import { createRegistry, isMessage, toJson, type JsonValue } from "@bufbuild/protobuf";
import { getTextEncoding } from "@bufbuild/protobuf/wire";
import { ValueSchema, anyUnpack, type Any } from "@bufbuild/protobuf/wkt";
import { METADATA_VALUE_TYPE_URL } from "@weir/proto";

const registry = createRegistry(ValueSchema);

/** Where a number value's 8 bytes are read (token usages carry several). */
const doubleBytes = new Uint8Array(8);
const doubleView = new DataView(doubleBytes.buffer);

/** scalarValue's answer when the bytes are not one plain scalar field. */
const NOT_SCALAR = Symbol("not a scalar Value");

/**
 * The JSON of a Value holding one null, number, string or bool field, read straight from its
 * bytes; NOT_SCALAR for anything else (struct, list, several fields, a NaN, a string that is not
 * UTF-8, ...), which takes the reflective path. Every interception start carries one such value
 * (the username), and unpacking it reflectively cost more than the rest of the record's mapping.
 */
function scalarValue(bytes: Uint8Array): JsonValue | typeof NOT_SCALAR {
  const tag = bytes[0];
  switch (tag) {
    case 0x08: // null_value, varint
    case 0x20: // bool_value, varint
      if (bytes.length !== 2 || bytes[1]! >= 0x80) return NOT_SCALAR;
      return tag === 0x08 ? null : bytes[1] !== 0;
    case 0x11: {
      // number_value, fixed64 (copied out rather than viewed: no DataView per value)
      if (bytes.length !== 9) return NOT_SCALAR;
      for (let i = 0; i < 8; i++) doubleBytes[i] = bytes[i + 1]!;
      const n = doubleView.getFloat64(0, true);
      return Number.isFinite(n) ? n : NOT_SCALAR;
    }
    case 0x1a: {
      // string_value: a length (one or two varint bytes), then UTF-8
      let length = bytes[1] ?? 0x80;
      let start = 2;
      if (length >= 0x80) {
        const next = bytes[2] ?? 0x80;
        if (next >= 0x80) return NOT_SCALAR;
        length = (length & 0x7f) | (next << 7);
        start = 3;
      }
      if (start + length !== bytes.length) return NOT_SCALAR;
      try {
        return getTextEncoding().decodeUtf8(bytes.subarray(start), true);
      } catch {
        return NOT_SCALAR;
      }
    }
    default:
      return NOT_SCALAR;
  }
}

function anyToJson(any: Any): JsonValue {
  if (any.typeUrl === METADATA_VALUE_TYPE_URL) {
    const scalar = scalarValue(any.value);
    if (scalar !== NOT_SCALAR) return scalar;
  }
  try {
    const message = anyUnpack(any, registry);
    if (message && isMessage(message, ValueSchema)) return toJson(ValueSchema, message);
  } catch {
    // Malformed payload or a Value with no kind set: fall through to the type URL.
  }
  return any.typeUrl;
}

/** The JSON object stored in a record's `metadata` column. */
export function metadataToJson(metadata: Readonly<Record<string, Any>>): Record<string, JsonValue> {
  const json: Record<string, JsonValue> = {};
  for (const key of Object.keys(metadata)) {
    // Assigning "__proto__" would set the prototype: define it as an own property.
    if (key === "__proto__") Object.defineProperty(json, key, { value: anyToJson(metadata[key]!), enumerable: true, writable: true, configurable: true });
    else json[key] = anyToJson(metadata[key]!);
  }
  return json;
}
