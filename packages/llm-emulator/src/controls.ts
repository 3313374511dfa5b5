import type { IncomingHttpHeaders } from 'node:http';
import { DEFAULT_USAGE, applyUsagePair, parseUsage } from './usage.js';
import type { MutableUsage, Usage } from './usage.js';

/** Per-request behaviour knobs, from `x-emulator-*` headers or a `model@k=v,...` suffix. */
export interface Controls {
  /** Delay before the response headers are sent. */
  readonly ttfbMs: number;
  /** Delay between SSE events; 0 writes them back to back. */
  readonly eventDelayMs: number;
  /** Number of text deltas. */
  readonly events: number;
  /** Respond with this HTTP error status and a provider-shaped body. */
  readonly status: number | undefined;
  /** Streaming: destroy the socket after this many SSE events; blocking: destroy without responding. */
  readonly disconnectAfter: number | undefined;
  readonly usage: Usage;
}

export const DEFAULT_EVENTS = 3;
/** Upper bound on text deltas so a typo cannot make the emulator build a huge stream. */
export const MAX_EVENTS = 10_000;
const MAX_DELAY_MS = 600_000;

export const CONTROL_HEADERS = Object.freeze({
  ttfbMs: 'x-emulator-ttfb-ms',
  eventDelayMs: 'x-emulator-event-delay-ms',
  events: 'x-emulator-events',
  status: 'x-emulator-status',
  disconnectAfter: 'x-emulator-disconnect-after',
  usage: 'x-emulator-usage',
});

export const DEFAULT_CONTROLS: Controls = Object.freeze({
  ttfbMs: 0,
  eventDelayMs: 0,
  events: DEFAULT_EVENTS,
  status: undefined,
  disconnectAfter: undefined,
  usage: DEFAULT_USAGE,
});

type MutableControls = { -readonly [K in keyof Controls]: Controls[K] };
type NumericControl = 'ttfbMs' | 'eventDelayMs' | 'events' | 'status' | 'disconnectAfter';

// Short aliases accepted in a model-name suffix, e.g. `claude@delay=100,events=5`.
const SUFFIX_KEYS: Readonly<Record<string, NumericControl>> = {
  ttfb: 'ttfbMs',
  'ttfb-ms': 'ttfbMs',
  delay: 'eventDelayMs',
  'event-delay-ms': 'eventDelayMs',
  events: 'events',
  status: 'status',
  disconnect: 'disconnectAfter',
  'disconnect-after': 'disconnectAfter',
};

/**
 * Reads the controls of one request. Header values win over a model suffix.
 * Returns the shared DEFAULT_CONTROLS object on the hot path (no controls given).
 */
export function parseControls(headers: IncomingHttpHeaders, model: string | undefined): Controls {
  const h = CONTROL_HEADERS;
  const ttfb = headers[h.ttfbMs];
  const delay = headers[h.eventDelayMs];
  const events = headers[h.events];
  const status = headers[h.status];
  const disconnect = headers[h.disconnectAfter];
  const usage = headers[h.usage];
  const suffix = model === undefined ? undefined : modelControlSuffix(model);
  if (
    ttfb === undefined &&
    delay === undefined &&
    events === undefined &&
    status === undefined &&
    disconnect === undefined &&
    usage === undefined &&
    suffix === undefined
  ) {
    return DEFAULT_CONTROLS;
  }

  const c: MutableControls = { ...DEFAULT_CONTROLS };
  if (suffix !== undefined) applySuffix(c, suffix);
  if (typeof ttfb === 'string') setNumeric(c, 'ttfbMs', ttfb);
  if (typeof delay === 'string') setNumeric(c, 'eventDelayMs', delay);
  if (typeof events === 'string') setNumeric(c, 'events', events);
  if (typeof status === 'string') setNumeric(c, 'status', status);
  if (typeof disconnect === 'string') setNumeric(c, 'disconnectAfter', disconnect);
  if (typeof usage === 'string') c.usage = parseUsage(usage, c.usage);
  return c;
}

/**
 * Returns the `k=v,...` part after the last `@` when every pair in it is a known
 * control. Real model names may contain `@` (e.g. Vertex `claude-x@20240620`), so
 * anything else is left alone.
 */
export function modelControlSuffix(model: string): string | undefined {
  const at = model.lastIndexOf('@');
  if (at < 0) return undefined;
  const suffix = model.slice(at + 1);
  if (suffix === '') return undefined;
  for (const pair of suffix.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return undefined;
    const key = pair.slice(0, eq);
    if (!(key in SUFFIX_KEYS) && !applyUsagePair({ ...DEFAULT_USAGE }, pair)) return undefined;
  }
  return suffix;
}

function applySuffix(c: MutableControls, suffix: string): void {
  let usage: MutableUsage | undefined;
  for (const pair of suffix.split(',')) {
    const eq = pair.indexOf('=');
    const key = SUFFIX_KEYS[pair.slice(0, eq)];
    if (key !== undefined) {
      setNumeric(c, key, pair.slice(eq + 1));
      continue;
    }
    usage ??= { ...c.usage };
    applyUsagePair(usage, pair);
  }
  if (usage !== undefined) c.usage = usage;
}

// Invalid values are ignored rather than rejected: the emulator should never
// fail a test because of a malformed knob.
function setNumeric(c: MutableControls, key: NumericControl, raw: string): void {
  const n = Number(raw.trim());
  if (raw.trim() === '' || !Number.isSafeInteger(n) || n < 0) return;
  switch (key) {
    case 'ttfbMs':
    case 'eventDelayMs':
      c[key] = Math.min(n, MAX_DELAY_MS);
      return;
    case 'events':
      c.events = Math.min(Math.max(n, 1), MAX_EVENTS);
      return;
    case 'status':
      if (n >= 400 && n <= 599) c.status = n;
      return;
    case 'disconnectAfter':
      c.disconnectAfter = n;
      return;
  }
}
