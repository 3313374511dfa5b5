// Pins the key scan stream observers use to skip parsing: a key is found at any depth with a
// non-null value, whatever the spacing, and never inside a string value.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hasNonNullKey, jsonNestsDeeperThan } from "./json.js";

describe("hasNonNullKey", () => {
  const cases = [
    { name: "compact key with an object", text: '{"usage":{"a":1}}', want: true },
    { name: "spaces and newlines around the colon", text: '{"usage" :\n {"a":1}}', want: true },
    { name: "nested key", text: '{"choices":[{"delta":{"tool_calls":[]}}]}', key: "tool_calls", want: true },
    { name: "null value", text: '{"usage":null}', want: false },
    { name: "null with spaces", text: '{"usage" : null}', want: false },
    { name: "absent", text: '{"id":"x"}', want: false },
    { name: "as a string value", text: '{"content":"usage"}', want: false },
    { name: "quoted inside a string value", text: '{"content":"say \\"usage\\":{1}"}', want: false },
    { name: "a null one, then a real one", text: '{"a":{"usage":null},"usage":0}', want: true },
    { name: "false is a value", text: '{"usage":false}', want: true },
  ];
  for (const c of cases) it(c.name, () => assert.equal(hasNonNullKey(c.text, c.key ?? "usage"), c.want));
});

describe("jsonNestsDeeperThan", () => {
  const nested = (depth: number) => Buffer.from(`${'{"a":['.repeat(depth)}1${"]}".repeat(depth)}`);
  it("counts arrays and objects, not brackets inside strings, escaped quotes included", () => {
    assert.equal(jsonNestsDeeperThan(nested(5), 10), false); // depth 10
    assert.equal(jsonNestsDeeperThan(nested(6), 10), true); // depth 12
    const inStrings = Buffer.from(JSON.stringify({ text: "[".repeat(100), quoted: '\\"{{{{{{{{{{{{', more: "\\\\" }));
    assert.equal(jsonNestsDeeperThan(inStrings, 3), false);
    assert.equal(jsonNestsDeeperThan(Buffer.from(`[[["\\"]]]", [[[[1]]]]]`), 3), true);
  });

  it("stops at the limit: of a body nested millions deep it reads only the first levels", () => {
    const body = Buffer.from("[".repeat(8_000_000));
    let furthest = -1;
    const watched = new Proxy(body, {
      get(target, prop) {
        if (typeof prop === "string" && /^\d+$/.test(prop)) furthest = Math.max(furthest, Number(prop));
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    assert.equal(jsonNestsDeeperThan(watched, 512), true);
    assert.equal(furthest, 512);
  });
});
