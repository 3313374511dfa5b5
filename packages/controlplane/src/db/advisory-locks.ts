// Every transaction-level advisory lock the control plane takes, in one place so two uses can
// never pick the same key. Two-int keys: ("weir", n).
const WEIR = 0x77656972;

export const ADVISORY_LOCKS = Object.freeze({
  /** Serialises bootstraps and owner-key recoveries (each checks "no owner / no usable key" first). */
  bootstrap: [WEIR, 1],
  /** Lets one control plane at a time purge recorded traffic past the retention period. */
  recordRetention: [WEIR, 2],
} as const);
