// Runs a daemon in the foreground: start it, wait for SIGINT/SIGTERM (or a fatal error), shut
// it down, and exit 0 — or 1 when it stopped because of an error.
import type { Logger } from "pino";

export interface Daemon {
  start(): Promise<void>;
  shutdown(): Promise<void>;
}

export async function runDaemon(daemon: Daemon, logger: Logger, fatal?: Promise<Error>): Promise<void> {
  await daemon.start();
  const reason = await new Promise<Error | NodeJS.Signals>((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
    fatal?.then(resolve, resolve);
  });
  if (typeof reason === "string") logger.info({ signal: reason }, "shutting down");
  else logger.error({ err: reason.message }, "shutting down after a fatal error");
  await daemon.shutdown();
  logger.flush();
  if (typeof reason !== "string") throw reason;
}
