// Shape checks of JSON request bodies. Problems are collected per field and thrown together as
// one 400 "Validation failed" (or a caller-chosen message) with `validations: [{field, detail}]`.
import { InvalidRequestError, type FieldValidation } from "./errors.js";
import { checkRfc3339, RFC3339_DETAIL } from "./rfc3339.js";

export const VALIDATION_FAILED = "Validation failed";

/**
 * The detail of a string holding U+0000, which Postgres text cannot store: refused here as
 * invalid (400) rather than by the database (a 500).
 */
export const NUL_DETAIL = "Must not contain the NUL character (U+0000).";

/** Whether `value` holds U+0000. */
export const hasNul = (value: string): boolean => value.indexOf("\u0000") !== -1;

/** The detail of a missing or empty required field, worded as the reference's validator does. */
export function requiredDetail(value: unknown): string {
  return `Validation failed for tag "required" with value: ${JSON.stringify(typeof value === "string" ? value : "")}`;
}

export type JsonObject = Readonly<Record<string, unknown>>;

/** The body as an object; 400 when it is an array, null or a scalar. */
export function requireJsonObject(body: unknown): JsonObject {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new InvalidRequestError("Request body must be a JSON object.");
  }
  return body as JsonObject;
}

/** Collects field problems of one object; `check()` throws them all at once. */
/**
 * Checks a JSON body field by field and collects every problem. A field no check asked for is a
 * problem too ("Unknown field."): a typo such as `{"stauts": "suspended"}` must not answer 200
 * while changing nothing.
 */
export class FieldChecks {
  private readonly problems: FieldValidation[] = [];
  private readonly known = new Set<string>();

  constructor(private readonly body: JsonObject) {}

  /** The value of `field`, which is then a field this body may have. */
  private read(field: string): unknown {
    this.known.add(field);
    return this.body[field];
  }

  add(field: string, detail: string): void {
    this.problems.push({ field, detail });
  }

  /** A present, non-empty string. */
  requiredString(field: string): string {
    const value = this.read(field);
    if (value === undefined || value === null || value === "") {
      this.add(field, requiredDetail(value));
      return "";
    }
    if (typeof value !== "string") {
      this.add(field, "Must be a string.");
      return "";
    }
    if (hasNul(value)) {
      this.add(field, NUL_DETAIL);
      return "";
    }
    return value;
  }

  optionalString(field: string, options: { readonly maxLength?: number } = {}): string | undefined {
    const value = this.read(field);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string") {
      this.add(field, "Must be a string.");
      return undefined;
    }
    if (hasNul(value)) {
      this.add(field, NUL_DETAIL);
      return undefined;
    }
    if (options.maxLength !== undefined && value.length > options.maxLength) {
      this.add(field, `Must be ${options.maxLength} characters or fewer.`);
      return undefined;
    }
    return value;
  }

  optionalBoolean(field: string): boolean | undefined {
    const value = this.read(field);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "boolean") {
      this.add(field, "Must be a boolean.");
      return undefined;
    }
    return value;
  }

  optionalEnum<T extends string>(field: string, allowed: readonly T[]): T | undefined {
    const value = this.read(field);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
      this.add(field, `Must be one of: ${allowed.map((a) => JSON.stringify(a)).join(", ")}.`);
      return undefined;
    }
    return value as T;
  }

  optionalPositiveInteger(field: string, max: number): number | undefined {
    const value = this.read(field);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
      this.add(field, `Must be a positive integer no greater than ${max}.`);
      return undefined;
    }
    return value;
  }

  /** An RFC 3339 timestamp or null. */
  optionalTimestamp(field: string): Date | null | undefined {
    const value = this.read(field);
    if (value === undefined) return undefined;
    if (value === null) return null;
    const checked = typeof value === "string" ? checkRfc3339(value) : undefined;
    if (checked === undefined || !checked.ok) {
      this.add(field, checked?.detail ?? RFC3339_DETAIL);
      return undefined;
    }
    return checked.value.date;
  }

  /** Throws the collected problems, unknown fields included, if any, under `message`. */
  check(message: string = VALIDATION_FAILED): void {
    for (const field of Object.keys(this.body)) if (!this.known.has(field)) this.add(field, "Unknown field.");
    if (this.problems.length > 0) throw new InvalidRequestError(message, { validations: [...this.problems] });
  }
}
