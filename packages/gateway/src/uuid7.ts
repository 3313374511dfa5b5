// Time-ordered ids (UUID version 7, RFC 9562 §5.7) for interceptions and their records. The control
// plane keys its tables on these ids and indexes children by interception id, all B-trees: random
// (version 4) keys land each on a random leaf, so every insert dirties a different page (and the
// first change to a page after a checkpoint writes the whole page to the WAL), and once a table
// outgrows memory each insert reads a page from disk. Ids that grow with time all go to the
// rightmost leaves. They reveal when they were made — which whoever sees an interception id
// already knows — and keep 74 random bits, so they are as unguessable as before.
import { randomFillSync } from "node:crypto";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Random bytes per id: 4 bits of rand_a are fixed by the version, 2 of rand_b by the variant. */
const RANDOM_BYTES = 10;
/** Ids served from one fill of the pool: one getrandom call per 256 ids, not per id. */
const POOL_IDS = 256;
const pool = Buffer.alloc(RANDOM_BYTES * POOL_IDS);
let nextId = POOL_IDS;

/**
 * A new version 7 UUID stamped `nowMs` (Unix ms; default the system clock), lower-case. Callers
 * that already read the clock pass that reading: the id then carries its record's own time.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  if (nextId === POOL_IDS) {
    randomFillSync(pool);
    nextId = 0;
  }
  const r = nextId++ * RANDOM_BYTES;
  // 48-bit big-endian millisecond timestamp: 12 hex digits (a clock outside that range is clamped).
  const ms = Number.isFinite(nowMs) ? Math.min(Math.max(0, Math.trunc(nowMs)), 0xffff_ffff_ffff) : 0;
  const time = ms.toString(16).padStart(12, "0");
  const p = pool;
  return (
    `${time.slice(0, 8)}-${time.slice(8)}-` +
    HEX[0x70 | (p[r]! & 0x0f)]! + HEX[p[r + 1]!]! + "-" +
    HEX[0x80 | (p[r + 2]! & 0x3f)]! + HEX[p[r + 3]!]! + "-" +
    HEX[p[r + 4]!]! + HEX[p[r + 5]!]! + HEX[p[r + 6]!]! + HEX[p[r + 7]!]! + HEX[p[r + 8]!]! + HEX[p[r + 9]!]!
  );
}
