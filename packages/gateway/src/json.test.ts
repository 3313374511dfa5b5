// Pins the key scan stream observers use to skip parsing: a key is found at any depth with a
// non-null value, whatever the spacing, and never inside a string value.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hasNonNullKey, jsonShapeProblem } from "./json.js";

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

describe("jsonShapeProblem", () => {
  const depth = (maxDepth: number) => ({ maxDepth, maxContainers: 1_000_000, maxValues: 1_000_000, maxMembers: 1_000_000 });
  const nests = (bytes: Buffer, maxDepth: number) => jsonShapeProblem(bytes, depth(maxDepth)) !== undefined;
  const nested = (levels: number) => Buffer.from(`${'{"a":['.repeat(levels)}1${"]}".repeat(levels)}`);

  it("counts arrays and objects, not brackets inside strings, escaped quotes included", () => {
    assert.equal(nests(nested(5), 10), false); // depth 10
    assert.equal(jsonShapeProblem(nested(6), depth(10)), "the body nests deeper than 10 levels"); // depth 12
    const inStrings = Buffer.from(JSON.stringify({ text: "[".repeat(100), quoted: '\\"{{{{{{{{{{{{', more: "\\\\" }));
    assert.equal(nests(inStrings, 3), false);
    assert.equal(nests(Buffer.from(`[[["\\"]]]", [[[[1]]]]]`), 3), true);
  });

  it("bounds how many objects and arrays, and how many values, a body holds", () => {
    const limits = { maxDepth: 512, maxContainers: 1000, maxValues: 5000, maxMembers: 3000 };
    assert.equal(jsonShapeProblem(Buffer.from(`[${Array(1000).fill("{}").join(",")}]`), limits), "the body has more than 1000 objects and arrays");
    assert.equal(jsonShapeProblem(Buffer.from(`[${Array(999).fill("{}").join(",")}]`), limits), undefined);
    assert.equal(jsonShapeProblem(Buffer.from(`[${Array(5002).fill("1").join(",")}]`), limits), "the body has more than 5000 values");
    // Commas and colons inside strings are text.
    assert.equal(jsonShapeProblem(Buffer.from(JSON.stringify({ text: ",:".repeat(20_000) })), limits), undefined);
    const members = (n: number) => Buffer.from(JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))));
    assert.equal(jsonShapeProblem(members(3001), limits), "the body has more than 3000 object members");
    assert.equal(jsonShapeProblem(members(3000), limits), undefined);
  });

  it("stops at the first bound exceeded: of a body nested millions deep it reads only the first levels", () => {
    const body = Buffer.from("[".repeat(8_000_000));
    let furthest = -1;
    const watched = new Proxy(body, {
      get(target, prop) {
        if (typeof prop === "string" && /^\d+$/.test(prop)) furthest = Math.max(furthest, Number(prop));
        const value = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    assert.equal(nests(watched, 512), true);
    assert.equal(furthest, 512);
  });
});
