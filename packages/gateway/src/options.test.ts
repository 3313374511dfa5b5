import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InvalidGatewayOptionsError, resolveGatewayOptions } from "./options.js";

const base = { controlPlaneUrl: "http://127.0.0.1:7080", gatewayKey: "wgk_x", listen: { host: "127.0.0.1", port: 0 } };
const MAX_TIMER_MS = 2 ** 31 - 1;

describe("resolveGatewayOptions: waits a timer waits out", () => {
  // Node fires a timer longer than 2^31 - 1 ms after 1 ms: a 30-day upstream timeout timed every
  // request out at once.
  for (const name of ["upstreamTimeoutMs", "shutdownTimeoutMs", "recordFlushTimeoutMs", "rpcTimeoutMs"] as const) {
    it(`refuses ${name} beyond ${MAX_TIMER_MS} ms and 0, takes the maximum`, () => {
      for (const bad of [MAX_TIMER_MS + 1, 30 * 86_400_000, 0, Number.NaN]) {
        assert.throws(
          () => resolveGatewayOptions({ ...base, [name]: bad }),
          (err: unknown) => err instanceof InvalidGatewayOptionsError && err.message === `${name} must be above 0 and at most ${MAX_TIMER_MS} ms, got ${bad}`,
        );
      }
      assert.equal(resolveGatewayOptions({ ...base, [name]: MAX_TIMER_MS })[name], MAX_TIMER_MS);
    });
  }
});

describe("resolveGatewayOptions: offThreadParseBytes", () => {
  it("defaults to 1 MiB, takes 0 (every body off the event loop), refuses what is not a byte count", () => {
    assert.equal(resolveGatewayOptions(base).offThreadParseBytes, 1024 * 1024);
    assert.equal(resolveGatewayOptions({ ...base, offThreadParseBytes: 0 }).offThreadParseBytes, 0);
    assert.equal(resolveGatewayOptions({ ...base, offThreadParseBytes: 65_536 }).offThreadParseBytes, 65_536);
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => resolveGatewayOptions({ ...base, offThreadParseBytes: bad }),
        (err: unknown) => err instanceof InvalidGatewayOptionsError && err.message === `offThreadParseBytes must be a whole number of bytes, got ${bad}`,
      );
    }
  });
});

describe("resolveGatewayOptions: tls", () => {
  // Both files or no TLS: a half-given pair is refused by name, never served as cleartext.
  it("takes both files, defaults to none, refuses an empty or missing one", () => {
    assert.equal(resolveGatewayOptions(base).tls, undefined);
    assert.deepEqual(resolveGatewayOptions({ ...base, tls: { certFile: "/c.pem", keyFile: "/k.pem" } }).tls, { certFile: "/c.pem", keyFile: "/k.pem" });
    const cases = [
      { tls: { certFile: "", keyFile: "/k.pem" }, want: 'tls.certFile must be a file path, got ""' },
      { tls: { certFile: "/c.pem", keyFile: " " }, want: 'tls.keyFile must be a file path, got " "' },
      { tls: { certFile: "/c.pem" }, want: "tls.keyFile must be a file path, got undefined" },
    ];
    for (const c of cases) {
      assert.throws(
        () => resolveGatewayOptions({ ...base, tls: c.tls as { certFile: string; keyFile: string } }),
        (err: unknown) => err instanceof InvalidGatewayOptionsError && err.message === c.want,
      );
    }
  });
});
