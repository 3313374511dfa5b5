// The gateway settings both ways of running a gateway share — upstream providers, BYOK,
// timeouts — as flags with WEIR_* variables: `weir gateway` and `weir control-plane
// --embedded-gateway` define and read them here, so they cannot drift apart.
import { Option, type Command } from "commander";
import { DEFAULT_GATEWAY_OPTIONS, MAX_START_BUDGET_MS, MAX_UPSTREAM_RETRIES, proxySettingsFromEnv, UpstreamProxyError, type GatewayOptionsInput, type UpstreamProxySettings } from "@weir/gateway";
import { formatDurationMs, parseDurationMsOrZero, parseDurationSeconds, parseDurationSecondsOrZero, parseTimerSeconds } from "./duration.js";
import { CliError } from "./cli-error.js";
import { httpUrl } from "./http-url.js";
import { providerKeysFromFlags, type ProviderKeyFlags } from "./provider-key-files.js";

export function positiveInteger(flag: string, value: string): number {
  if (!/^[1-9][0-9]*$/.test(value.trim())) throw new CliError(`${flag} must be a positive whole number, got ${JSON.stringify(value)}`);
  // Past 2^53 a number is not held exactly (and 400 digits would be Infinity).
  if (!Number.isSafeInteger(Number(value))) throw new CliError(`${flag} must be at most ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** A limit: a whole number, 0 meaning none. */
function limit(flag: string, value: string): number {
  if (!/^(0|[1-9][0-9]{0,8})$/.test(value.trim())) throw new CliError(`${flag} must be a whole number (0: no limit), got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Upstream retries: 0 (none) up to the gateway's bound. */
function retries(flag: string, value: string): number {
  const n = Number(value);
  if (!/^(0|[1-9][0-9]?)$/.test(value.trim()) || n > MAX_UPSTREAM_RETRIES) {
    throw new CliError(`${flag} must be a whole number from 0 to ${MAX_UPSTREAM_RETRIES} (0: no retries), got ${JSON.stringify(value)}`);
  }
  return n;
}

export interface GatewaySettingsFlags extends ProviderKeyFlags {
  openaiBaseUrl: string;
  anthropicBaseUrl: string;
  allowByok?: boolean;
  sendActorHeaders?: boolean;
  maxConcurrency: string;
  rateLimit: string;
  circuitBreaker?: boolean;
  circuitBreakerFailureThreshold: string;
  circuitBreakerInterval: string;
  circuitBreakerTimeout: string;
  circuitBreakerMaxRequests: string;
  upstreamTimeout: string;
  upstreamMaxRetries: string;
  shutdownTimeout: string;
  recordFlushTimeout: string;
  recordQueueSize: string;
  startBudget: string;
}

/** The shared settings of GatewayOptionsInput (and of EmbeddedGatewayOptionsInput). */
export type GatewaySettings = Required<Pick<GatewayOptionsInput, "openai" | "anthropic" | "allowByok" | "sendActorHeaders" | "maxConcurrency" | "rateLimit" | "circuitBreaker" | "upstreamTimeoutMs" | "upstreamMaxRetries" | "upstreamProxy" | "shutdownTimeoutMs" | "recordFlushTimeoutMs" | "recordQueueSize" | "startBudgetMs">>;

export function addGatewaySettingsOptions(command: Command): Command {
  return command
    .addOption(new Option("--openai-base-url <url>", "OpenAI API base URL").env("WEIR_OPENAI_BASE_URL").default("https://api.openai.com/v1"))
    .addOption(new Option("--openai-api-key <key>", "central OpenAI key (centralized mode); several, comma-separated, are failed over when OpenAI refuses one").env("WEIR_OPENAI_API_KEY"))
    .addOption(new Option("--openai-api-key-file <path>", "file holding the central OpenAI key, or several, one per line; read again on SIGHUP").env("WEIR_OPENAI_API_KEY_FILE"))
    .addOption(new Option("--anthropic-base-url <url>", "Anthropic API base URL").env("WEIR_ANTHROPIC_BASE_URL").default("https://api.anthropic.com"))
    .addOption(new Option("--anthropic-api-key <key>", "central Anthropic key (centralized mode); several, comma-separated, are failed over when Anthropic refuses one").env("WEIR_ANTHROPIC_API_KEY"))
    .addOption(new Option("--anthropic-api-key-file <path>", "file holding the central Anthropic key, or several, one per line; read again on SIGHUP").env("WEIR_ANTHROPIC_API_KEY_FILE"))
    .addOption(new Option("--allow-byok", "let users bring their own provider key (X-AI-Governance-Token)").env("WEIR_ALLOW_BYOK"))
    .addOption(new Option("--send-actor-headers", "name the user to the provider (X-AI-Bridge-Actor-ID, X-AI-Bridge-Actor-Metadata-Username)").env("WEIR_SEND_ACTOR_HEADERS"))
    .addOption(new Option("--max-concurrency <requests>", "LLM requests served at once by this replica; more get 503 (0: no limit)").env("WEIR_MAX_CONCURRENCY").default("0"))
    .addOption(new Option("--rate-limit <requests>", "requests per second per user API key on this replica; more get 429 with Retry-After (0: no limit)").env("WEIR_RATE_LIMIT").default("0"))
    .addOption(new Option("--circuit-breaker", "stop calling a provider for a model that keeps failing (503, 504, 529, no answer); answer 503 meanwhile").env("WEIR_CIRCUIT_BREAKER"))
    .addOption(new Option("--circuit-breaker-failure-threshold <failures>", "failures in a row that open a circuit").env("WEIR_CIRCUIT_BREAKER_FAILURE_THRESHOLD").default("5"))
    .addOption(new Option("--circuit-breaker-interval <duration>", "how often a closed circuit's run of failures starts over (0: never)").env("WEIR_CIRCUIT_BREAKER_INTERVAL").default("10s"))
    .addOption(new Option("--circuit-breaker-timeout <duration>", "how long an open circuit refuses before trial requests go through").env("WEIR_CIRCUIT_BREAKER_TIMEOUT").default("30s"))
    .addOption(new Option("--circuit-breaker-max-requests <requests>", "trial requests of a half-open circuit; as many successes close it").env("WEIR_CIRCUIT_BREAKER_MAX_REQUESTS").default("3"))
    .addOption(new Option("--upstream-timeout <duration>", "longest wait for a provider: for its answer, then between two chunks of it").env("WEIR_UPSTREAM_TIMEOUT").default("600s"))
    .addOption(
      new Option("--upstream-max-retries <retries>", "times an LLM request the provider failed before answering (no connection, 408, 409, 429, 5xx) is sent again, with backoff (0: never)")
        .env("WEIR_UPSTREAM_MAX_RETRIES")
        .default("0"),
    )
    .addOption(new Option("--shutdown-timeout <duration>", "how long shutdown lets in-flight streams finish").env("WEIR_SHUTDOWN_TIMEOUT").default("30s"))
    .addOption(
      new Option("--record-flush-timeout <duration>", "how long shutdown waits for the control plane to take the last records (then they are dropped and the exit code is 1, or, with `weir gateway --record-spool-dir`, spooled)")
        .env("WEIR_RECORD_FLUSH_TIMEOUT")
        .default("10s"),
    )
    .addOption(
      new Option("--record-queue-size <records>", "undelivered records beyond which new requests are refused (records of admitted requests are not dropped to make room)")
        .env("WEIR_RECORD_QUEUE_SIZE")
        .default("10000"),
    )
    .addOption(
      new Option(
        "--start-budget <duration>",
        `time per event-loop turn spent starting newly arrived requests, so a burst does not stall the streams already relaying; at most ${formatDurationMs(MAX_START_BUDGET_MS)} (0: start every request at once)`,
      )
        .env("WEIR_START_BUDGET")
        .default(formatDurationMs(DEFAULT_GATEWAY_OPTIONS.startBudgetMs)),
    );
}

function startBudgetMs(value: string): number {
  const ms = parseDurationMsOrZero("--start-budget", value);
  if (ms > MAX_START_BUDGET_MS) throw new CliError(`--start-budget must be at most ${formatDurationMs(MAX_START_BUDGET_MS)}, got ${JSON.stringify(value)}`);
  return ms;
}

/** The gateway takes up to a year (a closed circuit's run of failures restarting yearly is already never). */
function circuitBreakerIntervalSeconds(value: string): number {
  const seconds = parseDurationSecondsOrZero("--circuit-breaker-interval", value);
  if (seconds > 365 * 86_400) throw new CliError(`--circuit-breaker-interval must be at most 365d, got ${JSON.stringify(value)}`);
  return seconds;
}

/**
 * The egress proxy from HTTPS_PROXY, HTTP_PROXY and NO_PROXY (or their lower-case forms), as Go
 * programs take it: a wrong one is one line naming the variable.
 */
function upstreamProxyFromEnv(env: NodeJS.ProcessEnv): UpstreamProxySettings {
  try {
    return proxySettingsFromEnv(env);
  } catch (err) {
    if (err instanceof UpstreamProxyError) throw new CliError(err.message);
    throw err;
  }
}

export function gatewaySettings(flags: GatewaySettingsFlags, env: NodeJS.ProcessEnv = process.env): GatewaySettings {
  const apiKeys = providerKeysFromFlags(flags);
  return {
    openai: { baseUrl: httpUrl("--openai-base-url", flags.openaiBaseUrl), apiKeys: apiKeys.openai },
    anthropic: { baseUrl: httpUrl("--anthropic-base-url", flags.anthropicBaseUrl), apiKeys: apiKeys.anthropic },
    allowByok: flags.allowByok ?? false,
    sendActorHeaders: flags.sendActorHeaders ?? false,
    maxConcurrency: limit("--max-concurrency", flags.maxConcurrency),
    rateLimit: limit("--rate-limit", flags.rateLimit),
    circuitBreaker: {
      enabled: flags.circuitBreaker ?? false,
      failureThreshold: positiveInteger("--circuit-breaker-failure-threshold", flags.circuitBreakerFailureThreshold),
      intervalMs: circuitBreakerIntervalSeconds(flags.circuitBreakerInterval) * 1000,
      timeoutMs: parseDurationSeconds("--circuit-breaker-timeout", flags.circuitBreakerTimeout) * 1000,
      maxRequests: positiveInteger("--circuit-breaker-max-requests", flags.circuitBreakerMaxRequests),
    },
    upstreamTimeoutMs: parseTimerSeconds("--upstream-timeout", flags.upstreamTimeout) * 1000,
    upstreamMaxRetries: retries("--upstream-max-retries", flags.upstreamMaxRetries),
    upstreamProxy: upstreamProxyFromEnv(env),
    shutdownTimeoutMs: parseTimerSeconds("--shutdown-timeout", flags.shutdownTimeout) * 1000,
    recordFlushTimeoutMs: parseTimerSeconds("--record-flush-timeout", flags.recordFlushTimeout) * 1000,
    recordQueueSize: positiveInteger("--record-queue-size", flags.recordQueueSize),
    startBudgetMs: startBudgetMs(flags.startBudget),
  };
}
