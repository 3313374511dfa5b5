// SIGHUP re-reads a daemon's TLS files, as nginx and PostgreSQL reload on it: a renewed
// certificate (certbot, cert-manager) is served to new connections without a restart and
// without dropping a request. Only a daemon given TLS files listens for it; one without keeps
// Node's default, which ends the process. A reload that fails is logged in one line and the
// previous certificate stays in use: a half-written renewal never takes a daemon down.
import type { Logger } from "pino";

/** Listens for SIGHUP for the rest of the process's life; reloads never overlap. */
export function reloadTlsOnSignal(reloadTls: () => Promise<void>, logger: Logger): void {
  let running: Promise<void> = Promise.resolve();
  process.on("SIGHUP", () => {
    logger.info({ signal: "SIGHUP" }, "reloading the TLS certificate and key files");
    running = running.then(() =>
      reloadTls().catch((err: unknown) => {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, "TLS files not reloaded; the previous certificate is still served");
      }),
    );
  });
}
