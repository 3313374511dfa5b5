// Environment -> ControlPlaneOptions: listen addresses, TLS pairs, one-line error messages.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { ConfigError, EmbeddedPostgresRootError, controlPlaneOptionsFromEnv, oneLineError, parseListenAddress } from "./index.js";

const logger = pino({ level: "silent" });

describe("parseListenAddress", () => {
  const cases = [
    { input: "127.0.0.1:7080", want: { host: "127.0.0.1", port: 7080 } },
    { input: "0.0.0.0:0", want: { host: "0.0.0.0", port: 0 } },
    { input: "localhost:65535", want: { host: "localhost", port: 65535 } },
    { input: "[::1]:7080", want: { host: "::1", port: 7080 } },
    { input: ":9000", want: { host: "127.0.0.1", port: 9000 } },
  ];
  for (const c of cases) it(`parses ${c.input}`, () => assert.deepEqual(parseListenAddress(c.input), c.want));
  for (const bad of ["7080", "host", "host:", "host:65536", "host:-1", "::1:7080", "host:80x"]) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseListenAddress(bad), ConfigError));
  }
});

describe("controlPlaneOptionsFromEnv", () => {
  it("reads every variable", () => {
    const options = controlPlaneOptionsFromEnv(
      { WEIR_LISTEN: "0.0.0.0:7443", DATABASE_URL: "postgres://u@db/weir", WEIR_DATA_DIR: "/var/lib/weir", WEIR_TLS_CERT_FILE: "c.pem", WEIR_TLS_KEY_FILE: "k.pem" },
      logger,
    );
    assert.deepEqual(
      { listen: options.listen, databaseUrl: options.databaseUrl, dir: options.embeddedDataDir, tls: options.tls },
      { listen: { host: "0.0.0.0", port: 7443 }, databaseUrl: "postgres://u@db/weir", dir: "/var/lib/weir", tls: { certFile: "c.pem", keyFile: "k.pem" } },
    );
  });
  it("defaults everything", () => {
    const options = controlPlaneOptionsFromEnv({}, logger);
    assert.deepEqual([options.listen, options.databaseUrl, options.embeddedDataDir, options.tls], [{ host: "127.0.0.1", port: 7080 }, undefined, undefined, undefined]);
  });
  it("wants the TLS files together", () => {
    assert.throws(() => controlPlaneOptionsFromEnv({ WEIR_TLS_CERT_FILE: "c.pem" }, logger), /must be set together/);
  });
});

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
});
