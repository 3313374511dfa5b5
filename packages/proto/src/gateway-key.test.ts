import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gatewayKeyPrefix, hasGatewayKeyShape } from "./gateway-key.js";

describe("gatewayKeyPrefix", () => {
  it("logs a key's public prefix, and at most a quarter of a string too short to be a key", () => {
    assert.equal(gatewayKeyPrefix("weirgw_abcd" + "x".repeat(32)), "weirgw_abcd");
    assert.equal(gatewayKeyPrefix("short-secret-1234"), "shor");
    assert.equal(gatewayKeyPrefix("abc"), "");
  });
});

describe("hasGatewayKeyShape", () => {
  const secret = "aB3".repeat(13);
  it("accepts wgk_ and 39 letters and digits", () => {
    assert.equal(hasGatewayKeyShape(`wgk_${secret}`), true);
  });
  for (const [name, key] of [
    ["a character short", `wgk_${secret.slice(1)}`],
    ["a character long", `wgk_${secret}x`],
    ["another type prefix", `wgx_${secret}`],
    ["a user's API key", "abcdefghij-0123456789abcdefghijkl"],
    ["a stray quote", `wgk_${secret.slice(1)}"`],
    ["whitespace inside", `wgk_${secret.slice(1)} `],
    ["empty", ""],
  ]) {
    it(`refuses ${name}`, () => assert.equal(hasGatewayKeyShape(key!), false));
  }
});
