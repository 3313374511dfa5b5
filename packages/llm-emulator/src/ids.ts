import { randomBytes } from 'node:crypto';

// A random tag per process keeps ids unique across emulator processes while the
// counter keeps them cheap (no per-request randomness) and readable.
const PROCESS_TAG = randomBytes(5).toString('hex');
let counter = 0;

/** Returns a unique id such as `chatcmpl-3f9a1c0b2e000000000001`. */
export function newId(prefix: string): string {
  counter += 1;
  return prefix + PROCESS_TAG + counter.toString(36).padStart(12, '0');
}
