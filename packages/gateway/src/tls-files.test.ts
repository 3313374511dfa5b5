// Pins loadTlsFiles: a good pair loads; each way a pair cannot serve is one TlsFilesError naming
// the file at fault, in the library's option names or the caller's (the CLI's flags).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { describeTlsFilesError, isTlsFilesError, loadTlsFiles } from "./tls-files.js";
import type { TlsFiles } from "./tls-files.js";

const openssl = (args: string[]) => promisify(execFile)("openssl", args);
const EC = ["-pkeyopt", "ec_paramgen_curve:prime256v1"];

let dir: string;
let cert: string;
let key: string;
let otherKey: string;
/** The key, encrypted: as PKCS#8, and in the traditional format with a Proc-Type header. */
let encryptedKey: string;
let encryptedTraditionalKey: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "weir-tls-files-"));
  [cert, key, otherKey] = [join(dir, "cert.pem"), join(dir, "key.pem"), join(dir, "other-key.pem")];
  await openssl(["req", "-x509", "-newkey", "ec", ...EC, "-nodes", "-days", "1", "-subj", "/CN=weir", "-keyout", key, "-out", cert]);
  await openssl(["genpkey", "-algorithm", "ec", ...EC, "-out", otherKey]);
  [encryptedKey, encryptedTraditionalKey] = [join(dir, "encrypted-key.pem"), join(dir, "encrypted-ec-key.pem")];
  await openssl(["pkey", "-in", key, "-aes256", "-passout", "pass:secret", "-out", encryptedKey]);
  await openssl(["ec", "-in", key, "-aes256", "-passout", "pass:secret", "-out", encryptedTraditionalKey]);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A certificate with its key encrypted: refused saying so, not with OpenSSL's "bad decrypt". */
function encryptedKeyCase(name: string, path: () => string) {
  const advice = () => `the private key is encrypted; give it unencrypted (openssl pkey -in ${path()} -out <new file>) and protect the file instead`;
  return {
    name,
    files: () => ({ certFile: cert, keyFile: path() }),
    want: () => `tls.keyFile ${path()}: ${advice()}`,
    flags: () => `--tls-key-file ${path()}: ${advice()}`,
  };
}

describe("loadTlsFiles", () => {
  it("loads a certificate and its key", async () => {
    const loaded = await loadTlsFiles({ certFile: cert, keyFile: key });
    assert.match(loaded.cert.toString("utf8"), /^-----BEGIN CERTIFICATE-----/);
    assert.match(loaded.key.toString("utf8"), /^-----BEGIN PRIVATE KEY-----/);
  });

  const cases: { name: string; files: () => TlsFiles; want: () => string; flags: () => string }[] = [
    {
      name: "a missing certificate",
      files: () => ({ certFile: join(dir, "missing.pem"), keyFile: key }),
      want: () => `tls.certFile ${join(dir, "missing.pem")}: cannot read it: no such file`,
      flags: () => `--tls-cert-file ${join(dir, "missing.pem")}: cannot read it: no such file`,
    },
    {
      name: "a directory as the key",
      files: () => ({ certFile: cert, keyFile: dir }),
      want: () => `tls.keyFile ${dir}: cannot read it: it is a directory`,
      flags: () => `--tls-key-file ${dir}: cannot read it: it is a directory`,
    },
    {
      name: "a key as the certificate",
      files: () => ({ certFile: key, keyFile: key }),
      want: () => `tls.certFile ${key}: not a PEM certificate (no start line)`,
      flags: () => `--tls-cert-file ${key}: not a PEM certificate (no start line)`,
    },
    {
      name: "a certificate as the key",
      files: () => ({ certFile: cert, keyFile: cert }),
      want: () => `tls.keyFile ${cert}: not a PEM private key (unsupported)`,
      flags: () => `--tls-key-file ${cert}: not a PEM private key (unsupported)`,
    },
    encryptedKeyCase("an encrypted key (PKCS#8)", () => encryptedKey),
    encryptedKeyCase("an encrypted key (traditional PEM)", () => encryptedTraditionalKey),
    {
      name: "another certificate's key",
      files: () => ({ certFile: cert, keyFile: otherKey }),
      want: () => `tls.keyFile ${otherKey}: does not match the certificate in tls.certFile ${cert}`,
      flags: () => `--tls-key-file ${otherKey}: does not match the certificate in --tls-cert-file ${cert}`,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} in one line`, async () => {
      const err = await loadTlsFiles(c.files()).then(
        () => assert.fail("loaded"),
        (e: unknown) => e,
      );
      assert.ok(isTlsFilesError(err), String(err));
      assert.equal(err.message, c.want());
      assert.equal(describeTlsFilesError(err, { certFile: "--tls-cert-file", keyFile: "--tls-key-file" }), c.flags());
    });
  }
});
