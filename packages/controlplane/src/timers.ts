// Timers, injected wherever the control plane waits (reconnect backoff, grace periods) so tests
// can drive them; the system implementation unrefs its timers so a pending retry never keeps a
// stopped daemon's process alive.

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  /** Unknown or already-fired handles (and undefined) are ignored. */
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = Object.freeze({
  setTimeout: (fn: () => void, ms: number): unknown => globalThis.setTimeout(fn, ms).unref(),
  clearTimeout: (handle: unknown): void => {
    if (handle !== undefined) globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>);
  },
});
