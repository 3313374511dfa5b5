// Strict RFC 3339 parsing and the interceptions cursor round trip (microseconds kept).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { OFFSET_RANGE_DETAIL, RFC3339_DETAIL, YEAR_ZERO_DETAIL, checkRfc3339, microsecondCeiling, parseRfc3339 } from "./rfc3339.js";

describe("parseRfc3339", () => {
  const cases = [
    { text: "2026-01-02T15:04:05Z", want: "2026-01-02T15:04:05Z" },
    { text: "2026-01-02t15:04:05.123456z", want: "2026-01-02T15:04:05.123456Z" },
    { text: "2026-01-02 15:04:05+02:00", want: "2026-01-02T15:04:05+02:00" },
    { text: "2024-02-29T00:00:00Z", want: "2024-02-29T00:00:00Z" },
    { text: "2026-02-29T00:00:00Z", want: undefined },
    { text: "2026-02-30T00:00:00Z", want: undefined },
    { text: "2026-13-01T00:00:00Z", want: undefined },
    { text: "2026-01-02T24:00:00Z", want: undefined },
    { text: "2026-01-02T15:04:05", want: undefined },
    { text: "2026-01-02", want: undefined },
    { text: "2026-01-02T15:04:05+24:00", want: undefined },
    { text: "yesterday", want: undefined },
    { text: "0001-01-01T00:00:00+15:59", want: "0001-01-01T00:00:00+15:59" },
    { text: "9999-12-31T23:59:59.123456789-15:59", want: "9999-12-31T23:59:59.123456789-15:59" },
    { text: "0000-01-01T00:00:00Z", want: undefined },
    { text: "2026-01-02T15:04:05+16:00", want: undefined },
    { text: "2026-01-02T15:04:05-23:59", want: undefined },
    { text: "2026-12-31T23:59:60Z", want: undefined },
    { text: "2026-01-02T15:04:05.1234567890Z", want: undefined },
  ];
  for (const c of cases) {
    it(`${c.text} → ${c.want ?? "refused"}`, () => assert.equal(parseRfc3339(c.text)?.text, c.want));
  }
});

describe("checkRfc3339", () => {
  // What PostgreSQL's timestamptz refuses gets its own detail.
  const cases = [
    { text: "0000-06-01T00:00:00+02:00", detail: YEAR_ZERO_DETAIL },
    { text: "2026-01-02T15:04:05+16:00", detail: OFFSET_RANGE_DETAIL },
    { text: "2026-01-02T15:04:05-16:00", detail: OFFSET_RANGE_DETAIL },
    { text: "2026-01-02T15:04:05+24:00", detail: RFC3339_DETAIL },
    { text: "2026-02-30T00:00:00Z", detail: RFC3339_DETAIL },
  ];
  for (const c of cases) {
    it(`${c.text} → ${c.detail}`, () => assert.deepEqual(checkRfc3339(c.text), { ok: false, detail: c.detail }));
  }
});

describe("cursor", () => {
  it("round-trips a microsecond position", () => {
    const position = { startedAt: "2026-04-01T00:00:10.000001Z", id: randomUUID() };
    assert.deepEqual(decodeCursor(encodeCursor(position)), position);
  });
  const bad = ["", "!!!", Buffer.from("[1]").toString("base64url"), Buffer.from('{"started_at":"x","id":"y"}').toString("base64url"), "a".repeat(300)];
  for (const text of bad) it(`refuses ${JSON.stringify(text.slice(0, 20))}`, () => assert.equal(decodeCursor(text), undefined));
});

describe("microsecondCeiling", () => {
  const cases = [
    { text: "2026-12-06T04:04:05Z", want: "2026-12-06T04:04:05Z" },
    { text: "2026-12-06T04:04:05.494Z", want: "2026-12-06T04:04:05.494Z" },
    { text: "2026-12-06T04:04:05.494000Z", want: "2026-12-06T04:04:05.494000Z" },
    { text: "2026-12-06T04:04:05.494000000Z", want: "2026-12-06T04:04:05.494000Z" },
    { text: "2026-12-06T04:04:05.4940001Z", want: "2026-12-06T04:04:05.494001Z" },
    { text: "2026-12-06T04:04:05.494999999Z", want: "2026-12-06T04:04:05.495000Z" },
    // The carry crosses the second, the day and the offset: the result is in UTC.
    { text: "2026-12-31T23:59:59.9999991Z", want: "2027-01-01T00:00:00.000000Z" },
    { text: "2026-12-06T06:04:05.1234561+02:00", want: "2026-12-06T04:04:05.123457Z" },
    // Before 1970 (a negative epoch count) and in year 1.
    { text: "1969-07-20T20:17:40.0000001Z", want: "1969-07-20T20:17:40.000001Z" },
    { text: "1969-12-31T23:59:59.9999991Z", want: "1970-01-01T00:00:00.000000Z" },
    { text: "0001-01-01T00:00:00.0000001Z", want: "0001-01-01T00:00:00.000001Z" },
    // Before year 1 in UTC there is no ISO text PostgreSQL takes: cut instead.
    { text: "0001-01-01T00:00:00.0000001+01:00", want: "0001-01-01T00:00:00.000000+01:00" },
  ];
  for (const c of cases) {
    it(`${c.text} → ${c.want}`, () => assert.equal(microsecondCeiling(parseRfc3339(c.text)!), c.want));
  }
});
