// Record metadata maps: google.protobuf.Any wrapping google.protobuf.Value (reference §8).

import { fromJson } from "@bufbuild/protobuf";
import type { JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import type { Any } from "@bufbuild/protobuf/wkt";
import { toJson } from "@bufbuild/protobuf";

/** Encodes plain JSON values as a proto metadata map. */
export function toMetadata(values: Readonly<Record<string, JsonValue>>): { [key: string]: Any } {
  const out: { [key: string]: Any } = {};
  for (const [key, value] of Object.entries(values)) {
    try {
      out[key] = anyPack(ValueSchema, fromJson(ValueSchema, value));
    } catch (err) {
      // Like the reference: a value that cannot be encoded is replaced by a note, never dropped silently.
      out[key] = anyPack(ValueSchema, fromJson(ValueSchema, `unencodable metadata: ${String(err)}`));
    }
  }
  return out;
}

/** Decodes a proto metadata map back to plain JSON values (entries that are not Values are skipped). */
export function fromMetadata(metadata: { readonly [key: string]: Any }): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [key, any] of Object.entries(metadata)) {
    const value = anyUnpack(any, ValueSchema);
    if (value !== undefined) out[key] = toJson(ValueSchema, value);
  }
  return out;
}
