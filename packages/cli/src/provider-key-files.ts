// Central provider keys: inline (--openai-api-key, comma-separated) or in a file
// (--openai-api-key-file, one per line). The files are read at start-up and again on SIGHUP, so
// that a provider key is rotated without a restart: write the new file (both keys during the
// changeover, if the provider allows it), send SIGHUP, then revoke the old key.
import type { ProviderName } from "@weir/gateway";
import { CliError } from "./cli-error.js";
import { readSecret } from "./secrets.js";

export interface ProviderKeyFlags {
  openaiApiKey?: string;
  openaiApiKeyFile?: string;
  anthropicApiKey?: string;
  anthropicApiKeyFile?: string;
}

/** A provider whose keys come from a file. */
export interface ProviderKeyFile {
  readonly provider: ProviderName;
  /** What the messages call its keys: "the OpenAI key". */
  readonly what: string;
  readonly file: string;
}

const PROVIDER_FLAGS = [
  { provider: "openai", what: "the OpenAI key", flag: "--openai-api-key", inline: "openaiApiKey", file: "openaiApiKeyFile" },
  { provider: "anthropic", what: "the Anthropic key", flag: "--anthropic-api-key", inline: "anthropicApiKey", file: "anthropicApiKeyFile" },
] as const;

/**
 * One key, or several (one per line of the file, or separated by commas) that the gateway fails
 * over between when the provider refuses one (401, 403, 429).
 */
function splitKeys(source: string, secret: string | undefined): string[] {
  if (secret === undefined) return [];
  const keys = secret.split(/[\r\n,]+/).map((k) => k.trim()).filter((k) => k !== "");
  // Only separators: no key at all, which is not what an operator giving one meant.
  if (keys.length === 0) throw new CliError(`${source}: holds no key`);
  if (new Set(keys).size !== keys.length) throw new CliError(`${source}: a key is given twice`);
  return keys;
}

/** Each provider's central keys at start-up (none: BYOK only, or no central key). */
export function providerKeysFromFlags(flags: ProviderKeyFlags): Record<ProviderName, string[]> {
  const keys = {} as Record<ProviderName, string[]>;
  for (const p of PROVIDER_FLAGS) {
    const file = flags[p.file];
    keys[p.provider] = splitKeys(file ? `${p.flag}-file ${file}` : p.flag, readSecret(p.what, flags[p.inline], file));
  }
  return keys;
}

/** The providers whose keys come from a file: what SIGHUP reads again. */
export function providerKeyFiles(flags: ProviderKeyFlags): ProviderKeyFile[] {
  return PROVIDER_FLAGS.flatMap((p) => {
    const file = flags[p.file];
    return file ? [{ provider: p.provider, what: p.what, file }] : [];
  });
}

/** Every file read again, all before any key changes: one that cannot be used throws a CliError naming it. */
export function readProviderKeyFiles(files: readonly ProviderKeyFile[]): Partial<Record<ProviderName, string[]>> {
  const keys: Partial<Record<ProviderName, string[]>> = {};
  for (const f of files) {
    const flag = PROVIDER_FLAGS.find((p) => p.provider === f.provider)!.flag;
    keys[f.provider] = splitKeys(`${flag}-file ${f.file}`, readSecret(f.what, undefined, f.file));
  }
  return keys;
}
