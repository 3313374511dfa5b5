// Pins readTlsCredentials, which the control plane runs at start-up and on reloadTls(): a pair
// that makes a context is returned with the TLS 1.2 floor; one that does not is refused before
// anything is replaced, naming both files (never their contents).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { certificateSummary, readTlsCredentials } from "./tls-credentials.js";

const openssl = (args: string[]) => promisify(execFile)("openssl", args);
const EC = ["-pkeyopt", "ec_paramgen_curve:prime256v1"];

let dir: string;
let cert: string;
let key: string;
let otherKey: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "weir-cp-tls-"));
  [cert, key, otherKey] = [join(dir, "cert.pem"), join(dir, "key.pem"), join(dir, "other-key.pem")];
  await openssl(["req", "-x509", "-newkey", "ec", ...EC, "-nodes", "-days", "1", "-subj", "/CN=weir-cp/O=Weir", "-keyout", key, "-out", cert]);
  await openssl(["genpkey", "-algorithm", "ec", ...EC, "-out", otherKey]);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("readTlsCredentials", () => {
  it("returns the pair with the TLS 1.2 floor", async () => {
    const got = await readTlsCredentials({ certFile: cert, keyFile: key });
    assert.deepEqual(got, { cert: await readFile(cert), key: await readFile(key), minVersion: "TLSv1.2" });
  });

  it("refuses a key of another certificate, naming both files", async () => {
    await assert.rejects(readTlsCredentials({ certFile: cert, keyFile: otherKey }), { message: `TLS files ${cert} and ${otherKey} cannot serve: key values mismatch` });
  });

  it("refuses a missing file with the file system's error", async () => {
    await assert.rejects(readTlsCredentials({ certFile: join(dir, "missing.pem"), keyFile: key }), { code: "ENOENT" });
  });
});

describe("certificateSummary", () => {
  it("gives the subject on one line, the expiry and the SHA-256 fingerprint", async () => {
    const summary = certificateSummary(await readFile(cert));
    assert.equal(summary.subject, "CN=weir-cp, O=Weir");
    assert.match(summary.not_after, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    assert.ok(Math.abs(Date.parse(summary.not_after) - Date.now() - 86_400_000) < 3_600_000, summary.not_after);
    assert.match(summary.sha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
});
