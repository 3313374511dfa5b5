import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gatewayKeyPrefix } from "./gateway-key.js";

describe("gatewayKeyPrefix", () => {
  it("logs a key's public prefix, and at most a quarter of a string too short to be a key", () => {
    assert.equal(gatewayKeyPrefix("weirgw_abcd" + "x".repeat(32)), "weirgw_abcd");
    assert.equal(gatewayKeyPrefix("short-secret-1234"), "shor");
    assert.equal(gatewayKeyPrefix("abc"), "");
  });
});
