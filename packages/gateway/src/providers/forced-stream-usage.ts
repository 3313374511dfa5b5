// A Chat Completions stream reports its token usage only when the request asks for it
// (`stream_options.include_usage`). The gateway asks for it on every stream, so that every
// stream is accounted, and hides the difference from a client that did not: the extra last
// chunk (`choices: []` with the usage) breaks the common `chunk.choices[0].delta` loop, and
// OpenAI adds `"usage":null` to every other chunk.

import { asArray, asObject, hasNonNullKey, tryParseJson } from "../json.js";
import { withMemberReplaced } from "../json-raw-values.js";
import type { JsonObject } from "../json.js";
import type { SseEvent } from "../sse-parser.js";

const FORCED_OPTION = '"stream_options":{"include_usage":true}';
const NULL_USAGE = ',"usage":null';

/**
 * The request text with `include_usage` turned on, the rest of the client's exact text kept:
 * re-serialising would round integers beyond 2^53 (a `seed`) and rewrite numbers. Without
 * `stream_options` the option is added; with it (turned off, or with other fields) only its own
 * value is rewritten, with `include_usage` merged in.
 */
export function withForcedUsage(body: JsonObject, text: string): string {
  if (!Object.hasOwn(body, "stream_options")) {
    // The text parsed as an object with at least `stream`: its last `}` closes it, after a member.
    const end = text.lastIndexOf("}");
    if (end > 0) return `${text.slice(0, end)},${FORCED_OPTION}${text.slice(end)}`;
  }
  const merged = JSON.stringify({ ...asObject(body.stream_options), include_usage: true });
  return withMemberReplaced(text, "stream_options", merged) ?? JSON.stringify({ ...body, stream_options: JSON.parse(merged) });
}

/**
 * The event as a client that did not ask for usage would have got it: "" for the usage-only
 * chunk, and OpenAI's `"usage":null` taken out of the others. The gateway's own recording
 * still sees the original events.
 */
export function hideForcedUsage(event: SseEvent): string {
  const data = event.data;
  const raw = event.raw;
  if (data === undefined) return raw;
  if (hasNonNullKey(data, "usage")) {
    const choices = asArray(asObject(tryParseJson(data))?.choices);
    return choices !== undefined && choices.length === 0 ? "" : raw;
  }
  const at = raw.indexOf(NULL_USAGE);
  return at < 0 ? raw : raw.slice(0, at) + raw.slice(at + NULL_USAGE.length);
}
