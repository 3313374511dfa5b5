// Protobuf wire encoding by hand, for the records a gateway makes on every request. The
// reflection-based toBinary of @bufbuild/protobuf costs about 20 µs per record — more than the
// rest of a proxied request — so the few messages on the hot path are written field by field
// here (records.ts), and checked against the generated schema in records.test.ts.
//
// Output is canonical proto3: implicit-presence fields equal to their default are left out,
// explicit-presence (`optional`) fields are written when set, lengths are minimal varints.

import type { JsonValue } from "@bufbuild/protobuf";
import { METADATA_VALUE_TYPE_URL } from "@weir/proto";

const enum WireType {
  Varint = 0,
  Bit64 = 1,
  LengthDelimited = 2,
}


/** Bytes a varint of `n` (a non-negative safe integer) takes. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function safeInteger(value: number): number {
  if (Number.isNaN(value)) return 0;
  return Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.trunc(value)));
}

/**
 * Writes one message into a growable buffer. Nested messages reserve one length byte and move
 * their body when it turns out longer than 127 bytes, so no size pass is needed.
 */
export class WireWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Starts over, keeping the buffer. */
  reset(): this {
    this.pos = 0;
    return this;
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A varint of a non-negative safe integer. */
  private varint(n: number): void {
    this.ensure(10);
    const buf = this.buf;
    while (n >= 128) {
      buf[this.pos++] = (n % 128) | 128;
      n = Math.floor(n / 128);
    }
    buf[this.pos++] = n;
  }

  private tag(field: number, wireType: WireType): void {
    this.varint(field * 8 + wireType);
  }

  /** A proto3 string; "" is the default and is left out. */
  string(field: number, value: string): this {
    if (value !== "") this.stringAlways(field, value);
    return this;
  }

  /** An explicit-presence (`optional`) string: written whenever it is set, "" included. */
  optionalString(field: number, value: string | undefined): this {
    if (value !== undefined) this.stringAlways(field, value);
    return this;
  }

  private stringAlways(field: number, value: string): void {
    this.tag(field, WireType.LengthDelimited);
    // Short ASCII-only strings are common; byteLength is exact for every string.
    const bytes = Buffer.byteLength(value, "utf8");
    this.varint(bytes);
    this.ensure(bytes);
    this.pos += this.buf.write(value, this.pos, bytes, "utf8");
  }

  /**
   * An int64 (or a non-negative int32); 0 is the default and is left out. Fractions are
   * truncated and values beyond ±2^53 clamped, as a number cannot say more.
   */
  int64(field: number, value: number): this {
    const n = Number.isSafeInteger(value) ? value : safeInteger(value);
    if (n === 0) return this;
    this.tag(field, WireType.Varint);
    this.int64Value(n);
    return this;
  }

  private int64Value(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    // Negative: two's complement over 64 bits, always 10 bytes.
    let n = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    while (n >= 128n) {
      this.buf[this.pos++] = Number(n & 127n) | 128;
      n >>= 7n;
    }
    this.buf[this.pos++] = Number(n);
  }

  /** A bool; false is the default and is left out. */
  bool(field: number, value: boolean): this {
    if (value) {
      this.tag(field, WireType.Varint);
      this.varint(1);
    }
    return this;
  }

  private double(field: number, value: number): void {
    this.tag(field, WireType.Bit64);
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(value, this.pos);
  }

  /** A nested message field; always written (an empty message included). */
  message(field: number, write: (w: this) => void): this {
    this.tag(field, WireType.LengthDelimited);
    return this.delimited(write);
  }

  /** A length-prefixed message without a tag (a repeated field's element as raw bytes). */
  delimited(write: (w: this) => void): this {
    this.ensure(1);
    const lengthAt = this.pos;
    this.pos += 1;
    write(this);
    const length = this.pos - lengthAt - 1;
    if (length < 128) {
      this.buf[lengthAt] = length;
      return this;
    }
    const extra = varintSize(length) - 1;
    this.ensure(extra);
    this.buf.copyWithin(lengthAt + 1 + extra, lengthAt + 1, this.pos);
    const end = this.pos + extra;
    this.pos = lengthAt;
    this.varint(length);
    this.pos = end;
    return this;
  }

  /** A google.protobuf.Timestamp field from epoch milliseconds. */
  timestamp(field: number, epochMs: number): this {
    const seconds = Math.floor(epochMs / 1000);
    const nanos = Math.trunc((epochMs - seconds * 1000) * 1_000_000);
    return this.message(field, (w) => w.int64(1, seconds).int64(2, nanos));
  }

  /** A map<string, google.protobuf.Any> field holding google.protobuf.Value entries. */
  valueMap(field: number, values: Readonly<Record<string, JsonValue>>): this {
    for (const key in values) {
      const value = values[key] as JsonValue;
      this.message(field, (entry) => {
        entry.stringAlways(1, key);
        entry.message(2, (any) => {
          any.string(1, METADATA_VALUE_TYPE_URL);
          any.message(2, (v) => v.value(value));
        });
      });
    }
    return this;
  }

  /** The body of a google.protobuf.Value. */
  private value(value: JsonValue): void {
    switch (typeof value) {
      case "number":
        // Value has no representation for NaN or ±Infinity (its JSON form forbids them).
        if (Number.isFinite(value)) this.double(2, value);
        else this.stringAlways(3, `unencodable metadata: ${String(value)} is not a finite number`);
        return;
      case "string":
        this.stringAlways(3, value);
        return;
      case "boolean":
        this.tag(4, WireType.Varint);
        this.varint(value ? 1 : 0);
        return;
      default:
        if (value === null) {
          this.tag(1, WireType.Varint);
          this.varint(0);
        } else if (Array.isArray(value)) {
          this.message(6, (list) => {
            for (const item of value) list.message(1, (v) => v.value(item));
          });
        } else {
          this.message(5, (struct) => {
            for (const key in value) {
              const item = value[key] as JsonValue;
              struct.message(1, (entry) => {
                entry.stringAlways(1, key);
                entry.message(2, (v) => v.value(item));
              });
            }
          });
        }
    }
  }
}

