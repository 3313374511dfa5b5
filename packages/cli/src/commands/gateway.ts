// weir gateway — one stateless gateway replica. Run as many as you like with the same key.
import { Command, Option } from "commander";
import type { FatalStartupError, Gateway } from "@weir/gateway";
import { addAuthCacheOptions, authCacheSettings, type AuthCacheFlags } from "../auth-cache-options.js";
import { CliError } from "../cli-error.js";
import { MAX_TIMER_SECONDS, parseDurationMsOrZero } from "../duration.js";
import { httpUrl } from "../http-url.js";
import { gatewayKeyFromFlags } from "../gateway-key-flag.js";
import { addGatewaySettingsOptions, gatewaySettings, type GatewaySettingsFlags } from "../gateway-options.js";
import { parseListen } from "../listen-address.js";
import { ensureAddressFree } from "../listen-error.js";
import { reportListening } from "../listening-report.js";
import { createLogger, logLevelOption } from "../logger.js";
import { providerKeyFiles, readProviderKeyFiles, type ProviderKeyFile } from "../provider-key-files.js";
import { gatewayKeyReload, providerKeysReload, tlsReload, type FileReload } from "../reload-signal.js";
import { parentGone, runDaemon } from "../run-daemon.js";
import { tlsFilesCliError, tlsFilesFromFlags } from "../tls-flags.js";

interface GatewayFlags extends GatewaySettingsFlags, AuthCacheFlags {
  listen: string;
  controlPlaneUrl: string;
  key?: string;
  keyFile?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  recordSpoolDir?: string;
  recordCheckpointInterval: string;
  apiVersion?: string;
  exitWithParent?: boolean;
  logLevel: string;
}

export function gatewayCommand(): Command {
  return addAuthCacheOptions(
    addGatewaySettingsOptions(
      new Command("gateway")
        .description("run a gateway replica: authorize, proxy, stream and record LLM requests")
        .addOption(new Option("--listen <host:port>", "address to serve LLM traffic on").env("WEIR_GATEWAY_LISTEN").default("127.0.0.1:7081"))
        .addOption(new Option("--control-plane-url <url>", "control-plane URL (https:// for TLS)").env("WEIR_CONTROL_PLANE_URL").default("http://127.0.0.1:7080"))
        .addOption(new Option("--key <key>", "the gateway key").env("WEIR_GATEWAY_KEY"))
        .addOption(new Option("--key-file <path>", "file holding the gateway key; read again on SIGHUP").env("WEIR_GATEWAY_KEY_FILE"))
        // Not the control plane's WEIR_TLS_* variables: one environment file may serve both daemons.
        .addOption(new Option("--tls-cert-file <path>", "PEM certificate (chain); serves HTTPS (HTTP/1.1, TLS 1.2+); both files are read again on SIGHUP").env("WEIR_GATEWAY_TLS_CERT_FILE"))
        .addOption(new Option("--tls-key-file <path>", "PEM private key for --tls-cert-file").env("WEIR_GATEWAY_TLS_KEY_FILE"))
        .addOption(
          new Option("--record-spool-dir <dir>", "directory for the records the control plane has not taken by --record-flush-timeout: written there instead of dropped, and delivered by the next gateway started with it")
            .env("WEIR_RECORD_SPOOL_DIR"),
        )
        .addOption(
          new Option("--record-checkpoint-interval <duration>", "with --record-spool-dir: once a record has waited this long on the control plane, all waiting records are written to the spool this often, so a crash loses only what came after the last one; 0: never")
            .env("WEIR_RECORD_CHECKPOINT_INTERVAL")
            .default("5s"),
        ),
    ),
  )
    // Compatibility testing only: speak another contract version than this build's.
    .addOption(new Option("--api-version <major.minor>").env("WEIR_API_VERSION").hideHelp())
    // For supervisors such as `weir start`: stop gracefully when standard input closes, i.e.
    // when the parent holding its other end dies — even by SIGKILL.
    .addOption(new Option("--exit-with-parent", "shut down when standard input closes").env("WEIR_EXIT_WITH_PARENT").hideHelp())
    .addOption(logLevelOption())
    .action(async (flags: GatewayFlags) => {
      const tls = tlsFilesFromFlags(flags);
      // Loaded here, not at the top: every other command starts without the gateway's code.
      const { METRICS_PREFIX, createGateway, isFatalStartupError, isTlsFilesError } = await import("@weir/gateway");
      const listen = parseListen(flags.listen);
      // Before the control plane is asked anything: a taken address is one line at once.
      await ensureAddressFree("--listen", listen);
      const logger = createLogger(flags.logLevel, "weir-gateway");
      let onFatal: (err: FatalStartupError) => void = () => {};
      const fatal = new Promise<Error>((resolve) => (onFatal = resolve));
      const gateway = createGateway({
        controlPlaneUrl: httpUrl("--control-plane-url", flags.controlPlaneUrl),
        gatewayKey: gatewayKeyFromFlags(flags),
        listen,
        tls,
        ...(flags.recordSpoolDir !== undefined ? { recordSpoolDir: flags.recordSpoolDir } : {}),
        recordCheckpointMs: checkpointIntervalMs(flags.recordCheckpointInterval),
        ...gatewaySettings(flags),
        ...authCacheSettings(flags),
        ...(flags.apiVersion ? { apiVersion: flags.apiVersion } : {}),
        logger,
        // One gateway per process here: its /metrics tells the process's CPU, memory and stalls.
        processMetrics: true,
        onFatalError: (err) => onFatal(err),
      });
      try {
        // Started by `weir start` (with an IPC channel), it tells its parent the address bound.
        const daemon = {
          start: async () => {
            await gateway.start();
            reportListening(gateway.url, (err) => logger.warn({ err: err.message }, "could not report the listening address to the parent process"));
          },
          shutdown: () => gateway.shutdown(),
          reloads: reloadsOf(gateway, { servesTls: tls !== undefined, gatewayKeyFile: flags.keyFile, providerKeyFiles: providerKeyFiles(flags) }),
          reloadMetrics: { registry: gateway.metrics.registry, prefix: METRICS_PREFIX },
        };
        await runDaemon(daemon, logger, fatal, flags.exitWithParent ? parentGone() : undefined);
      } catch (err) {
        // Fatal control-plane answers (bad key, incompatible version) are one line already.
        if (isFatalStartupError(err)) throw new CliError(err.message);
        if (isTlsFilesError(err)) throw await tlsFilesCliError(err);
        throw err;
      }
      // Lost records are an audit gap: the supervisor must see that this shutdown was not clean.
      const dropped = gateway.recordsDroppedAtShutdown;
      if (dropped > 0) {
        throw new CliError(`${dropped} records were not delivered to the control plane within --record-flush-timeout and were dropped${flags.recordSpoolDir === undefined ? " (--record-spool-dir keeps them)" : ""}`);
      }
    });
}

