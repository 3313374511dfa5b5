// Every advisory lock the control plane takes, in one place so two uses can never pick the same
// key. Two-int keys: ("weir", n). (kysely's migration lock is a one-bigint key: another key space.)
const WEIR = 0x77656972;

export const ADVISORY_LOCKS = Object.freeze({
  /** Transaction-level: serialises bootstraps and owner-key recoveries (each checks "no owner / no usable key" first). */
  bootstrap: [WEIR, 1],
  /** Transaction-level: lets one control plane at a time purge recorded traffic past the retention period. */
  recordRetention: [WEIR, 2],
  /**
   * Session-level: every running control plane holds it in shared mode on its LISTEN connection
   * for its whole life (db/running-control-plane-lock.ts); reverting a migration takes it
   * exclusively, with try, so a down step never drops tables under a control plane.
   */
  controlPlaneRunning: [WEIR, 3],
} as const);
