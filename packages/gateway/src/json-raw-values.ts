// Values as the provider wrote them, read from a JSON text that JSON.parse already accepted. A
// record of a tool call's input must keep the model's exact value: parsed and re-serialised, an
// integer beyond 2^53 is rounded, `1.0` becomes `1`, and integer-like keys move to the front.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Just past the string whose opening quote is at `start` (text.length if it never closes). */
function stringEnd(text: string, start: number): number {
  for (let from = start + 1; ; ) {
    const end = text.indexOf('"', from);
    if (end < 0) return text.length;
    // The closing quote is the first one not escaped by an odd run of backslashes.
    let slashes = 0;
    while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return end + 1;
    from = end + 1;
  }
}

/** A scanner over valid JSON: every method starts and ends at a token, spaces skipped. */
class Scanner {
  i = 0;
  constructor(readonly text: string) {}

  private space(): void {
    while (isSpace(this.text.charCodeAt(this.i))) this.i++;
  }

  peek(): number {
    this.space();
    return this.text.charCodeAt(this.i);
  }

  /** Consumes `c` if it is next. */
  take(c: number): boolean {
    if (this.peek() !== c) return false;
    this.i++;
    return true;
  }

  private skipString(): void {
    this.i = stringEnd(this.text, this.i);
  }

  /** A string token's value (keys are usually written without escapes). */
  string(): string {
    const start = this.i;
    this.skipString();
    const raw = this.text.slice(start + 1, this.i - 1);
    return raw.includes("\\") ? (JSON.parse(this.text.slice(start, this.i)) as string) : raw;
  }

  /** Skips one value; returns where it started. */
  value(): number {
    const c = this.peek();
    const start = this.i;
    if (c === QUOTE) {
      this.skipString();
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      let depth = 0;
      do {
        const d = this.text.charCodeAt(this.i);
        if (d === QUOTE) {
          this.skipString();
          continue;
        }
        if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
        else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) depth--;
        this.i++;
      } while (depth > 0 && this.i < this.text.length);
    } else {
      // A number, true, false or null: up to the next delimiter.
      while (this.i < this.text.length) {
        const d = this.text.charCodeAt(this.i);
        if (d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY || isSpace(d)) break;
        this.i++;
      }
    }
    return start;
  }

  /** Calls `member` with each key of the object that is next, the scanner at its value, which `member` must consume. */
  members(member: (key: string) => void): void {
    this.take(OPEN_OBJECT);
    if (this.take(CLOSE_OBJECT)) return;
    do {
      if (this.peek() !== QUOTE) return; // not valid JSON
      const key = this.string();
      this.take(COLON);
      member(key);
    } while (this.take(COMMA));
    this.take(CLOSE_OBJECT);
  }

  /** Calls `element` with each index of the array that is next, the scanner at its value, which `element` must consume. */
  elements(element: (index: number) => void): void {
    this.take(OPEN_ARRAY);
    if (this.take(CLOSE_ARRAY)) return;
    let index = 0;
    do element(index++);
    while (this.take(COMMA));
    this.take(CLOSE_ARRAY);
  }
}

/** `text[start, end)` without the spaces outside its strings. */
function compact(text: string, start: number, end: number): string {
  let out = "";
  let runStart = start;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i) - 1; // its spaces are content
    } else if (isSpace(c)) {
      out += text.slice(runStart, i);
      runStart = i + 1;
    }
  }
  return out + text.slice(runStart, end);
}

/**
 * A JSON text without the spaces outside its strings, values untouched: a streamed tool input
 * stored as its blocking twin is. (On text that is not JSON, a string left open keeps the rest.)
 */
export function compactJson(text: string): string {
  return compact(text, 0, text.length);
}

/**
 * For a JSON text that is an object holding the array `arrayKey` (as `{"content": [...]}`), the
 * raw text, spaces outside strings removed, of member `memberKey` of each of the array's elements
 * (undefined where an element is not an object or lacks it). Where a key is repeated, the last
 * one counts, as in JSON.parse. `text` must be valid JSON (already parsed); otherwise, or when the
 * text is not such an object, the answer is undefined.
 */
export function rawMembersOfElements(text: string, arrayKey: string, memberKey: string): (string | undefined)[] | undefined {
  const scanner = new Scanner(text);
  if (scanner.peek() !== OPEN_OBJECT) return undefined;
  let found: (string | undefined)[] | undefined;
  scanner.members((key) => {
    if (key !== arrayKey || scanner.peek() !== OPEN_ARRAY) {
      scanner.value();
      return;
    }
    const values: (string | undefined)[] = [];
    scanner.elements((index) => {
      values[index] = undefined;
      if (scanner.peek() !== OPEN_OBJECT) {
        scanner.value();
        return;
      }
      scanner.members((name) => {
        const start = scanner.value();
        if (name === memberKey) values[index] = compact(text, start, scanner.i);
      });
    });
    found = values;
  });
  return found;
}

/**
 * The JSON object text with the value of its top-level member `key` replaced by `replacement`
 * (every occurrence of a repeated key, so that any parser reads the same), the rest byte for byte;
 * undefined when the text is not an object holding `key`. `text` must be valid JSON.
 */
export function withMemberReplaced(text: string, key: string, replacement: string): string | undefined {
  const scanner = new Scanner(text);
  if (scanner.peek() !== OPEN_OBJECT) return undefined;
  const spans: [number, number][] = [];
  scanner.members((name) => {
    const start = scanner.value();
    if (name === key) spans.push([start, scanner.i]);
  });
  if (spans.length === 0) return undefined;
  let out = "";
  let from = 0;
  for (const [start, end] of spans) {
    out += text.slice(from, start) + replacement;
    from = end;
  }
  return out + text.slice(from);
}

/**
 * The raw text, spaces outside strings removed, of the value at `path` (object keys and array
 * indexes) in a JSON text, as `{"item": {"action": …}}` at ["item", "action"]; undefined when
 * there is none. Where a key is repeated, the last one counts, as in JSON.parse. `text` must be
 * valid JSON (already parsed).
 */
export function rawValueAt(text: string, path: readonly (string | number)[]): string | undefined {
  const scanner = new Scanner(text);
  let found: string | undefined;
  const visit = (depth: number): void => {
    if (depth === path.length) {
      const start = scanner.value();
      found = compact(text, start, scanner.i);
      return;
    }
    const step = path[depth];
    const next = scanner.peek();
    if (typeof step === "string" && next === OPEN_OBJECT) {
      scanner.members((key) => {
        if (key !== step) {
          scanner.value();
          return;
        }
        found = undefined; // a later twin of the key replaces what an earlier one held
        visit(depth + 1);
      });
    } else if (typeof step === "number" && next === OPEN_ARRAY) {
      scanner.elements((index) => (index === step ? visit(depth + 1) : void scanner.value()));
    } else {
      scanner.value();
    }
  };
  visit(0);
  return found;
}
