// Whether SIGHUP reloads worked, per kind of file, on the daemon's /metrics — as Prometheus's own
// prometheus_config_last_reload_successful: an operator alerts on a renewed certificate or a
// rotated key that was not taken (`…_reload_successful == 0`) instead of searching the log for
// the error line. Start-up counts as the first successful load.
import { Gauge, type Registry } from "prom-client";
import type { ReloadKind } from "./reload-signal.js";

export interface ReloadOutcomes {
  /** The files of `kind` were read and are in use (start-up, or a reload). */
  loaded(kind: ReloadKind): void;
  /** A reload of `kind` failed: what was in use still is. */
  failed(kind: ReloadKind): void;
}

/** Registers the two series on `registry` under `prefix` ("weir_gateway_"). */
export function reloadMetrics(registry: Registry, prefix: string, now: () => number = Date.now): ReloadOutcomes {
  const successful = new Gauge({
    name: `${prefix}reload_successful`,
    help: "1 when the last load of these files (start-up or SIGHUP) succeeded, 0 when the last reload failed and the previous ones are still in use.",
    labelNames: ["files"],
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: `${prefix}reload_last_success_timestamp_seconds`,
    help: "When these files were last loaded successfully, at start-up or on SIGHUP (Unix time).",
    labelNames: ["files"],
    registers: [registry],
  });
  return {
    loaded(kind) {
      successful.set({ files: kind }, 1);
      lastSuccess.set({ files: kind }, now() / 1000);
    },
    failed(kind) {
      successful.set({ files: kind }, 0);
    },
  };
}
