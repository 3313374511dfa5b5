// Text Postgres can store. A text value holding U+0000 is refused (SQLSTATE 22021), and so is
// the escape \u0000 in a jsonb string (22P05); yet it is valid JSON, and providers accept it in
// prompts, so gateways record it in prompts, tool inputs, thoughts, metadata... Refusing such a
// record would drop it from the audit log (and let a user keep a prompt out of it), so the
// recorder stores U+FFFD, the replacement character, in its place. Text without NUL (nearly
// all) costs one scan and is returned as it is.

const NUL = "\u0000";
const REPLACEMENT = "\uFFFD";
/** How JSON text spells NUL (JSON.stringify always escapes it so). */
const NUL_ESCAPE = "\\u0000";
const BACKSLASH = 0x5c;

/** `text` with each U+0000 replaced by U+FFFD; `text` itself when it has none. */
export function storableText<T extends string | null>(text: T): T {
  if (text === null || text.indexOf(NUL) === -1) return text;
  return text.replaceAll(NUL, REPLACEMENT) as T;
}

/**
 * JSON text for a jsonb column: each NUL in it, whether the escape \u0000 or the raw character,
 * replaced by U+FFFD, in keys and values alike; `json` itself when it has none.
 */
export function storableJsonText(json: string): string {
  let at = json.indexOf(NUL_ESCAPE);
  if (at === -1) return storableText(json);
  let out = "";
  let from = 0;
  for (; at !== -1; at = json.indexOf(NUL_ESCAPE, at + 1)) {
    // `\\u0000` is an escaped backslash and then "u0000": an escape starts only after an even
    // number of backslashes.
    let backslashes = 0;
    while (at - backslashes > 0 && json.charCodeAt(at - backslashes - 1) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 1) continue;
    out += json.slice(from, at) + REPLACEMENT;
    from = at + NUL_ESCAPE.length;
  }
  return storableText(out + json.slice(from));
}

/** `value` as JSON text for a jsonb column (see storableJsonText). */
export function storableJson(value: unknown): string {
  return storableJsonText(JSON.stringify(value));
}
