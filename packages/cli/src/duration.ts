// Parses lifetimes such as "3600", "90s", "15m", "12h", "30d" into whole seconds. Errors name the
// flag: a daemon reads up to seven, and "invalid duration" alone did not say which was wrong.
import { CliError } from "./cli-error.js";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
const EXAMPLES = "(e.g. 3600, 90s, 15m, 12h or 30d)";

/** Like parseDurationSeconds, and "0" (or "0s", "0d", ...) is 0: a setting that 0 turns off. */
export function parseDurationSecondsOrZero(flag: string, input: string): number {
  // "0ms" too: 0 is 0 in any unit, and turns the setting off.
  if (/^0+(ms|[smhd])?$/.test(input.trim())) return 0;
  const seconds = durationSeconds(input);
  if (seconds === undefined) {
    refuseMilliseconds(flag, input);
    throw new CliError(`${flag} must be 0 or a duration ${EXAMPLES}, got ${JSON.stringify(input)}`);
  }
  return seconds;
}

export function parseDurationSeconds(flag: string, input: string): number {
  const seconds = durationSeconds(input);
  if (seconds === undefined) {
    refuseMilliseconds(flag, input);
    throw new CliError(`${flag} must be a duration above 0 ${EXAMPLES}, got ${JSON.stringify(input)}`);
  }
  return seconds;
}

/** "500ms" to a setting in seconds: say so, rather than that it is no duration above 0. */
function refuseMilliseconds(flag: string, input: string): void {
  if (/^[0-9]+ms$/.test(input.trim())) throw new CliError(`${flag} is counted in whole seconds: give it in s, m, h or d ${EXAMPLES}, not ms; got ${JSON.stringify(input)}`);
}

/**
 * The longest wait a timer can take: Node's timers hold at most 2^31 - 1 ms (24.8 days) and fire
 * a longer one after 1 ms, so `--upstream-timeout 30d` timed every request out at once.
 */
export const MAX_TIMER_SECONDS = 24 * 86_400;

/** Like parseDurationSeconds, for a setting a timer waits out: at most 24 days. */
export function parseTimerSeconds(flag: string, input: string): number {
  const seconds = parseDurationSeconds(flag, input);
  if (seconds > MAX_TIMER_SECONDS) throw new CliError(`${flag} must be at most 24d, got ${JSON.stringify(input)}`);
  return seconds;
}

function durationSeconds(input: string): number | undefined {
  const m = /^([1-9][0-9]*)([smhd]?)$/.exec(input.trim());
  return m ? Number(m[1]) * (UNITS[m[2] || "s"] ?? 1) : undefined;
}

// Settings measured in milliseconds (a per-turn budget, a cache's lifetimes) take "ms" too. A
// bare number is seconds here as well, so "30" means the same to every duration flag.
const MS_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MS_EXAMPLES = "(e.g. 4ms, 500ms, 5s or 1m)";

/** Like parseDurationMs, and "0" (or "0ms", "0s", ...) is 0: a setting that 0 turns off. */
export function parseDurationMsOrZero(flag: string, input: string): number {
  if (/^0+(ms|[smhd])?$/.test(input.trim())) return 0;
  const ms = durationMs(input);
  if (ms === undefined) throw new CliError(`${flag} must be 0 or a duration ${MS_EXAMPLES}, got ${JSON.stringify(input)}`);
  return ms;
}

/** A duration above 0 in whole milliseconds: "250ms", "5s", "1m"; "30" is 30 s. */
export function parseDurationMs(flag: string, input: string): number {
  const ms = durationMs(input);
  if (ms === undefined) throw new CliError(`${flag} must be a duration above 0 ${MS_EXAMPLES}, got ${JSON.stringify(input)}`);
  return ms;
}

/** Milliseconds as the flags take them: whole seconds as "60s", anything else as "4ms". */
export function formatDurationMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function durationMs(input: string): number | undefined {
  const m = /^([1-9][0-9]*)(ms|[smhd])?$/.exec(input.trim());
  return m ? Number(m[1]) * (MS_UNITS[m[2] ?? "s"] ?? 1000) : undefined;
}
