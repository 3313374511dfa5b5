// weir control-plane — the daemon that owns PostgreSQL and serves gateways and admins.
import { Command, Option } from "commander";
import { createControlPlane } from "@weir/controlplane";
import { CliError } from "../cli-error.js";
import { addDatabaseOptions, databaseUrl, type DatabaseFlags } from "../database-options.js";
import { parseListen } from "../listen-address.js";
import { createLogger, logLevelOption } from "../logger.js";
import { runDaemon } from "../run-daemon.js";

interface ControlPlaneFlags extends DatabaseFlags {
  listen: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  logLevel: string;
}

export function controlPlaneCommand(): Command {
  return addDatabaseOptions(
    new Command("control-plane")
      .description("run the control plane: RPC services for gateways, admin API, /healthz, /readyz, /metrics on one address")
      .addOption(new Option("--listen <host:port>", "address for gateways (HTTP/2) and admins (HTTP/1.1)").env("WEIR_CONTROL_PLANE_LISTEN").default("127.0.0.1:7080"))
      .addOption(new Option("--tls-cert-file <path>", "PEM certificate; enables TLS (ALPN h2 and http/1.1)").env("WEIR_TLS_CERT_FILE"))
      .addOption(new Option("--tls-key-file <path>", "PEM private key for --tls-cert-file").env("WEIR_TLS_KEY_FILE"))
      .addOption(logLevelOption()),
  ).action(async (flags: ControlPlaneFlags) => {
    if (Boolean(flags.tlsCertFile) !== Boolean(flags.tlsKeyFile)) throw new CliError("--tls-cert-file and --tls-key-file must be given together");
    const logger = createLogger(flags.logLevel, "weir-control-plane");
    const controlPlane = createControlPlane({
      listen: parseListen(flags.listen),
      databaseUrl: databaseUrl(flags),
      embeddedDataDir: flags.dataDir,
      tls: flags.tlsCertFile && flags.tlsKeyFile ? { certFile: flags.tlsCertFile, keyFile: flags.tlsKeyFile } : undefined,
      logger,
    });
    await runDaemon(controlPlane, logger);
  });
}
