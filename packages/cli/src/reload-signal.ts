// SIGHUP re-reads a daemon's TLS files, as nginx and PostgreSQL reload on it: a renewed
// certificate (certbot, cert-manager) is served to new connections without a restart and
// without dropping a request. Only a daemon given TLS files listens for it; one without keeps
// Node's default, which ends the process. A reload that fails is logged in one line and the
// previous certificate stays in use: a half-written renewal never takes a daemon down.
import type { Logger } from "pino";

/**
 * Listens for SIGHUP for the rest of the process's life; reloads never overlap, none runs
 * before `started` settles, and none once it has failed (a daemon that never started is
 * stopping, and serves nothing to reload).
 */
export function reloadTlsOnSignal(reloadTls: () => Promise<void>, logger: Logger, started: Promise<unknown>): void {
  let queue: Promise<boolean> = started.then(
    () => true,
    () => false,
  );
  process.on("SIGHUP", () => {
    logger.info({ signal: "SIGHUP" }, "reloading the TLS certificate and key files");
    queue = queue.then(async (running) => {
      if (!running) return false;
      await reloadTls().catch((err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, "TLS files not reloaded; the previous certificate is still served");
      });
      return true;
    });
  });
}
