// Reads a control plane's options from the environment, for src/main.ts (the `weir` CLI will
// map its flags to the same options). Environment is read here, once, never deeper down.
import type { Logger } from "pino";
import { CONTROL_PLANE_DEFAULTS, type ControlPlaneOptions, type ListenAddress } from "./control-plane.js";
export { oneLineError } from "./one-line-error.js";

/** Environment variables understood by the control plane's entry point. */
export const CONTROL_PLANE_ENV = Object.freeze({
  listen: "WEIR_LISTEN",
  databaseUrl: "DATABASE_URL",
  dataDir: "WEIR_DATA_DIR",
  tlsCertFile: "WEIR_TLS_CERT_FILE",
  tlsKeyFile: "WEIR_TLS_KEY_FILE",
  databaseWaitSeconds: "WEIR_DATABASE_WAIT",
});

/** A configuration mistake; its message is one line meant for the operator. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses "host:port", "[v6-host]:port" or ":port" (default host). Port 0 means any free port. */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || !Number.isInteger(port) || port > 65_535) {
    throw new ConfigError(`${CONTROL_PLANE_ENV.listen}: want host:port (e.g. 127.0.0.1:7080), got ${JSON.stringify(value)}`);
  }
  const host = match[1] ?? match[2] ?? "";
  return { host: host === "" ? CONTROL_PLANE_DEFAULTS.listen.host : host, port };
}

export function controlPlaneOptionsFromEnv(env: NodeJS.ProcessEnv, logger: Logger): ControlPlaneOptions {
  const listen = env[CONTROL_PLANE_ENV.listen] ? parseListenAddress(env[CONTROL_PLANE_ENV.listen]!) : CONTROL_PLANE_DEFAULTS.listen;
  const certFile = env[CONTROL_PLANE_ENV.tlsCertFile] || undefined;
  const keyFile = env[CONTROL_PLANE_ENV.tlsKeyFile] || undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new ConfigError(`${CONTROL_PLANE_ENV.tlsCertFile} and ${CONTROL_PLANE_ENV.tlsKeyFile} must be set together`);
  }
  const waitText = env[CONTROL_PLANE_ENV.databaseWaitSeconds];
  if (waitText !== undefined && !/^[0-9]{1,6}$/.test(waitText)) {
    throw new ConfigError(`${CONTROL_PLANE_ENV.databaseWaitSeconds}: want whole seconds, got ${JSON.stringify(waitText)}`);
  }
  return {
    listen,
    ...(waitText !== undefined ? { databaseWaitMs: Number(waitText) * 1000 } : {}),
    databaseUrl: env[CONTROL_PLANE_ENV.databaseUrl] || undefined,
    embeddedDataDir: env[CONTROL_PLANE_ENV.dataDir] || undefined,
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    logger,
  };
}
