// Runs a daemon in the foreground: start it, wait for SIGINT/SIGTERM (or a fatal error), shut
// it down, and exit 0 — or 1 when it stopped because of an error. A daemon serving TLS also
// reloads its files on SIGHUP (reload-signal.ts).
import type { Logger } from "pino";
import { reloadTlsOnSignal } from "./reload-signal.js";
import { shutdownSignal } from "./shutdown-signal.js";

export interface Daemon {
  start(): Promise<void>;
  shutdown(): Promise<void>;
  /** Set when the daemon serves TLS: reads its files again; rejects with a one-line message. */
  reloadTls?: () => Promise<void>;
}

/** Resolves when standard input closes: the parent that holds its other end is gone. */
export function parentGone(): Promise<"parent_gone"> {
  return new Promise((resolve) => {
    process.stdin.once("close", () => resolve("parent_gone"));
    process.stdin.once("end", () => resolve("parent_gone"));
    process.stdin.resume();
    // Listening must not keep the process alive once the daemon has stopped.
    (process.stdin as { unref?: () => void }).unref?.();
  });
}

export async function runDaemon(daemon: Daemon, logger: Logger, fatal?: Promise<Error>, stop?: Promise<"parent_gone">): Promise<void> {
  await daemon.start();
  if (daemon.reloadTls !== undefined) reloadTlsOnSignal(daemon.reloadTls, logger);
  const reason = await Promise.race<Error | NodeJS.Signals | "parent_gone">([shutdownSignal(logger), ...(fatal ? [fatal] : []), ...(stop ? [stop] : [])]);
  if (typeof reason === "string") logger.info({ signal: reason }, "shutting down");
  else logger.error({ err: reason.message }, "shutting down after a fatal error");
  await daemon.shutdown();
  logger.flush();
  if (typeof reason !== "string") throw reason;
}
