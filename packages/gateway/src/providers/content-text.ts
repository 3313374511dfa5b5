// Extracting prompt text from the message content shapes of the three APIs.

import { asArray, asObject, asString } from "../json.js";

/**
 * The text of a message's content: a string as is, or the text parts of a content array
 * (parts whose `type` is in `textTypes`) joined with "\n". Undefined when there is no text.
 */
export function contentText(content: unknown, textTypes: ReadonlySet<string>): string | undefined {
  const direct = asString(content);
  if (direct !== undefined) return direct === "" ? undefined : direct;
  const parts = asArray(content);
  if (parts === undefined) return undefined;
  const texts: string[] = [];
  for (const part of parts) {
    const obj = asObject(part);
    const type = asString(obj?.type);
    const text = asString(obj?.text);
    if (type !== undefined && textTypes.has(type) && text !== undefined && text !== "") texts.push(text);
  }
  return texts.length === 0 ? undefined : texts.join("\n");
}

/** The last element of an array, if any. */
export function lastOf(values: readonly unknown[] | undefined): unknown {
  return values === undefined || values.length === 0 ? undefined : values[values.length - 1];
}
