// Extracting prompt text from the message content shapes of the three APIs.

import { asArray, asObject, asString } from "../json.js";
import type { JsonObject } from "../json.js";

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

/** Roles of instructions a client may place after the turn it sends (Claude Code appends its agent list as a "system" message). */
const INSTRUCTION_ROLES: ReadonlySet<string> = new Set(["system", "developer"]);

/**
 * The last message or input item that is not an instruction: the turn the request sends, whose
 * user text is the prompt and whose tool result threads the interception. Undefined when none.
 */
export function lastTurn(values: readonly unknown[] | undefined): JsonObject | undefined {
  if (values === undefined) return undefined;
  for (let i = values.length - 1; i >= 0; i--) {
    const item = asObject(values[i]);
    const role = asString(item?.role);
    if (role === undefined || !INSTRUCTION_ROLES.has(role)) return item;
  }
  return undefined;
}
