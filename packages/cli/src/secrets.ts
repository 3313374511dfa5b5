// Secrets can be given inline (flag or WEIR_* variable) or, better, as a file whose contents
// are trimmed — so they stay out of shell history and process listings.
import { readFileSync } from "node:fs";
import { CliError } from "./cli-error.js";

/** The secret from `value` or the file at `file`; exactly one may be set. */
export function readSecret(what: string, value: string | undefined, file: string | undefined): string | undefined {
  if (value && file) throw new CliError(`give ${what} either inline or as a file, not both`);
  if (!file) return value?.trim() || undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new CliError(`read ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const secret = text.trim();
  if (!secret) throw new CliError(`${what} file ${file} is empty`);
  return secret;
}

export function requireSecret(what: string, flag: string, value: string | undefined, file: string | undefined): string {
  const secret = readSecret(what, value, file);
  if (!secret) throw new CliError(`${what} is required: use --${flag}, --${flag}-file or the matching WEIR_* variable`);
  return secret;
}
