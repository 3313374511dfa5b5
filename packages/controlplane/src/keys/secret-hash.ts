// Secrets are stored as sha256 digests and compared in constant time.
import { createHash, timingSafeEqual } from "node:crypto";

export function sha256(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

/** Constant-time equality of two digests (false when lengths differ). */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
