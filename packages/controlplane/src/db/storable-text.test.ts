// storableText and storableJsonText: every NUL becomes U+FFFD (raw, or escaped in JSON text, but
// not an escaped backslash followed by "u0000"), text without NUL comes back as the very same
// string, and Postgres stores what they return (text and jsonb) where it refuses the input.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { sql } from "kysely";
import { createTestDatabase, type TestDatabase } from "../testing/index.js";
import { postgresErrorCode } from "./postgres-error.js";
import { storableJson, storableJsonText, storableText } from "./storable-text.js";

describe("storableText", () => {
  const cases: [name: string, input: string, want: string][] = [
    ["one NUL", "a\u0000b", "a\uFFFDb"],
    ["NULs at both ends and in a row", "\u0000a\u0000\u0000b\u0000", "\uFFFDa\uFFFD\uFFFDb\uFFFD"],
    ["only a NUL", "\u0000", "\uFFFD"],
    ["the JSON escape is text, not a NUL", "\\u0000", "\\u0000"],
    ["non-ASCII around a NUL", "naïve\u0000😀", "naïve\uFFFD😀"],
  ];
  for (const [name, input, want] of cases) it(name, () => assert.equal(storableText(input), want));

  it("returns text without NUL as the very same string, and null as null", () => {
    const text = "no nul here, ünïcödé 😀".repeat(100);
    assert.equal(storableText(text), text);
    assert.equal(storableText(""), "");
    assert.equal(storableText(null), null);
  });
});

describe("storableJsonText", () => {
  const cases: [name: string, input: string, want: string][] = [
    ["an escaped NUL in a value", '{"a":"x\\u0000y"}', '{"a":"x\uFFFDy"}'],
    ["an escaped NUL in a key", '{"k\\u0000":1}', '{"k\uFFFD":1}'],
    ["escaped NULs at any depth", '{"a":[{"b\\u0000":["\\u0000\\u0000"]}]}', '{"a":[{"b\uFFFD":["\uFFFD\uFFFD"]}]}'],
    ["an escaped backslash then u0000 is not a NUL", '{"a":"\\\\u0000"}', '{"a":"\\\\u0000"}'],
    ["an escaped backslash then an escaped NUL", '{"a":"\\\\\\u0000"}', '{"a":"\\\\\uFFFD"}'],
    ["two escaped backslashes then u0000", '{"a":"\\\\\\\\u0000"}', '{"a":"\\\\\\\\u0000"}'],
    ["a non-NUL escape is kept", '{"a":"\\u0001\\u00001"}', '{"a":"\\u0001\uFFFD1"}'],
    ["a raw NUL", '{"a":"x\u0000"}', '{"a":"x\uFFFD"}'],
    ["a raw NUL and an escaped one", '{"a\u0000":"\\u0000"}', '{"a\uFFFD":"\uFFFD"}'],
  ];
  for (const [name, input, want] of cases) it(name, () => assert.equal(storableJsonText(input), want));

  it("returns JSON text without NUL as the very same string", () => {
    const json = JSON.stringify({ a: "\\u0000", b: ["x", 1, null], "ü😀": "\\\\u0000" });
    assert.equal(storableJsonText(json), json);
  });

  it("storableJson: JSON.stringify's escaped NULs, in keys and values at any depth", () => {
    assert.equal(storableJson({ "k\u0000": { v: ["\u0000", "\\u0000"] } }), '{"k\uFFFD":{"v":["\uFFFD","\\\\u0000"]}}');
    assert.deepEqual(JSON.parse(storableJson({ "k\u0000": { v: ["\u0000", "\\u0000"] } })), { "k\uFFFD": { v: ["\uFFFD", "\\u0000"] } });
  });
});

describe("Postgres stores what they return", () => {
  let t: TestDatabase;
  before(async () => {
    t = await createTestDatabase();
  });
  after(async () => {
    await t?.drop();
  });

  /** The value Postgres stores for `param` as `type`, or the SQLSTATE it refused it with. */
  async function stored(type: "text" | "jsonb", param: string): Promise<unknown> {
    try {
      const r = await sql<{ v: unknown }>`SELECT ${param}::${sql.raw(type)} AS v`.execute(t.db);
      return r.rows[0]!.v;
    } catch (err) {
      return `SQLSTATE ${postgresErrorCode(err)}`;
    }
  }

  it("text", async () => {
    assert.equal(await stored("text", "a\u0000b"), "SQLSTATE 22021");
    assert.equal(await stored("text", storableText("a\u0000b")), "a\uFFFDb");
  });

  it("jsonb", async () => {
    const value = { "k\u0000": { v: ["\u0000", "\\u0000", "\\\u0000"] } };
    assert.equal(await stored("jsonb", JSON.stringify(value)), "SQLSTATE 22P05");
    assert.deepEqual(await stored("jsonb", storableJson(value)), { "k\uFFFD": { v: ["\uFFFD", "\\u0000", "\\\uFFFD"] } });
    assert.deepEqual(await stored("jsonb", storableJsonText('{"a\u0000":"\\u0000"}')), { "a\uFFFD": "\uFFFD" });
  });
});
