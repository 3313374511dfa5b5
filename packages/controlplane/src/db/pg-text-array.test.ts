// The record batch's text-form array parameters are the very literal pg would have built, for
// every kind of value the batch sends (and Postgres reads them back as the values sent); values
// of other kinds are left to pg.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { sql } from "kysely";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { textArrayLiteral } from "./pg-text-array.js";

const pgUtils = createRequire(import.meta.url)("pg/lib/utils.js") as { prepareValue(value: unknown): unknown };

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

const TEXTS = ["", "plain", 'a "quoted" word', "back\\slash", '\\"', "{braces},commas", "NULL", "null", " spaced ", "ünïcødé ✓ 🦫", "line\nbreak\ttab", '{"k":"v\\"q"}'];

describe("textArrayLiteral", () => {
  const cases: { name: string; values: unknown[] }[] = [
    { name: "no values", values: [] },
    { name: "texts that need escaping and texts that do not", values: TEXTS },
    { name: "nulls and undefined among texts", values: [null, "a", undefined, null] },
    { name: "int8 counts as decimal strings", values: ["0", "9007199254740993", "42"] },
    { name: "int4 numbers and nulls", values: [0, -7, 2147483647, null, -0] },
    { name: "booleans", values: [true, false, null] },
  ];
  for (const c of cases) {
    it(`builds pg's literal: ${c.name}`, () => {
      assert.equal(textArrayLiteral(c.values), pgUtils.prepareValue(c.values));
    });
  }

  it("builds pg's literal for random texts", () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = ['"', "\\", ",", "{", "}", " ", "a", "é", "\u0000", "\n", "'"];
    for (let i = 0; i < 200; i++) {
      const values = Array.from({ length: rand(6) }, () => (rand(8) === 0 ? null : Array.from({ length: rand(12) }, () => alphabet[rand(alphabet.length)]).join("")));
      assert.equal(textArrayLiteral(values), pgUtils.prepareValue(values), JSON.stringify(values));
    }
  });

  it("leaves values of other kinds to pg", () => {
    assert.equal(textArrayLiteral(["a", new Date(0)]), undefined);
    assert.equal(textArrayLiteral([{ k: 1 }]), undefined);
    assert.equal(textArrayLiteral([["nested"]]), undefined);
    assert.equal(textArrayLiteral([1n]), undefined);
  });

  it("reads back on Postgres as the values sent", async () => {
    const texts = [...TEXTS, null];
    const r = await sql<{ v: (string | null)[] }>`SELECT ${textArrayLiteral(texts)}::text[] AS v`.execute(t.db);
    assert.deepEqual(r.rows[0]!.v, texts);
    const j = await sql<{ v: unknown }>`SELECT array_to_json(${textArrayLiteral(['{"a":"x\\"y"}', "[1,2]"])}::jsonb[]) AS v`.execute(t.db);
    assert.deepEqual(j.rows[0]!.v, [{ a: 'x"y' }, [1, 2]]);
  });
});
