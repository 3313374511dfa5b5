// The admin commands against a control plane whose TLS does not fit their settings, as operators
// get it wrong: a certificate from a private CA the CLI does not trust, one that does not name
// the URL's host, https:// to a server without TLS and http:// to one with it. Each ends with
// exit 1 and one line saying what happened and what to change, not "cannot reach" (the control
// plane was reached). With NODE_EXTRA_CA_CERTS the private CA's certificate is accepted.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { bootstrapOwner } from "@weir/controlplane";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { createLlmEmulator, type LlmEmulator } from "@weir/llm-emulator";
import { eventually, runWeir, type WeirProcess } from "./stack.js";

let dir: string;
let caFile: string;
let database: TestDatabase;
let ownerToken: string;
let controlPlane: WeirProcess;
let cpUrl: string;
let plainHttp: LlmEmulator;

const openssl = (args: string[]) => promisify(execFile)("openssl", args);
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "weir-cli-tls-"));
  caFile = join(dir, "ca.pem");
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  // A private CA, and a certificate it issued for 127.0.0.1 (as a company's internal CA would).
  await openssl(["req", "-x509", ...EC, "-subj", "/CN=weir-test-ca", "-keyout", join(dir, "ca-key.pem"), "-out", caFile]);
  await openssl([
    "req", "-x509", "-CA", caFile, "-CAkey", join(dir, "ca-key.pem"), ...EC, "-subj", "/CN=weir-control-plane",
    "-addext", "basicConstraints=critical,CA:FALSE", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyFile, "-out", certFile,
  ]);
  database = await createTestDatabase();
  ownerToken = (await bootstrapOwner(database.db, { username: "owner" })).key;
  controlPlane = runWeir(["control-plane", "--listen", "127.0.0.1:0", "--log-level", "info", "--tls-cert-file", certFile, "--tls-key-file", keyFile], {
    WEIR_DATABASE_URL: database.url,
  });
  cpUrl = await eventually("the control plane's address", async () => {
    const line = controlPlane.output().split("\n").find((l) => l.includes('"control plane listening"'));
    return line === undefined ? undefined : (JSON.parse(line).url as string);
  }, 30_000);
  plainHttp = createLlmEmulator();
  await plainHttp.start();
});
after(async () => {
  controlPlane?.child.kill("SIGTERM");
  await controlPlane?.exited;
  await plainHttp?.shutdown();
  await database?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function keysCreate(url: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const proc = runWeir(["keys", "create", "tls-test"], { WEIR_CONTROL_PLANE_URL: url, WEIR_ADMIN_TOKEN: ownerToken, WEIR_DIR: "/nonexistent", NODE_EXTRA_CA_CERTS: undefined, ...env });
  const { code } = await proc.exited;
  return { code, out: proc.output() };
}

describe("weir keys create and the control plane's TLS", () => {
  it("names NODE_EXTRA_CA_CERTS when the certificate is from a CA it does not trust", async () => {
    assert.match(cpUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    const { code, out } = await keysCreate(cpUrl);
    assert.equal(code, 1, out);
    assert.equal(
      out,
      `weir: the control plane's TLS certificate at ${cpUrl} is not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE): for a private CA, set NODE_EXTRA_CA_CERTS to its certificate file\n`,
    );
  });

  it("trusts the private CA given in NODE_EXTRA_CA_CERTS", async () => {
    const { code, out } = await keysCreate(cpUrl, { NODE_EXTRA_CA_CERTS: caFile });
    assert.equal(code, 0, out);
    assert.match(out, /^ {2}key: {4}wgk_[0-9A-Za-z]{39}$/m);
  });

  it("says when the certificate does not name the URL's host", async () => {
    // Issued for IP 127.0.0.1 only.
    const url = cpUrl.replace("127.0.0.1", "localhost");
    const { code, out } = await keysCreate(url, { NODE_EXTRA_CA_CERTS: caFile });
    assert.equal(code, 1, out);
    assert.equal(out, `weir: the control plane's TLS certificate does not name the host of ${url} (ERR_TLS_CERT_ALTNAME_INVALID): use a host name it was issued for\n`);
  });

  it("says when https:// points at a server without TLS", async () => {
    const url = plainHttp.url.replace("http://", "https://");
    const { code, out } = await keysCreate(url);
    assert.equal(code, 1, out);
    assert.equal(out, `weir: the control plane at ${url} does not speak TLS: use an http:// URL, or give it --tls-cert-file and --tls-key-file\n`);
  });

  it("hints at https:// when http:// points at a control plane with TLS", async () => {
    const url = cpUrl.replace("https://", "http://");
    const { code, out } = await keysCreate(url);
    assert.equal(code, 1, out);
    // The TLS server closes the connection on the cleartext request, or (by timing) resets it.
    assert.match(out, /^weir: the connection to the control plane at http:\/\/127\.0\.0\.1:\d+ failed \((UND_ERR_SOCKET|ECONNRESET)\): a control plane with TLS needs an https:\/\/ URL\n$/);
    assert.ok(out.includes(` at ${url} failed (`), out);
  });
});
