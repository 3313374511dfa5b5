// The authorization cache's flags, `weir gateway`'s alone: an embedded gateway asks its control
// plane in memory and caches nothing, so `weir control-plane --embedded-gateway` would ignore them
// (and commander refuses an option a command does not define, rather than letting it be).
import { Option, type Command } from "commander";
import { DEFAULT_GATEWAY_OPTIONS, MAX_AUTH_CACHE_NEGATIVE_TTL_MS, MAX_AUTH_CACHE_TTL_MS, type GatewayOptionsInput } from "@weir/gateway";
import { CliError } from "./cli-error.js";
import { formatDurationMs, parseDurationMs, parseDurationMsOrZero } from "./duration.js";
import { positiveInteger } from "./gateway-options.js";

export interface AuthCacheFlags {
  /** false with --no-auth-cache or WEIR_AUTH_CACHE=false. */
  authCache: boolean;
  authCacheSize: string;
  authCacheTtl: string;
  authCacheFailureTtl: string;
}

const DEFAULTS = DEFAULT_GATEWAY_OPTIONS.authCache;

export function addAuthCacheOptions(command: Command): Command {
  return command
    .addOption(
      new Option("--no-auth-cache", "ask the control plane on every request instead of caching its authorization answers (a cached answer is dropped as soon as its key or user changes)").env(
        "WEIR_AUTH_CACHE",
      ),
    )
    .addOption(
      new Option("--auth-cache-size <entries>", "authorization answers cached, allowed and refused together; the least recently used are dropped beyond")
        .env("WEIR_AUTH_CACHE_SIZE")
        .default(String(DEFAULTS.maxEntries)),
    )
    .addOption(
      new Option("--auth-cache-ttl <duration>", `how long an allowed authorization answer is cached; at most ${formatDurationMs(MAX_AUTH_CACHE_TTL_MS)}`)
        .env("WEIR_AUTH_CACHE_TTL")
        .default(formatDurationMs(DEFAULTS.ttlMs)),
    )
    .addOption(
      new Option("--auth-cache-failure-ttl <duration>", `how long a refusal (403) is cached, against a client retrying a bad key; at most ${formatDurationMs(MAX_AUTH_CACHE_NEGATIVE_TTL_MS)} (0: not cached)`)
        .env("WEIR_AUTH_CACHE_FAILURE_TTL")
        .default(formatDurationMs(DEFAULTS.negativeTtlMs)),
    );
}

function atMost(flag: string, ms: number, max: number, value: string): number {
  if (ms > max) throw new CliError(`${flag} must be at most ${formatDurationMs(max)}, got ${JSON.stringify(value)}`);
  return ms;
}

export function authCacheSettings(flags: AuthCacheFlags): Required<Pick<GatewayOptionsInput, "authCache">> {
  return {
    authCache: {
      enabled: flags.authCache,
      maxEntries: positiveInteger("--auth-cache-size", flags.authCacheSize),
      ttlMs: atMost("--auth-cache-ttl", parseDurationMs("--auth-cache-ttl", flags.authCacheTtl), MAX_AUTH_CACHE_TTL_MS, flags.authCacheTtl),
      // 0 is the library's too: refusals are then never stored (auth-cache.ts).
      negativeTtlMs: atMost("--auth-cache-failure-ttl", parseDurationMsOrZero("--auth-cache-failure-ttl", flags.authCacheFailureTtl), MAX_AUTH_CACHE_NEGATIVE_TTL_MS, flags.authCacheFailureTtl),
    },
  };
}
