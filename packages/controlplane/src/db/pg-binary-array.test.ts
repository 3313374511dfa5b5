// Binary uuid[] and timestamptz[] parameters on real Postgres: each array denotes exactly the
// values pg's text form denotes (nulls included), the binary form is used for the values the
// batch writer sends, and a value it cannot carry falls back to the text form, so Postgres
// accepts or refuses it as before.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { postgresErrorCode } from "./postgres-error.js";
import { timestamptzArray, uuidArray } from "./pg-binary-array.js";

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

/** The array's text output (timestamps in UTC), or the SQLSTATE Postgres refused it with. */
async function asText(type: "uuid" | "timestamptz", param: unknown): Promise<string> {
  try {
    return await t.db.transaction().execute(async (trx) => {
      await sql`SET LOCAL TIME ZONE 'UTC'`.execute(trx);
      const r = await sql<{ v: string }>`SELECT ${param}::${sql.raw(type)}[]::text AS v`.execute(trx);
      return r.rows[0]!.v;
    });
  } catch (err) {
    return `SQLSTATE ${postgresErrorCode(err)}`;
  }
}

const cases: { name: string; type: "uuid" | "timestamptz"; values: unknown[]; binary: boolean; want: string }[] = [
  {
    name: "UUIDs, with a null",
    type: "uuid",
    values: ["0b1e7c1a-3f4e-4c5d-9e8f-0123456789ab", null, "ffffffff-ffff-ffff-ffff-ffffffffffff", "00000000-0000-0000-0000-000000000000"],
    binary: true,
    want: "{0b1e7c1a-3f4e-4c5d-9e8f-0123456789ab,NULL,ffffffff-ffff-ffff-ffff-ffffffffffff,00000000-0000-0000-0000-000000000000}",
  },
  { name: "upper-case UUID", type: "uuid", values: ["0B1E7C1A-3F4E-4C5D-9E8F-0123456789AB"], binary: true, want: "{0b1e7c1a-3f4e-4c5d-9e8f-0123456789ab}" },
  { name: "a UUID in another form falls back to text", type: "uuid", values: ["0b1e7c1a-3f4e-4c5d-9e8f-0123456789ab", "{0b1e7c1a3f4e4c5d9e8f0123456789ab}"], binary: false, want: "{0b1e7c1a-3f4e-4c5d-9e8f-0123456789ab,0b1e7c1a-3f4e-4c5d-9e8f-0123456789ab}" },
  { name: "not a UUID is refused as before", type: "uuid", values: ["0b1e7c1a-3f4e-4c5d-9e8f-0123456789ag"], binary: false, want: "SQLSTATE 22P02" },
  { name: "misplaced hyphen is refused as before", type: "uuid", values: ["0b1e7c1a3-f4e-4c5d-9e8f-0123456789ab"], binary: false, want: "SQLSTATE 22P02" },
  { name: "a digit where a hyphen belongs is refused as before", type: "uuid", values: ["0b1e7c1aa3f4e-4c5d-9e8f-0123456789ab"], binary: false, want: "SQLSTATE 22P02" },
  {
    name: "timestamps around both epochs, with a null",
    type: "timestamptz",
    values: [new Date("2026-12-01T10:00:00.123Z"), null, new Date("2000-01-01T00:00:00Z"), new Date("1999-12-31T23:59:59.999Z"), new Date("1969-07-20T20:17:40.001Z")],
    binary: true,
    want: '{"2026-12-01 10:00:00.123+00",NULL,"2000-01-01 00:00:00+00","1999-12-31 23:59:59.999+00","1969-07-20 20:17:40.001+00"}',
  },
  { name: "year 2250", type: "timestamptz", values: [new Date("2250-06-30T12:00:00.5Z")], binary: true, want: '{"2250-06-30 12:00:00.5+00"}' },
  { name: "beyond 2^53 µs from 2000 falls back to text", type: "timestamptz", values: [new Date("9999-12-31T23:59:59.999Z")], binary: false, want: '{"9999-12-31 23:59:59.999+00"}' },
  { name: "a year Postgres cannot store is refused as before", type: "timestamptz", values: [new Date(-8_000_000_000_000_000)], binary: false, want: "SQLSTATE 22008" },
  { name: "an invalid Date is refused as before", type: "timestamptz", values: [new Date(Number.NaN)], binary: false, want: "SQLSTATE 22007" },
];

describe("binary array parameters", () => {
  for (const c of cases) {
    it(c.name, async () => {
      const param = c.type === "uuid" ? uuidArray(c.values) : timestamptzArray(c.values);
      assert.equal(Buffer.isBuffer(param), c.binary, "binary form used");
      const text = await asText(c.type, c.values); // what pg's own text form gives
      assert.equal(await asText(c.type, param), text);
      assert.equal(text, c.want);
    });
  }
});