interface ReloadableFiles {
  servesTls: boolean;
  gatewayKeyFile: string | undefined;
  providerKeyFiles: readonly ProviderKeyFile[];
}

/** What SIGHUP reads again: the TLS files it serves, the keys given as files. */
function reloadsOf(gateway: Gateway, files: ReloadableFiles): FileReload[] {
  const reloads: FileReload[] = [];
  if (files.servesTls) reloads.push(tlsReload(() => reloadGatewayTls(gateway)));
  const { gatewayKeyFile, providerKeyFiles } = files;
  // The file's shape is checked as at start-up; the control plane then has to accept the key.
  if (gatewayKeyFile !== undefined) reloads.push(gatewayKeyReload(async () => gateway.replaceGatewayKey(gatewayKeyFromFlags({ keyFile: gatewayKeyFile }))));
  if (providerKeyFiles.length > 0) reloads.push(providerKeysReload(async () => gateway.replaceProviderKeys(readProviderKeyFiles(providerKeyFiles))));
  return reloads;
}

/** The gateway's reload, its errors naming the flags as typed. */
async function reloadGatewayTls(gateway: Gateway): Promise<void> {
  const { isTlsFilesError } = await import("@weir/gateway");
  try {
    await gateway.reloadTls();
  } catch (err) {
    if (isTlsFilesError(err)) throw await tlsFilesCliError(err);
    throw err;
  }
}

/** 0 (never) up to the longest wait Node's timers take. */
function checkpointIntervalMs(value: string): number {
  const ms = parseDurationMsOrZero("--record-checkpoint-interval", value);
  if (ms > MAX_TIMER_SECONDS * 1000) throw new CliError(`--record-checkpoint-interval must be at most 24d, got ${JSON.stringify(value)}`);
  return ms;
}
