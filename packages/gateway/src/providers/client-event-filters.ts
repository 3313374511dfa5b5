// The filters a ParsedRequest's `clientEvent` can be, by name: a function cannot cross to or from
// the parse thread, so the thread sends the name and the event loop takes the function back here.

import type { SseEvent } from "../sse-parser.js";
import { hideForcedUsage } from "./forced-stream-usage.js";

export const CLIENT_EVENT_FILTERS = Object.freeze({ hideForcedUsage });

export type ClientEventFilterName = keyof typeof CLIENT_EVENT_FILTERS;

/** The name of a filter parseRequest returned; a filter missing from CLIENT_EVENT_FILTERS is a bug. */
export function clientEventFilterName(filter: (event: SseEvent) => string): ClientEventFilterName {
  for (const [name, known] of Object.entries(CLIENT_EVENT_FILTERS)) {
    if (known === filter) return name as ClientEventFilterName;
  }
  throw new Error(`clientEvent filter ${filter.name || "(anonymous)"} is not in CLIENT_EVENT_FILTERS`);
}
