// Record metadata arrives as map<string, google.protobuf.Any>, each Any wrapping a
// google.protobuf.Value (reference §8). It is stored as one JSON object: each value unpacked to
// its JSON form; a value that is not a Value (or cannot be unpacked) is stored as its type URL
// string, so nothing the gateway sends makes the record fail.
import { createRegistry, isMessage, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, anyUnpack, type Any } from "@bufbuild/protobuf/wkt";

const registry = createRegistry(ValueSchema);

function anyToJson(any: Any): JsonValue {
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
  return Object.fromEntries(Object.entries(metadata).map(([key, any]) => [key, anyToJson(any)]));
}
