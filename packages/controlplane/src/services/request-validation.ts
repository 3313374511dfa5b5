// Validation of RPC request fields. Each failure is an InvalidArgumentError naming the proto
// field, e.g. "invalid interception_id: not a UUID".
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { isUuid } from "@weir/proto";
import { InvalidArgumentError } from "../errors.js";


/** `value` must be a canonical UUID. */
export function requireUuid(field: string, value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError(field, "not a UUID");
  return value;
}

/** An optional UUID field: undefined or "" means unset. */
export function optionalUuid(field: string, value: string | undefined): string | null {
  return value === undefined || value === "" ? null : requireUuid(field, value);
}

export function requireNonEmpty(field: string, value: string): string {
  if (value === "") throw new InvalidArgumentError(field, "required");
  return value;
}

/** The timestamp must be present and representable as a Date. */
export function requireTimestamp(field: string, value: Timestamp | undefined): Date {
  if (value === undefined) throw new InvalidArgumentError(field, "required");
  const date = timestampDate(value);
  if (!Number.isFinite(date.getTime())) throw new InvalidArgumentError(field, "out of range");
  return date;
}

/** A token count: int64, never negative. Returned as a decimal string for pg's int8. */
export function requireCount(field: string, value: bigint): string {
  if (value < 0n) throw new InvalidArgumentError(field, "negative");
  return value.toString();
}
