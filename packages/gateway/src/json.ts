// Narrowing helpers for JSON of unknown shape (request bodies, upstream responses).

export type JsonObject = { [key: string]: unknown };

export function asObject(value: unknown): JsonObject | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

export function asArray(value: unknown): readonly unknown[] | undefined {
  return Array.isArray(value) ? value : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** A finite number, or undefined. */
export function asNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** JSON.parse that returns undefined instead of throwing. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isJsonSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Whether the JSON `text` has `key` as an object key (at any depth) with a value other than
 * null — without parsing it. Exact for valid JSON whose key is written without escapes: inside
 * a string value every quote is escaped, so `"key"` followed by `:` can only be a key. Lets a
 * stream observer skip parsing events that cannot hold what it records.
 */
export function hasNonNullKey(text: string, key: string): boolean {
  const quoted = `"${key}"`;
  for (let i = text.indexOf(quoted); i >= 0; i = text.indexOf(quoted, i + quoted.length)) {
    let j = i + quoted.length;
    while (j < text.length && isJsonSpace(text.charCodeAt(j))) j++;
    if (text.charCodeAt(j) !== 0x3a) continue; // ":" — otherwise a string value, not a key
    j++;
    while (j < text.length && isJsonSpace(text.charCodeAt(j))) j++;
    if (!text.startsWith("null", j)) return true;
  }
  return false;
}
