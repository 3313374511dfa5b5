// Runs a daemon in the foreground: start it, wait for SIGINT/SIGTERM (or a fatal error), shut
// it down, and exit 0 — or 1 when it stopped because of an error. A daemon with TLS files or
// key files also reloads them on SIGHUP (reload-signal.ts), and tells how that went on its
// /metrics (reload-metrics.ts).
import type { Logger } from "pino";
import { listenCliError } from "./listen-error.js";
import type { Registry } from "prom-client";
import { reloadMetrics } from "./reload-metrics.js";
import { reloadOnSignal, type FileReload } from "./reload-signal.js";
import { shutdownSignal } from "./shutdown-signal.js";

export interface Daemon {
  start(): Promise<void>;
  shutdown(): Promise<void>;
  /** What SIGHUP reads again (TLS files, key files); none: SIGHUP ends the process. */
  reloads?: readonly FileReload[];
  /** Where the reloads' outcomes are published (reload-metrics.ts): the daemon's /metrics registry and its prefix. */
  reloadMetrics?: { readonly registry: Registry; readonly prefix: string };
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
  // Listened for before start(): a signal while the daemon starts (an embedded PostgreSQL
  // starting, a database awaited for a minute) stops it through shutdown(). Node's default
  // killed the process at once and left the embedded PostgreSQL running.
  const stopRequested = Promise.race<NodeJS.Signals | "parent_gone">([shutdownSignal(logger), ...(stop ? [stop] : [])]);
  const started = daemon.start().then(
    () => "started" as const,
    (err: unknown) => {
      throw listenCliError("--listen", err) ?? err;
    },
  );
  // A reload asked for during start-up waits for it (the files read then may be older).
  if (daemon.reloads !== undefined && daemon.reloads.length > 0) {
    const outcomes = daemon.reloadMetrics && reloadMetrics(daemon.reloadMetrics.registry, daemon.reloadMetrics.prefix);
    reloadOnSignal(daemon.reloads, logger, started, outcomes);
  }
  const first = await Promise.race([started, stopRequested]);
  if (first !== "started") {
    logger.info({ signal: first }, "stopping during start-up");
    await daemon.shutdown();
    // It ends with an error saying it was stopped, or it finished first and was shut down.
    await started.catch(() => undefined);
    logger.flush();
    return;
  }
  const reason = await Promise.race<Error | NodeJS.Signals | "parent_gone">([stopRequested, ...(fatal ? [fatal] : [])]);
  if (typeof reason === "string") logger.info({ signal: reason }, "shutting down");
  else logger.error({ err: reason.message }, "shutting down after a fatal error");
  await daemon.shutdown();
  logger.flush();
  if (typeof reason !== "string") throw reason;
}
