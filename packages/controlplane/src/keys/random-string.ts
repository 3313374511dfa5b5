// Crypto-random alphanumeric strings without modulo bias: bytes >= 248 (the largest multiple
// of 62 that fits in a byte) are rejected and drawn again.
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LIMIT = 256 - (256 % ALPHABET.length);

/** `length` characters from [0-9A-Za-z], each uniformly distributed. */
export function randomAlphanumeric(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length - out.length + 8)) {
      if (byte < LIMIT) out += ALPHABET[byte % ALPHABET.length];
      if (out.length === length) break;
    }
  }
  return out;
}
