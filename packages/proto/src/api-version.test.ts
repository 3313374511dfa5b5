import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { API_VERSION, API_VERSION_HISTORY, checkApiVersion, parseApiVersion } from "./index.js";

// Pins the compatibility rule: equal major and client minor <= server minor, or a listed older major.
describe("checkApiVersion", () => {
  const cases = [
    { name: "same version", client: "1.0", server: "1.0", older: [], want: true },
    { name: "older minor on newer server", client: "1.0", server: "1.3", older: [], want: true },
    { name: "equal minor", client: "1.3", server: "1.3", older: [], want: true },
    { name: "newer minor than server", client: "1.4", server: "1.3", older: [], want: false },
    { name: "newer major than server", client: "2.0", server: "1.3", older: [], want: false },
    { name: "older major not listed", client: "0.9", server: "1.3", older: [], want: false },
    { name: "older major listed", client: "0.9", server: "1.3", older: [0], want: true },
    { name: "unparsable client", client: "1.x", server: "1.3", older: [], want: false },
    { name: "missing client", client: "", server: "1.0", older: [], want: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = checkApiVersion(c.client, { version: parseApiVersion(c.server), supportedOlderMajors: c.older });
      assert.equal(got.ok, c.want);
      assert.equal(got.client, c.client);
      assert.equal(got.server, c.server);
      if (!got.ok) {
        // The reason names both versions so an operator can tell which side to upgrade.
        assert.ok(got.reason.includes(JSON.stringify(c.client)), got.reason);
        assert.ok(got.reason.includes(c.server), got.reason);
      }
    });
  }
});

describe("checkApiVersion's reason", () => {
  const server = { version: parseApiVersion("1.1") };
  const reasonOf = (check: ReturnType<typeof checkApiVersion>) => (check.ok ? "accepted" : check.reason);
  it("says a missing version is missing", () => {
    assert.equal(reasonOf(checkApiVersion("", server)), 'incompatible API version: client "", server 1.1: the client sent no API version');
  });
  it("repeats at most 32 characters of what the client sent", () => {
    const got = checkApiVersion(`1.${"9".repeat(60_000)}`, server);
    assert.equal(got.client, `1.${"9".repeat(30)}…`);
    assert.equal(reasonOf(got), `incompatible API version: client "1.${"9".repeat(30)}…", server 1.1: client version is not "MAJOR.MINOR"`);
  });
});

// Pins the accepted syntax: exactly two unsigned integers separated by one dot.
describe("parseApiVersion", () => {
  const good = [
    { input: "1.0", want: { major: 1, minor: 0 } },
    { input: "0.9", want: { major: 0, minor: 9 } },
    { input: "12.34", want: { major: 12, minor: 34 } },
  ];
  for (const c of good) {
    it(`parses ${JSON.stringify(c.input)}`, () => assert.deepEqual(parseApiVersion(c.input), c.want));
  }
  const bad = ["", "1", "1.x", "1.0.0", " 1.0", "1.0 ", "-1.0", "1.-0", "+1.0", "01.0", "1..0", "a.b", "1.0\n"];
  for (const input of bad) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.throws(() => parseApiVersion(input), { name: "ApiVersionParseError" });
    });
  }
});

// Pins that the version this build speaks is documented in the history.
describe("API_VERSION", () => {
  it("has a history entry", () => {
    assert.ok(API_VERSION_HISTORY.some((e) => e.version === API_VERSION));
    assert.equal(API_VERSION_HISTORY.at(-1)?.version, API_VERSION);
  });
});
