// Record metadata maps: google.protobuf.Any wrapping google.protobuf.Value (reference §8).
// Records write them with WireWriter.valueMap; this reads them back.

import type { JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, anyUnpack } from "@bufbuild/protobuf/wkt";
import type { Any } from "@bufbuild/protobuf/wkt";
import { toJson } from "@bufbuild/protobuf";

/** Decodes a proto metadata map back to plain JSON values (entries that are not Values are skipped). */
export function fromMetadata(metadata: { readonly [key: string]: Any }): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  for (const [key, any] of Object.entries(metadata)) {
    const value = anyUnpack(any, ValueSchema);
    if (value !== undefined) out[key] = toJson(ValueSchema, value);
  }
  return out;
}
