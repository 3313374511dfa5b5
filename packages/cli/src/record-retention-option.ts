// --record-retention, shared by `weir control-plane` and `weir start`: how long recorded traffic
// is kept (the reference's --aibridge-retention, default 60 days).
import { Option } from "commander";
import { CliError } from "./cli-error.js";
import { parseDurationSecondsOrZero } from "./duration.js";

/** Shortest retention accepted: anything shorter could delete interceptions still being recorded. */
const MIN_RETENTION_SECONDS = 3600;
/** Longest: 100 years (beyond it the cut-off is not a date PostgreSQL takes; 0 means forever). */
const MAX_RETENTION_SECONDS = 36_500 * 86_400;

export function recordRetentionOption(): Option {
  return new Option(
    "--record-retention <duration>",
    "how long recorded interceptions (with their prompts, token and tool usages, thoughts) are kept: 1h to 36500d, or 0 to keep them forever",
  )
    .env("WEIR_RECORD_RETENTION")
    .default("60d");
}

/** The retention period in ms: "0" keeps records forever (0), otherwise at least an hour. */
export function recordRetentionMs(input: string): number {
  const seconds = parseDurationSecondsOrZero("--record-retention", input);
  if (seconds === 0) return 0;
  if (seconds < MIN_RETENTION_SECONDS || seconds > MAX_RETENTION_SECONDS) {
    throw new CliError(`--record-retention must be 0 (keep forever) or from 1h to 36500d, got ${JSON.stringify(input)}`);
  }
  return seconds * 1000;
}
