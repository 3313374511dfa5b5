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

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Bounds on the shape of a JSON body, checked before it is parsed (jsonShapeProblem). */
export interface JsonShapeLimits {
  /** Arrays and objects inside one another. */
  readonly maxDepth: number;
  /** Arrays and objects in all. */
  readonly maxContainers: number;
  /** Values in arrays and members of objects in all (about the commas, plus one). */
  readonly maxValues: number;
  /** Members of objects in all (the colons): each new key name costs JSON.parse a property. */
  readonly maxMembers: number;
}

/**
 * What makes the JSON bytes too costly to parse, or undefined. JSON.parse runs on the event loop:
 * about a microsecond per nesting level, per object and per member with a new key name, a tenth
 * of that per other value, so a
 * 32 MiB body of millions of tiny objects or levels stalls every stream of a replica for seconds
 * (and a few of them at once exhaust its memory). This scan stops at the first bound exceeded.
 * Strings are skipped with native searches for the closing quote: in an LLM request most bytes
 * are inside strings, so only the structure is looked at byte by byte. Meant for well-formed
 * input; on malformed input its answer does not matter (JSON.parse refuses it).
 */
export function jsonShapeProblem(bytes: Uint8Array & { indexOf(value: number, byteOffset?: number): number }, limits: JsonShapeLimits): string | undefined {
  // Every level, container or value takes at least one byte: a shorter body is within bounds.
  if (bytes.length <= Math.min(limits.maxDepth, limits.maxContainers, limits.maxValues, limits.maxMembers)) return undefined;
  let depth = 0;
  let containers = 0;
  let values = 0;
  let members = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      // The closing quote is the next one not escaped by an odd run of backslashes.
      for (;;) {
        const end = bytes.indexOf(QUOTE, i + 1);
        if (end < 0) return undefined;
        let slashes = 0;
        while (bytes[end - 1 - slashes] === BACKSLASH) slashes++;
        i = end;
        if (slashes % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limits.maxDepth) return `the body nests deeper than ${limits.maxDepth} levels`;
      if (++containers > limits.maxContainers) return `the body has more than ${limits.maxContainers} objects and arrays`;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x2c) {
      if (++values > limits.maxValues) return `the body has more than ${limits.maxValues} values`;
    } else if (c === 0x3a) {
      if (++members > limits.maxMembers) return `the body has more than ${limits.maxMembers} object members`;
    }
  }
  return undefined;
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
