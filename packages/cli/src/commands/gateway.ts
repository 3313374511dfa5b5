// weir gateway — one stateless gateway replica. Run as many as you like with the same key.
import { Command, Option } from "commander";
import { createGateway, isFatalStartupError, type FatalStartupError } from "@weir/gateway";
import { CliError } from "../cli-error.js";
import { parseDurationSeconds } from "../duration.js";
import { parseListen } from "../listen-address.js";
import { createLogger, logLevelOption } from "../logger.js";
import { runDaemon } from "../run-daemon.js";
import { readSecret, requireSecret } from "../secrets.js";

interface GatewayFlags {
  listen: string;
  controlPlaneUrl: string;
  key?: string;
  keyFile?: string;
  openaiBaseUrl: string;
  openaiApiKey?: string;
  openaiApiKeyFile?: string;
  anthropicBaseUrl: string;
  anthropicApiKey?: string;
  anthropicApiKeyFile?: string;
  allowByok?: boolean;
  upstreamTimeout: string;
  shutdownTimeout: string;
  apiVersion?: string;
  logLevel: string;
}

export function gatewayCommand(): Command {
  return new Command("gateway")
    .description("run a gateway replica: authorize, proxy, stream and record LLM requests")
    .addOption(new Option("--listen <host:port>", "address to serve LLM traffic on").env("WEIR_GATEWAY_LISTEN").default("127.0.0.1:7081"))
    .addOption(new Option("--control-plane-url <url>", "control-plane URL (https:// for TLS)").env("WEIR_CONTROL_PLANE_URL").default("http://127.0.0.1:7080"))
    .addOption(new Option("--key <key>", "the gateway key").env("WEIR_GATEWAY_KEY"))
    .addOption(new Option("--key-file <path>", "file holding the gateway key").env("WEIR_GATEWAY_KEY_FILE"))
    .addOption(new Option("--openai-base-url <url>", "OpenAI API base URL").env("WEIR_OPENAI_BASE_URL").default("https://api.openai.com/v1"))
    .addOption(new Option("--openai-api-key <key>", "central OpenAI key (centralized mode)").env("WEIR_OPENAI_API_KEY"))
    .addOption(new Option("--openai-api-key-file <path>", "file holding the central OpenAI key").env("WEIR_OPENAI_API_KEY_FILE"))
    .addOption(new Option("--anthropic-base-url <url>", "Anthropic API base URL").env("WEIR_ANTHROPIC_BASE_URL").default("https://api.anthropic.com"))
    .addOption(new Option("--anthropic-api-key <key>", "central Anthropic key (centralized mode)").env("WEIR_ANTHROPIC_API_KEY"))
    .addOption(new Option("--anthropic-api-key-file <path>", "file holding the central Anthropic key").env("WEIR_ANTHROPIC_API_KEY_FILE"))
    .addOption(new Option("--allow-byok", "let users bring their own provider key (X-AI-Governance-Token)").env("WEIR_ALLOW_BYOK"))
    .addOption(new Option("--upstream-timeout <duration>", "deadline of one upstream request").env("WEIR_UPSTREAM_TIMEOUT").default("600s"))
    .addOption(new Option("--shutdown-timeout <duration>", "how long shutdown lets in-flight streams finish").env("WEIR_SHUTDOWN_TIMEOUT").default("30s"))
    // Compatibility testing only: speak another contract version than this build's.
    .addOption(new Option("--api-version <major.minor>").env("WEIR_API_VERSION").hideHelp())
    .addOption(logLevelOption())
    .action(async (flags: GatewayFlags) => {
      const logger = createLogger(flags.logLevel, "weir-gateway");
      let onFatal: (err: FatalStartupError) => void = () => {};
      const fatal = new Promise<Error>((resolve) => (onFatal = resolve));
      const gateway = createGateway({
        controlPlaneUrl: flags.controlPlaneUrl,
        gatewayKey: requireSecret("the gateway key", "key", flags.key, flags.keyFile),
        listen: parseListen(flags.listen),
        openai: { baseUrl: flags.openaiBaseUrl, apiKey: readSecret("the OpenAI key", flags.openaiApiKey, flags.openaiApiKeyFile) },
        anthropic: { baseUrl: flags.anthropicBaseUrl, apiKey: readSecret("the Anthropic key", flags.anthropicApiKey, flags.anthropicApiKeyFile) },
        allowByok: flags.allowByok ?? false,
        upstreamTimeoutMs: parseDurationSeconds(flags.upstreamTimeout) * 1000,
        shutdownTimeoutMs: parseDurationSeconds(flags.shutdownTimeout) * 1000,
        ...(flags.apiVersion ? { apiVersion: flags.apiVersion } : {}),
        logger,
        onFatalError: (err) => onFatal(err),
      });
      try {
        await runDaemon(gateway, logger, fatal);
      } catch (err) {
        // Fatal control-plane answers (bad key, incompatible version) are one line already.
        if (isFatalStartupError(err)) throw new CliError(err.message);
        throw err;
      }
    });
}
