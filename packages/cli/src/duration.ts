// Parses lifetimes such as "3600", "90s", "15m", "12h", "30d" into whole seconds.
import { CliError } from "./cli-error.js";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Like parseDurationSeconds, and "0" (or "0s", "0d", ...) is 0: a setting that 0 turns off. */
export function parseDurationSecondsOrZero(input: string): number {
  return /^0+[smhd]?$/.test(input.trim()) ? 0 : parseDurationSeconds(input);
}

export function parseDurationSeconds(input: string): number {
  const m = /^([1-9][0-9]*)([smhd]?)$/.exec(input.trim());
  if (!m) throw new CliError(`invalid duration ${JSON.stringify(input)}: use e.g. 3600, 90s, 15m, 12h or 30d`);
  return Number(m[1]) * (UNITS[m[2] || "s"] ?? 1);
}
