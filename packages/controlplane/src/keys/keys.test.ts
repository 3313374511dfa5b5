// Key formats: lengths, alphabets, what is hashed, and that generation is unbiased.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateApiKey, parseApiKey } from "./api-key.js";
import { gatewayKeyPrefix, generateGatewayKey, hashGatewayKey } from "./gateway-key.js";
import { randomAlphanumeric } from "./random-string.js";
import { digestsEqual, sha256 } from "./secret-hash.js";

describe("gateway keys", () => {
  it("are 43 characters with an 11-character wgk_ prefix, hashed whole", () => {
    const k = generateGatewayKey();
    assert.equal(k.key.length, 43);
    assert.match(k.key, /^wgk_[0-9A-Za-z]{39}$/);
    assert.equal(k.prefix, k.key.slice(0, 11));
    assert.ok(digestsEqual(k.hashedSecret, hashGatewayKey(k.key)));
    // Hashing only the private suffix must not validate.
    assert.ok(!digestsEqual(k.hashedSecret, sha256(k.key.slice(11))));
  });
});

describe("gatewayKeyPrefix", () => {
  it("logs a key's public prefix, and at most a quarter of a string too short to be a key", () => {
    const { key } = generateGatewayKey();
    assert.equal(gatewayKeyPrefix(key), key.slice(0, 11));
    assert.equal(gatewayKeyPrefix("short-secret-1234"), "shor");
    assert.equal(gatewayKeyPrefix("abc"), "");
  });
});

describe("API keys", () => {
  it("are <10-char id>-<22-char secret> and only the secret is hashed", () => {
    const k = generateApiKey();
    assert.match(k.key, /^[0-9A-Za-z]{10}-[0-9A-Za-z]{22}$/);
    assert.deepEqual(parseApiKey(k.key), { id: k.id, secret: k.secret });
    assert.ok(digestsEqual(k.hashedSecret, sha256(k.secret)));
  });
  const malformed = ["foo", "", "abcdefghij", "abcdefghij-", "abcdefghi-0123456789012345678901", "abcdefghij-012345678901234567890", "abcdefghij_0123456789012345678901", " abcdefghij-0123456789012345678901"];
  for (const key of malformed) {
    it(`rejects malformed ${JSON.stringify(key)}`, () => assert.equal(parseApiKey(key), undefined));
  }
});

describe("randomAlphanumeric", () => {
  it("covers the 62-character alphabet roughly uniformly", () => {
    const counts = new Map<string, number>();
    const sample = randomAlphanumeric(62_000);
    for (const c of sample) counts.set(c, (counts.get(c) ?? 0) + 1);
    assert.equal(counts.size, 62);
    // Expected 1000 each; a biased generator (byte % 62) gives the first 8 characters ~1290.
    for (const [c, n] of counts) assert.ok(n > 800 && n < 1200, `${c}: ${n}`);
  });
});
