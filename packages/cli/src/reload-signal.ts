// SIGHUP makes a daemon read its files again, as nginx and PostgreSQL reload on it: a renewed
// certificate (certbot, cert-manager) is served to new connections, and a rotated provider or
// gateway key used for the next requests, without a restart and without dropping a request.
// Only a daemon with such files listens for it; one without keeps Node's default, which ends
// the process. A reload that fails is logged in one line and what was in use stays in use: a
// half-written renewal never takes a daemon down. Each kind of file reloads on its own, so a
// broken certificate does not hold up a key rotation, nor the other way round.
import type { Logger } from "pino";
import type { ReloadOutcomes } from "./reload-metrics.js";

/** The kinds of file a daemon reloads: the `files` label of its reload metrics. */
export type ReloadKind = "tls" | "gateway_key" | "provider_keys";

export interface FileReload {
  readonly kind: ReloadKind;
  /** What is read again, for the log: "the TLS certificate and key files". */
  readonly files: string;
  /** Reads them and puts them in use; rejects with a one-line message, having changed nothing. */
  readonly run: () => Promise<void>;
  /** Logged at error level, with that message, when `run` rejects. */
  readonly keptMessage: string;
}

/**
 * Listens for SIGHUP for the rest of the process's life; reloads never overlap, none runs
 * before `started` settles, and none once it has failed (a daemon that never started is
 * stopping, and serves nothing to reload). `outcomes` hears of start-up's load and each reload.
 */
export function reloadOnSignal(reloads: readonly FileReload[], logger: Logger, started: Promise<unknown>, outcomes?: ReloadOutcomes): void {
  let queue: Promise<boolean> = started.then(
    () => {
      for (const reload of reloads) outcomes?.loaded(reload.kind);
      return true;
    },
    () => false,
  );
  process.on("SIGHUP", () => {
    logger.info({ signal: "SIGHUP" }, `reloading ${listed(reloads.map((r) => r.files))}`);
    queue = queue.then(async (running) => {
      if (!running) return false;
      for (const reload of reloads) {
        // try, not .catch(): a run that throws before returning its promise is caught too.
        try {
          await reload.run();
          outcomes?.loaded(reload.kind);
        } catch (err) {
          outcomes?.failed(reload.kind);
          logger.error({ err: err instanceof Error ? err.message : String(err) }, reload.keptMessage);
        }
      }
      return true;
    });
  });
}

/** "a", "a and b", "a, b and c". */
function listed(items: readonly string[]): string {
  return items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/** The TLS files' reload. */
export function tlsReload(run: () => Promise<void>): FileReload {
  return { kind: "tls", files: "the TLS certificate and key files", run, keptMessage: "TLS files not reloaded; the previous certificate is still served" };
}

/** The provider key files' reload. */
export function providerKeysReload(run: () => Promise<void>): FileReload {
  return { kind: "provider_keys", files: "the provider key files", run, keptMessage: "provider key files not reloaded; the previous keys are still used" };
}

/** The gateway key file's reload. */
export function gatewayKeyReload(run: () => Promise<void>): FileReload {
  return { kind: "gateway_key", files: "the gateway key file", run, keptMessage: "gateway key file not reloaded; the previous key is still used" };
}
