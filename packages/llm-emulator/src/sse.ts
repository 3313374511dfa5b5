import type { Exchange } from './exchange.js';

/** `event: <type>` + `data: <json>` frame (Anthropic and OpenAI Responses). */
export function sseEvent(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Data-only frame (OpenAI Chat Completions). */
export function sseData(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';

const SSE_HEADERS = Object.freeze({
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
});

export interface SseOptions {
  readonly eventDelayMs: number;
  /** Destroy the socket once this many events have been written. */
  readonly disconnectAfter: number | undefined;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Streams pre-rendered SSE frames, one `res.write` per event. With a delay the
 * headers are flushed first and each later event waits on a timer (cleared if
 * the client goes away); without one, events are written back to back.
 */
export function writeSse(ex: Exchange, events: readonly string[], options: SseOptions): void {
  const { res } = ex;
  res.writeHead(200, options.headers ? { ...SSE_HEADERS, ...options.headers } : SSE_HEADERS);
  const limit = options.disconnectAfter;
  const delay = options.eventDelayMs;

  if (delay <= 0) {
    if (limit === undefined || limit >= events.length) {
      // Corking within one tick only merges syscalls; every event is still its own write.
      res.cork();
      for (const event of events) res.write(event);
      res.end();
      res.uncork();
      return;
    }
    res.flushHeaders();
    for (let i = 0; i < limit; i++) res.write(events[i] ?? '');
    ex.disconnect();
    return;
  }

  res.flushHeaders();
  let next = 0;
  const step = (): void => {
    if (next === limit) {
      ex.disconnect();
      return;
    }
    res.write(events[next] ?? '');
    next += 1;
    if (next >= events.length) {
      res.end();
      return;
    }
    ex.after(delay, step);
  };
  step();
}
