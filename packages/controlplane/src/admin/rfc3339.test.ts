// Strict RFC 3339 parsing and the interceptions cursor round trip (microseconds kept).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { decodeCursor, encodeCursor } from "./cursor.js";
import { parseRfc3339 } from "./rfc3339.js";

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
  ];
  for (const c of cases) {
    it(`${c.text} → ${c.want ?? "refused"}`, () => assert.equal(parseRfc3339(c.text)?.text, c.want));
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
