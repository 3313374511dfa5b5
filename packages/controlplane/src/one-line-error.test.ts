import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EmbeddedPostgresRootError } from "./db/embedded-postgres.js";
import { oneLineError } from "./one-line-error.js";

describe("oneLineError", () => {
  it("joins causes on one line", () => {
    const err = new Error("migrate to latest", { cause: new Error("connect ECONNREFUSED\n127.0.0.1:5432") });
    assert.equal(oneLineError(err), "migrate to latest: connect ECONNREFUSED 127.0.0.1:5432");
  });
  it("keeps the embedded-Postgres-as-root message as it is", () => {
    const err = new EmbeddedPostgresRootError();
    assert.equal(oneLineError(err), err.message);
    assert.ok(!err.message.includes("\n"));
  });
  it("stops at five causes and at a cause that is not an Error", () => {
    let err: unknown = "root";
    for (let i = 6; i >= 1; i--) err = new Error(`e${i}`, { cause: err });
    assert.equal(oneLineError(err), "e1: e2: e3: e4: e5");
    assert.equal(oneLineError(new Error("a", { cause: "b" })), "a: b");
  });
});
