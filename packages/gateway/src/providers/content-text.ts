// Extracting prompt text from the message content shapes of the three APIs.

import { asArray, asObject, asString } from "../json.js";

/**
 * Which text parts of a content array make the prompt. Chat Completions and Messages take the
 * last one, as the reference does: clients put context ahead of what the user typed (Claude
 * Code sends its `<system-reminder>` and CLAUDE.md as earlier text blocks of the same message),
 * and that context is neither the prompt nor something to copy into every audit row. Responses
 * joins them, as the reference does.
 */
export type TextPick = "last" | "joined";

/**
 * The text of a message's content: a string as is, or the text parts of a content array
 * (parts whose `type` is in `textTypes`), picked by `pick`. Undefined when there is no text.
 */
export function contentText(content: unknown, textTypes: ReadonlySet<string>, pick: TextPick): string | undefined {
  const direct = asString(content);
  if (direct !== undefined) return direct === "" ? undefined : direct;
  const parts = asArray(content);
  if (parts === undefined) return undefined;
  const texts: string[] = [];
  for (let i = parts.length - 1; i >= 0; i--) {
    const obj = asObject(parts[i]);
    const type = asString(obj?.type);
    const text = asString(obj?.text);
    if (type === undefined || !textTypes.has(type) || text === undefined || text === "") continue;
    if (pick === "last") return text;
    texts.push(text);
  }
  return texts.length === 0 ? undefined : texts.reverse().join("\n");
}

/** The last element of an array, if any. */
export function lastOf(values: readonly unknown[] | undefined): unknown {
  return values === undefined || values.length === 0 ? undefined : values[values.length - 1];
}
