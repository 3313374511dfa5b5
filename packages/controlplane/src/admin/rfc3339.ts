// Strict RFC 3339 timestamps ("2026-01-02T15:04:05.123456Z", "...+02:00"). Date.parse alone
// accepts far more (and rolls 2026-02-30 over into March), so the fields are checked here.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

export interface ParsedTimestamp {
  /** Millisecond precision. */
  readonly date: Date;
  /** The input normalised for Postgres (upper-case T and Z), keeping sub-millisecond digits. */
  readonly text: string;
}

/** The detail of a refused timestamp that is not RFC 3339 at all. */
export const RFC3339_DETAIL = "Must be an RFC 3339 timestamp, e.g. 2026-01-02T15:04:05Z.";

/**
 * Timestamps are compared in PostgreSQL as `timestamptz`, which refuses some RFC 3339 text:
 * there is no year 0000 (1 BC comes before 0001) and UTC offsets stop at ±15:59. Those are
 * refused here with their own detail rather than failing in SQL (a 500).
 */
export const YEAR_ZERO_DETAIL = "Must be an RFC 3339 timestamp in year 0001 or later.";
export const OFFSET_RANGE_DETAIL = "Must be an RFC 3339 timestamp with a UTC offset from -15:59 to +15:59.";
const MAX_OFFSET_HOURS = 15;

/** A parsed timestamp, or why `text` is refused (a validation detail). */
export type Rfc3339Check = { readonly ok: true; readonly value: ParsedTimestamp } | { readonly ok: false; readonly detail: string };

export function checkRfc3339(text: string): Rfc3339Check {
  const refused = (detail: string = RFC3339_DETAIL): Rfc3339Check => ({ ok: false, detail });
  const m = RFC3339.exec(text);
  if (!m) return refused();
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return refused();
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return refused();
  const offset = m[8]!;
  if (offset.length === 6 && (Number(offset.slice(1, 3)) > 23 || Number(offset.slice(4, 6)) > 59)) return refused();
  if (year === 0) return refused(YEAR_ZERO_DETAIL);
  if (offset.length === 6 && Number(offset.slice(1, 3)) > MAX_OFFSET_HOURS) return refused(OFFSET_RANGE_DETAIL);
  const normalised = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ""}${offset.toUpperCase()}`;
  const date = new Date(normalised);
  if (Number.isNaN(date.getTime())) return refused();
  return { ok: true, value: { date, text: normalised } };
}

/** The parsed timestamp, or undefined when checkRfc3339 refuses `text`. */
export function parseRfc3339(text: string): ParsedTimestamp | undefined {
  const checked = checkRfc3339(text);
  return checked.ok ? checked.value : undefined;
}

/**
 * `value`'s text to the microsecond, rounded *up* when it has more digits (7 to 9, as Go's
 * RFC3339Nano writes): PostgreSQL's timestamptz keeps microseconds and rounds to the nearest,
 * which turned 05.4940001 into 05.494000, so an interception started at 05.494000 passed an
 * inclusive lower bound it is before, and failed an exclusive upper bound it is before. Rounded
 * up, both bounds mean what they say. Exact at 6 digits or fewer: the text as it is.
 */
export function microsecondCeiling(value: ParsedTimestamp): string {
  const m = /\.(\d{7,9})(?=[Z+-])/.exec(value.text);
  if (m === null) return value.text;
  const digits = m[1]!;
  const exact = /^0*$/.test(digits.slice(6));
  const cut = value.text.replace(m[0], `.${digits.slice(0, 6)}`);
  if (exact) return cut;
  // value.date holds the milliseconds (offset applied); the next microsecond, in UTC, carried
  // into the milliseconds at 1000 (no division: before 1970 the epoch count is negative).
  let ms = value.date.getTime();
  let us = Number(digits.slice(3, 6)) + 1;
  if (us === 1000) {
    ms += 1;
    us = 0;
  }
  const iso = new Date(ms).toISOString();
  // Before year 1 in UTC (0001-01-01T00:00:00.0000001+01:00): no ISO text PostgreSQL takes; cut.
  if (!/^\d{4}-/.test(iso) || iso.startsWith("0000")) return cut;
  return `${iso.slice(0, -1)}${String(us).padStart(3, "0")}Z`;
}