import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compactJson, rawMembersOfElements, rawValueAt, withMemberReplaced } from "./json-raw-values.js";

const inputs = (text: string) => rawMembersOfElements(text, "content", "input");

describe("rawMembersOfElements", () => {
  it("keeps each element's member exactly as written, spaces outside strings removed", () => {
    const text = `{
      "id": "msg_1", "content": [
        {"type": "text", "text": "a \\"quoted\\" {not: json} [x]"},
        {"type": "tool_use", "id": "toolu_1", "input": {"b": 1, "2": 2.50, "n": 12345678901234567890, "s": "two  spaces, \\"q\\" \\\\"}},
        {"type": "tool_use", "input": [1, {"x": [true, null]}]},
        {"type": "tool_use", "input": "str"}, {"input": -1.0e3}
      ], "usage": {"input": 9}}`;
    assert.deepEqual(inputs(text), [
      undefined,
      `{"b":1,"2":2.50,"n":12345678901234567890,"s":"two  spaces, \\"q\\" \\\\"}`,
      `[1,{"x":[true,null]}]`,
      `"str"`,
      `-1.0e3`,
    ]);
  });

  it("takes the last of a repeated key, as JSON.parse does, and reads escaped keys", () => {
    assert.deepEqual(inputs(`{"content":[{"input":1}],"content":[{"input":{"a":1},"input":{"a":2}}]}`), [`{"a":2}`]);
    assert.deepEqual(inputs(`{"cont\\u0065nt":[{"inp\\u0075t":true}]}`), ["true"]);
  });

  it("answers undefined for elements that are not objects or lack the member", () => {
    assert.deepEqual(inputs(`{"content":[null,"input",[{"input":1}],{"type":"text"},{}]}`), [undefined, undefined, undefined, undefined, undefined]);
    assert.deepEqual(inputs(`{"content":[]}`), []);
  });

  it("answers undefined when the text is not an object holding the array", () => {
    assert.equal(inputs(`[{"content":[{"input":1}]}]`), undefined);
    assert.equal(inputs(`{"content":{"input":1}}`), undefined);
    assert.equal(inputs(`{"other":[{"input":1}], "nested": {"content":[{"input":1}]}}`), undefined);
    assert.equal(inputs(`{}`), undefined);
  });

  it("ends on text that is not valid JSON instead of looping", () => {
    for (const bad of [`{"content":[{"input":"unterminated`, `{"content":[{"input":{"a":[1,2`, `{"content":[{input:1}]}`, `{"content`, ``]) {
      assert.doesNotThrow(() => inputs(bad));
    }
  });

  it("agrees with JSON.parse on every value it returns", () => {
    const doc = { content: [{ input: { z: [1, 2, { y: "é ☃ \u2028" }], a: null } }, { type: "x" }, { input: "\\\"" }] };
    const text = JSON.stringify(doc, null, 2);
    const raw = inputs(text)!;
    assert.deepEqual(raw.map((r) => (r === undefined ? undefined : JSON.parse(r))), doc.content.map((c) => ("input" in c ? c.input : undefined)));
  });
});

describe("compactJson", () => {
  it("removes the spaces outside strings and keeps every value as written", () => {
    assert.equal(compactJson('{ "a b": "x \\" y" ,\n\t"n": 12345678901234567890, "f": 2.50, "2": [ 1 , {} ] }'), '{"a b":"x \\" y","n":12345678901234567890,"f":2.50,"2":[1,{}]}');
  });
});

describe("withMemberReplaced", () => {
  it("replaces a top-level member's value and keeps every other byte", () => {
    const text = '{"seed": 9007199254740993, "stream_options" : {"include_usage": false}, "t": 1.0, "x": {"stream_options": 1}}';
    assert.equal(withMemberReplaced(text, "stream_options", '{"include_usage":true}'), '{"seed": 9007199254740993, "stream_options" : {"include_usage":true}, "t": 1.0, "x": {"stream_options": 1}}');
  });

  it("replaces every occurrence of a repeated key, and is undefined without the key or an object", () => {
    assert.equal(withMemberReplaced('{"a":1,"a":[2],"b":"a"}', "a", "3"), '{"a":3,"a":3,"b":"a"}');
    assert.equal(withMemberReplaced('{"b":{"a":1}}', "a", "3"), undefined);
    assert.equal(withMemberReplaced("[1]", "a", "3"), undefined);
  });
});

describe("rawValueAt", () => {
  const text = `{"type": "done", "item": {"id": "sh_1", "action": {"commands": ["ls  -la"], "timeout_ms": 12345678901234567890, "f": 1.50}},
    "response": {"output": [{"action": 1}, {"action": [ 2 , 3 ]}]}}`;

  it("reads the value at a path of keys and indexes as written, spaces outside strings removed", () => {
    assert.equal(rawValueAt(text, ["item", "action"]), `{"commands":["ls  -la"],"timeout_ms":12345678901234567890,"f":1.50}`);
    assert.equal(rawValueAt(text, ["response", "output", 1, "action"]), "[2,3]");
    assert.equal(rawValueAt(text, ["response", "output", 0, "action"]), "1");
    assert.equal(rawValueAt(text, []), compactJson(text));
  });

  it("is undefined where the path leads nowhere", () => {
    for (const path of [["missing"], ["item", "action", "nope"], ["response", "output", 2, "action"], ["response", 0], ["type", "x"]]) {
      assert.equal(rawValueAt(text, path), undefined, JSON.stringify(path));
    }
    for (const bad of [``, `{"item":{"action":"unterminated`, `[`]) assert.doesNotThrow(() => rawValueAt(bad, ["item", "action"]));
  });

  it("takes the last of a repeated key, as JSON.parse does, even when the last lacks the rest of the path", () => {
    assert.equal(rawValueAt(`{"item":{"action":1},"item":{"action":2}}`, ["item", "action"]), "2");
    assert.equal(rawValueAt(`{"item":{"action":1},"item":{}}`, ["item", "action"]), undefined);
  });
});
