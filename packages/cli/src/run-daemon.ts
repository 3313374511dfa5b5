// Runs a daemon in the foreground: start it, wait for SIGINT/SIGTERM (or a fatal error), shut
// it down, and exit 0 — or 1 when it stopped because of an error.
import type { Logger } from "pino";
import { shutdownSignal } from "./shutdown-signal.js";

export interface Daemon {
  start(): Promise<void>;
  shutdown(): Promise<void>;
}

export async function runDaemon(daemon: Daemon, logger: Logger, fatal?: Promise<Error>): Promise<void> {
  await daemon.start();
  const reason = await Promise.race<Error | NodeJS.Signals>([shutdownSignal(), ...(fatal ? [fatal] : [])]);
  if (typeof reason === "string") logger.info({ signal: reason }, "shutting down");
  else logger.error({ err: reason.message }, "shutting down after a fatal error");
  await daemon.shutdown();
  logger.flush();
  if (typeof reason !== "string") throw reason;
}
