/**
 * Token usage the emulator reports. All numbers are deterministic so gateway
 * tests can assert exact recorded rows.
 */
export interface Usage {
  /** Uncached input tokens (Anthropic `input_tokens`). */
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
  /** Reasoning tokens; a subset of `output`, only surfaced by the Responses API. */
  readonly reasoning: number;
}

export const DEFAULT_USAGE: Usage = Object.freeze({
  input: 120,
  output: 35,
  cacheRead: 80,
  cacheWrite: 40,
  reasoning: 10,
});

export type MutableUsage = { -readonly [K in keyof Usage]: Usage[K] };

const USAGE_KEYS: ReadonlySet<string> = new Set<keyof Usage>(['input', 'output', 'cacheRead', 'cacheWrite', 'reasoning']);

function isUsageKey(key: string): key is keyof Usage {
  return USAGE_KEYS.has(key);
}

/** Applies `key=value` pairs (e.g. `input=1,output=2`, any subset) on top of `base`; invalid pairs are ignored. */
export function parseUsage(spec: string, base: Usage = DEFAULT_USAGE): Usage {
  const next: MutableUsage = { ...base };
  for (const part of spec.split(',')) applyUsagePair(next, part);
  return next;
}

/** Sets one `key=value` usage pair on `target`; returns false when it is not a valid usage pair. */
export function applyUsagePair(target: MutableUsage, pair: string): boolean {
  const eq = pair.indexOf('=');
  if (eq <= 0) return false;
  const key = pair.slice(0, eq).trim();
  if (!isUsageKey(key)) return false;
  const value = Number(pair.slice(eq + 1).trim());
  if (!Number.isSafeInteger(value) || value < 0) return false;
  target[key] = value;
  return true;
}

/** Anthropic: `input_tokens` excludes cache reads and writes. */
export function anthropicUsage(u: Usage): {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  output_tokens: number;
} {
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: u.cacheWrite,
    cache_read_input_tokens: u.cacheRead,
    output_tokens: u.output,
  };
}

/** OpenAI Chat Completions: `prompt_tokens` includes cached tokens; cache writes have no field. */
export function openaiChatUsage(u: Usage): Record<string, unknown> {
  const prompt = u.input + u.cacheRead;
  return {
    prompt_tokens: prompt,
    completion_tokens: u.output,
    total_tokens: prompt + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** OpenAI Responses: `input_tokens` includes cached tokens; reasoning only counted when requested. */
export function openaiResponsesUsage(u: Usage, reasoningRequested: boolean): Record<string, unknown> {
  const input = u.input + u.cacheRead;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.cacheRead },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: reasoningRequested ? u.reasoning : 0 },
    total_tokens: input + u.output,
  };
}

/** Total prompt size reported by Anthropic's count_tokens (cache is irrelevant there). */
export function promptTokenCount(u: Usage): number {
  return u.input + u.cacheRead + u.cacheWrite;
}
