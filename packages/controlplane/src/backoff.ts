// Exponential backoff, the one formula every retry loop of the control plane uses (the LISTEN
// reconnects, start-up waiting for the database, gateway-key usage writes).

/** The delay before retry number `attempt` (1-based): `initialMs` doubling, never above `maxMs`. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(initialMs * 2 ** (attempt - 1), maxMs);
}
