import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isUuid } from "./index.js";

// Pins the id format both daemons accept for "// UUID." fields.
describe("isUuid", () => {
  const cases = [
    { input: "3f2504e0-4f89-11d3-9a0c-0305e82c3301", want: true },
    { input: "3F2504E0-4F89-11D3-9A0C-0305E82C3301", want: true },
    { input: "oops", want: false },
    { input: "", want: false },
    { input: "3f2504e04f8911d39a0c0305e82c3301", want: false },
    { input: " 3f2504e0-4f89-11d3-9a0c-0305e82c3301", want: false },
    { input: "3f2504e0-4f89-11d3-9a0c-0305e82c3301\n", want: false },
    { input: "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", want: false },
    { input: "3f2504e0-4f89-11d3-9a0c-0305e82c330g", want: false },
  ];
  for (const c of cases) it(`${JSON.stringify(c.input)} → ${c.want}`, () => assert.equal(isUuid(c.input), c.want));
});
