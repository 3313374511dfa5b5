// weir control-plane — the daemon that owns PostgreSQL and serves gateways and admins; with
// --embedded-gateway also a gateway in the same process (embedded-deployment.ts).
import { Command, Option } from "commander";
import { CliError } from "../cli-error.js";
import { parseDurationSecondsOrZero } from "../duration.js";
import { addDatabaseOptions, databasePasswordFile, databaseUrl, type DatabaseFlags } from "../database-options.js";
import { addGatewaySettingsOptions, gatewaySettings, type GatewaySettingsFlags } from "../gateway-options.js";
import { parseListen } from "../listen-address.js";
import { createLogger, logLevelOption } from "../logger.js";
import { recordRetentionMs, recordRetentionOption } from "../record-retention-option.js";
import { providerKeyFiles, readProviderKeyFiles } from "../provider-key-files.js";
import { providerKeysReload, tlsReload, type FileReload } from "../reload-signal.js";
import { runDaemon, type Daemon } from "../run-daemon.js";
import type { ControlPlaneMetrics } from "@weir/controlplane";
import type { TlsFiles } from "@weir/gateway";
import { checkTlsFiles, tlsFilesFromFlags } from "../tls-flags.js";

interface ControlPlaneFlags extends DatabaseFlags, GatewaySettingsFlags {
  listen: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  embeddedGateway?: boolean;
  recordRetention: string;
  databaseWait: string;
  logLevel: string;
}

export function controlPlaneCommand(): Command {
  return addDatabaseOptions(
    addGatewaySettingsOptions(
      new Command("control-plane")
        .description("run the control plane: RPC services for gateways, admin API, /healthz, /readyz, /metrics on one address")
        .addOption(new Option("--listen <host:port>", "address for gateways (HTTP/2) and admins (HTTP/1.1)").env("WEIR_CONTROL_PLANE_LISTEN").default("127.0.0.1:7080"))
        .addOption(new Option("--tls-cert-file <path>", "PEM certificate; enables TLS (ALPN h2 and http/1.1, TLS 1.2+); both files are read again on SIGHUP").env("WEIR_TLS_CERT_FILE"))
        .addOption(new Option("--tls-key-file <path>", "PEM private key for --tls-cert-file").env("WEIR_TLS_KEY_FILE"))
        .addOption(
          new Option(
            "--embedded-gateway",
            "also run a gateway in this process, serving the LLM routes on this address under /api/v2/ai-gateway/openai/ and /api/v2/ai-gateway/anthropic/ (configured by the options below)",
          ).env("WEIR_EMBEDDED_GATEWAY"),
        )
        .addOption(recordRetentionOption())
        .addOption(
          new Option("--database-wait <duration>", "how long start-up keeps retrying a database server it cannot reach (0: fail at once)")
            .env("WEIR_DATABASE_WAIT")
            .default("60s"),
        ),
    ).addOption(logLevelOption()),
  ).action(async (flags: ControlPlaneFlags, command: Command) => {
    const tls = tlsFilesFromFlags(flags);
    refuseFlagsWithoutEffect(flags, command);
    // Before the database is opened (an embedded one started and migrated): a wrong file is the
    // operator's to fix, and it gets one line naming it.
    if (tls !== undefined) await checkTlsFiles(tls);
    const logger = createLogger(flags.logLevel, "weir-control-plane");
    const options = {
      listen: parseListen(flags.listen),
      databaseUrl: databaseUrl(flags),
      databasePasswordFile: await databasePasswordFile(flags),
      embeddedDataDir: flags.dataDir,
      tls,
      recordRetentionMs: recordRetentionMs(flags.recordRetention),
      databaseWaitMs: parseDurationSecondsOrZero("--database-wait", flags.databaseWait) * 1000,
      logger,
    };
    // Loaded here, not at the top: every other command starts without the daemons' code.
    const { METRICS_PREFIX, createControlPlane } = await import("@weir/controlplane");
    // Its metrics: one /metrics for the process (an embedded gateway's series are included).
    let daemon: Daemon & { reloadTls(): Promise<void>; readonly metrics: ControlPlaneMetrics };
    let keysReload: FileReload | undefined;
    if (flags.embeddedGateway) {
      const deployment = new (await import("../embedded-deployment.js")).EmbeddedDeployment(options, gatewaySettings(flags), logger);
      const keyFiles = providerKeyFiles(flags);
      if (keyFiles.length > 0) keysReload = providerKeysReload(async () => deployment.replaceProviderKeys(readProviderKeyFiles(keyFiles)));
      daemon = deployment;
    } else {
      daemon = createControlPlane(options);
    }
    const reloads = [...(tls === undefined ? [] : [tlsReload(() => reloadControlPlaneTls(daemon, tls))]), ...(keysReload === undefined ? [] : [keysReload])];
    await runDaemon({ start: () => daemon.start(), shutdown: () => daemon.shutdown(), reloads, reloadMetrics: { registry: daemon.metrics.registry, prefix: METRICS_PREFIX } }, logger);
  });
}

/**
 * The control plane's reload. Files it refuses are judged by the start-up check, whose error
 * names the flag and the file; the files are read once when they serve.
 */
async function reloadControlPlaneTls(daemon: { reloadTls(): Promise<void> }, tls: TlsFiles): Promise<void> {
  try {
    await daemon.reloadTls();
  } catch (err) {
    await checkTlsFiles(tls); // throws the one-line CliError when it finds the fault
    throw err;
  }
}

/**
 * A flag given on the command line that this run would ignore is refused: an operator who typed
 * `--max-concurrency 5` without `--embedded-gateway` believes the limit is set. (Variables are
 * let be: one environment file often serves both daemons.)
 */
function refuseFlagsWithoutEffect(flags: ControlPlaneFlags, command: Command): void {
  if (!flags.embeddedGateway) {
    const gatewayOnly = addGatewaySettingsOptions(new Command()).options;
    const given = gatewayOnly.find((o) => command.getOptionValueSource(o.attributeName()) === "cli");
    if (given !== undefined) throw new CliError(`${given.long} only applies with --embedded-gateway (weir gateway takes it too)`);
  }
  if (command.getOptionValueSource("dataDir") === "cli" && databaseUrl(flags) !== undefined) {
    throw new CliError("--data-dir is for the embedded PostgreSQL: it has no effect with a database URL");
  }
}