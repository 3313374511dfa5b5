// Time-ordered ids (UUID version 7, RFC 9562 §5.7) for interceptions and their records. The control
// plane keys its tables on these ids and indexes children by interception id, all B-trees: random
// (version 4) keys land each on a random leaf, so every insert dirties a different page (and the
// first change to a page after a checkpoint writes the whole page to the WAL), and once a table
// outgrows memory each insert reads a page from disk. Ids that grow with time all go to the
// rightmost leaves. They reveal when they were made — which whoever sees an interception id
// already knows — and keep 62 random bits, so they are as unguessable as before.
//
// Within one process they also strictly increase (RFC 9562 §6.2, method 1: the 12 bits of
// rand_a are a counter, started at a random value below 2048 each new millisecond). An
// interception's tool calls and thoughts are stamped with the same millisecond, and the control
// plane lists them by (time, id): with random bits there, parallel tool calls and a reasoning
// summary's parts came back shuffled.
import { randomFillSync } from "node:crypto";

/** Lower-case hex digits as ASCII bytes. */
const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1");
/**
 * The id is written here as ASCII and read out as one string: built by concatenating its 16
 * pieces it cost about 330 bytes of garbage, five ids per request (5 % of what a request
 * allocates, measured with a sampling heap profile under load).
 */
const text = Buffer.from("00000000-0000-0000-0000-000000000000", "latin1");

/** Random bytes per id: 2 seed a new millisecond's counter, 8 fill rand_b (2 bits are the variant). */
const RANDOM_BYTES = 10;
/** Ids served from one fill of the pool: one getrandom call per 256 ids, not per id. */
const POOL_IDS = 256;
const pool = Buffer.alloc(RANDOM_BYTES * POOL_IDS);
let nextId = POOL_IDS;
const MAX_MS = 0xffff_ffff_ffff;
/**
 * A clock stepped back further than this (or a test's fake clock) starts afresh instead of
 * stamping later ids with the old time until the clock catches up.
 */
const MAX_STEP_BACK_MS = 10_000;
/** The millisecond and counter of the last id made: the next one is greater. */
let lastMs = -1;
let counter = 0;

/**
 * A new version 7 UUID stamped `nowMs` (Unix ms; default the system clock), lower-case. Callers
 * that already read the clock pass that reading: the id then carries its record's own time. An
 * id asked for with an earlier time than the last one (a clock stepped back by up to 10 s)
 * carries the last one's time, so ids do not go backwards.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  if (nextId === POOL_IDS) {
    randomFillSync(pool);
    nextId = 0;
  }
  const r = nextId++ * RANDOM_BYTES;
  const p = pool;
  // 48-bit millisecond timestamp (a clock outside that range is clamped).
  let ms = Number.isFinite(nowMs) ? Math.min(Math.max(0, Math.trunc(nowMs)), MAX_MS) : 0;
  if (ms > lastMs || lastMs - ms > MAX_STEP_BACK_MS) {
    counter = ((p[r]! & 0x07) << 8) | p[r + 1]!;
  } else if (counter < 0xfff) {
    ms = lastMs;
    counter++;
  } else {
    // 4,096 ids in one millisecond: borrow the next one (§6.2 lets the timestamp run ahead).
    ms = Math.min(lastMs + 1, MAX_MS);
    counter = 0;
  }
  lastMs = ms;
  // 48-bit timestamp: the high 16 bits, then the low 32 (>>> 0 is ms modulo 2^32, exact here).
  const high = Math.floor(ms / 0x1_0000_0000);
  const low = ms >>> 0;
  hex(0, high >>> 8);
  hex(2, high & 0xff);
  hex(4, low >>> 24);
  hex(6, (low >>> 16) & 0xff);
  hex(9, (low >>> 8) & 0xff);
  hex(11, low & 0xff);
  hex(14, 0x70 | (counter >> 8));
  hex(16, counter & 0xff);
  hex(19, 0x80 | (p[r + 2]! & 0x3f));
  hex(21, p[r + 3]!);
  for (let i = 0; i < 6; i++) hex(24 + 2 * i, p[r + 4 + i]!);
  return text.toString("latin1", 0, 36);
}

/** Writes `byte` as two hex digits at `at` of the id's text. */
function hex(at: number, byte: number): void {
  text[at] = HEX_DIGITS[byte >> 4]!;
  text[at + 1] = HEX_DIGITS[byte & 0x0f]!;
}
