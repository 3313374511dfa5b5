import { DEFAULT_EVENTS, MAX_EVENTS } from './controls.js';

/** The full default answer (with the default 3 events: "Hello", " from", " the emulator"). */
export const DEFAULT_TEXT = 'Hello from the emulator';

const WORDS = ['Hello', ' from', ' the', ' emulator'] as const;

/** Arguments of every emulated tool call (OpenAI `arguments` string / Anthropic `input` JSON). */
export const TOOL_CALL_ARGUMENTS = '{"location":"Paris"}';
export const TOOL_CALL_INPUT: Readonly<{ location: string }> = Object.freeze({ location: 'Paris' });

/** Text of the Anthropic `thinking` block emitted when extended thinking is enabled. */
export const THINKING_TEXT = 'The user sent a message. I should reply with a short, friendly greeting.';
/** Signature attached to the emulated thinking block. */
export const THINKING_SIGNATURE = 'RW11bGF0ZWQgdGhpbmtpbmcgc2lnbmF0dXJlIGZyb20gdGhlIFdlaXIgTExNIGVtdWxhdG9y';

/** Summary text of the Responses API reasoning item emitted when `reasoning` is requested. */
export const REASONING_SUMMARY = '**Planning the reply** The user sent a message, so I will answer with a short greeting.';

const deltaCache: (readonly string[] | undefined)[] = [];

/**
 * The text deltas for `events` events. Up to 4 events the text is DEFAULT_TEXT
 * (the tail words are merged); beyond that the four words repeat, so
 * `emulatorText(8)` is "Hello from the emulator Hello from the emulator".
 */
export function textDeltas(events: number = DEFAULT_EVENTS): readonly string[] {
  const n = Math.min(Math.max(Math.trunc(events), 1), MAX_EVENTS);
  const cached = deltaCache[n];
  if (cached !== undefined) return cached;
  const deltas: string[] = [];
  if (n <= WORDS.length) {
    for (let i = 0; i < n - 1; i++) deltas.push(WORDS[i] ?? '');
    deltas.push(WORDS.slice(n - 1).join(''));
  } else {
    for (let i = 0; i < n; i++) {
      const word = WORDS[i % WORDS.length] ?? '';
      deltas.push(i > 0 && i % WORDS.length === 0 ? ` ${word}` : word);
    }
  }
  const frozen = Object.freeze(deltas);
  deltaCache[n] = frozen;
  return frozen;
}

/** The full answer text for `events` deltas (DEFAULT_TEXT for 1..4 events). */
export function emulatorText(events: number = DEFAULT_EVENTS): string {
  return textDeltas(events).join('');
}

/** Splits `text` into `parts` contiguous pieces of near-equal length (at least one character each). */
export function splitEven(text: string, parts: number): string[] {
  const n = Math.max(1, Math.min(parts, text.length));
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const end = Math.round(((i + 1) * text.length) / n);
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

// Streaming splits are fixed (and precomputed): several deltas so clients must
// concatenate, independent of x-emulator-events which only shapes the answer text.
export const TOOL_CALL_ARGUMENT_DELTAS: readonly string[] = Object.freeze(splitEven(TOOL_CALL_ARGUMENTS, 3));
export const THINKING_DELTAS: readonly string[] = Object.freeze(splitEven(THINKING_TEXT, 3));
export const REASONING_SUMMARY_DELTAS: readonly string[] = Object.freeze(splitEven(REASONING_SUMMARY, 3));
