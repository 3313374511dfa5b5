// Strict RFC 3339 timestamps ("2026-01-02T15:04:05.123456Z", "...+02:00"). Date.parse alone
// accepts far more (and rolls 2026-02-30 over into March), so the fields are checked here.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

export interface ParsedTimestamp {
  /** Millisecond precision. */
  readonly date: Date;
  /** The input normalised for Postgres (upper-case T and Z), keeping sub-millisecond digits. */
  readonly text: string;
}

export function parseRfc3339(text: string): ParsedTimestamp | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day > daysInMonth) return undefined;
  const offset = m[8]!;
  if (offset.length === 6 && (Number(offset.slice(1, 3)) > 23 || Number(offset.slice(4, 6)) > 59)) return undefined;
  const normalised = `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ""}${offset.toUpperCase()}`;
  const date = new Date(normalised);
  if (Number.isNaN(date.getTime())) return undefined;
  return { date, text: normalised };
}
