// uuid[] and timestamptz[] parameters in Postgres' binary array format (array_recv); pg sends a
// Buffer parameter as binary. These columns are most of a record batch's parameters, and their
// text forms are the costly ones: pg formats every Date field by field, Postgres parses every
// UUID and timestamp. A value the binary form would not carry exactly (not a canonical UUID, not
// a Date within ±2^53 µs of 2000-01-01) sends the whole array in pg's text form instead, so
// Postgres judges such a value exactly as before.

const UUID_OID = 2950;
const TIMESTAMPTZ_OID = 1184;
/** Dimensions, has-nulls flag, element type; then size and lower bound of the one dimension. */
const HEADER_BYTES = 20;

/** Binary arrays of fixed-width elements; undefined when `write` refuses a value. */
function fixedWidthArray(values: readonly unknown[], oid: number, width: number, write: (buf: Buffer, offset: number, value: unknown) => boolean): Buffer | undefined {
  let nulls = 0;
  for (const v of values) if (v === null || v === undefined) nulls++;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + 4 * values.length + width * (values.length - nulls));
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(nulls > 0 ? 1 : 0, 4);
  buf.writeInt32BE(oid, 8);
  buf.writeInt32BE(values.length, 12);
  buf.writeInt32BE(1, 16);
  let offset = HEADER_BYTES;
  for (const v of values) {
    if (v === null || v === undefined) {
      offset = buf.writeInt32BE(-1, offset);
      continue;
    }
    offset = buf.writeInt32BE(width, offset);
    if (!write(buf, offset, v)) return undefined;
    offset += width;
  }
  return buf;
}

const HEX = new Int8Array(128).fill(-1);
for (const [i, c] of [..."0123456789abcdef"].entries()) {
  HEX[c.charCodeAt(0)] = i;
  HEX[c.toUpperCase().charCodeAt(0)] = i;
}

/** xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, in either case. */
function writeUuid(buf: Buffer, offset: number, value: unknown): boolean {
  if (typeof value !== "string" || value.length !== 36) return false;
  for (let i = 0; i < 36; i += 2) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (value.charCodeAt(i) !== 0x2d) return false;
      i++;
    }
    const hi = HEX[value.charCodeAt(i)] ?? -1;
    const lo = HEX[value.charCodeAt(i + 1)] ?? -1;
    if (hi < 0 || lo < 0) return false;
    buf[offset++] = (hi << 4) | lo;
  }
  return true;
}

const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);
const TWO_32 = 2 ** 32;

/** Microseconds since 2000-01-01 UTC, as an int8. */
function writeTimestamp(buf: Buffer, offset: number, value: unknown): boolean {
  if (!(value instanceof Date)) return false;
  const us = (value.getTime() - POSTGRES_EPOCH_MS) * 1000;
  if (!Number.isSafeInteger(us)) return false;
  const hi = Math.floor(us / TWO_32);
  buf.writeInt32BE(hi, offset);
  buf.writeUInt32BE(us - hi * TWO_32, offset + 4);
  return true;
}

/** A uuid[] parameter: binary, or `values` as they are when one is not a canonical UUID. */
export function uuidArray(values: readonly unknown[]): Buffer | readonly unknown[] {
  return fixedWidthArray(values, UUID_OID, 16, writeUuid) ?? values;
}

/** A timestamptz[] parameter (Dates): binary, or `values` as they are for pg to format. */
export function timestamptzArray(values: readonly unknown[]): Buffer | readonly unknown[] {
  return fixedWidthArray(values, TIMESTAMPTZ_OID, 8, writeTimestamp) ?? values;
}
