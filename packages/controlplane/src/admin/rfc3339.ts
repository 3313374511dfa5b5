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
