// A `weir control-plane` serving TLS on a test database, for the TLS tests of the gateway and the
// admin CLI: its certificate names IP 127.0.0.1 and is made by openssl, self-signed or issued by a
// private CA (as a company's internal CA would). A server without TLS comes with it, for
// https:// pointed at the wrong place. The certificates alone (makeTestCertificates) serve a
// gateway's own TLS too.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { bootstrapOwner } from "@weir/controlplane";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { createLlmEmulator, type LlmEmulator } from "@weir/llm-emulator";
import { eventually, runWeir, type WeirProcess } from "./stack.js";

export interface TlsControlPlane {
  /** Its https:// URL. */
  readonly url: string;
  readonly process: WeirProcess;
  readonly database: TestDatabase;
  /** The certificate a client must trust: the private CA's, or the self-signed one. */
  readonly trustFile: string;
  /** An owner's API key. */
  readonly ownerToken: string;
  /** A server without TLS. */
  readonly plainHttp: LlmEmulator;
  stop(): Promise<void>;
}

const openssl = (args: string[]) => promisify(execFile)("openssl", args);
const ecKey = (days: number) => ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", String(days)];

/** PEM files in a temporary directory of their own. */
export interface TestCertificates {
  readonly dir: string;
  /** The server's certificate (for IP 127.0.0.1 unless made for other names), and its key. */
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate a client must trust: the private CA's, or the self-signed one. */
  readonly trustFile: string;
  /** A key of another certificate (the CA's, or one made for nothing). */
  readonly otherKeyFile: string;
  /** The server's key, encrypted with a passphrase (PKCS#8). */
  readonly encryptedKeyFile: string;
}

/**
 * `days`: how long the server's certificate is valid (default 1); `altNames`: whom it is for
 * (default "IP:127.0.0.1"; openssl's subjectAltName syntax).
 */
export async function makeTestCertificates(options: { privateCa: boolean; commonName: string; days?: number; altNames?: string }): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), "weir-tls-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const otherKeyFile = join(dir, "other-key.pem");
  const leaf = ["-subj", `/CN=${options.commonName}`, "-addext", `subjectAltName=${options.altNames ?? "IP:127.0.0.1"}`, "-keyout", keyFile, "-out", certFile];
  let trustFile = certFile;
  if (options.privateCa) {
    trustFile = join(dir, "ca.pem");
    await openssl(["req", "-x509", ...ecKey(options.days ?? 1), "-subj", "/CN=weir-test-ca", "-keyout", otherKeyFile, "-out", trustFile]);
    await openssl(["req", "-x509", "-CA", trustFile, "-CAkey", otherKeyFile, ...ecKey(options.days ?? 1), "-addext", "basicConstraints=critical,CA:FALSE", ...leaf]);
  } else {
    await openssl(["req", "-x509", ...ecKey(options.days ?? 1), ...leaf]);
    await openssl(["genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", otherKeyFile]);
  }
  const encryptedKeyFile = join(dir, "encrypted-key.pem");
  await openssl(["pkey", "-in", keyFile, "-aes256", "-passout", "pass:secret", "-out", encryptedKeyFile]);
  return { dir, certFile, keyFile, trustFile, otherKeyFile, encryptedKeyFile };
}

export async function startTlsControlPlane(options: { privateCa: boolean }): Promise<TlsControlPlane> {
  const { dir, certFile, keyFile, trustFile } = await makeTestCertificates({ ...options, commonName: "weir-control-plane" });
  const database = await createTestDatabase();
  const ownerToken = (await bootstrapOwner(database.db, { username: "owner" })).key;
  const controlPlane = runWeir(["control-plane", "--listen", "127.0.0.1:0", "--log-level", "info", "--tls-cert-file", certFile, "--tls-key-file", keyFile], {
    WEIR_DATABASE_URL: database.url,
  });
  const url = await eventually("the control plane's address", async () => {
    const line = controlPlane.output().split("\n").find((l) => l.includes('"control plane listening"'));
    return line === undefined ? undefined : (JSON.parse(line).url as string);
  }, 30_000);
  const plainHttp = createLlmEmulator();
  await plainHttp.start();
  return {
    url,
    process: controlPlane,
    database,
    trustFile,
    ownerToken,
    plainHttp,
    async stop() {
      controlPlane.child.kill("SIGTERM");
      await controlPlane.exited;
      await plainHttp.shutdown();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * TLS files that cannot serve, as `--tls-cert-file`/`--tls-key-file` arguments, each with the one
 * line either daemon stops with when given them.
 */
export function unusableTlsFiles(certs: TestCertificates): { name: string; args: string[]; want: string }[] {
  const missing = join(certs.dir, "missing.pem");
  return [
    { name: "a missing certificate file", args: ["--tls-cert-file", missing, "--tls-key-file", certs.keyFile], want: `weir: --tls-cert-file ${missing}: cannot read it: no such file` },
    { name: "a key file given as the certificate", args: ["--tls-cert-file", certs.keyFile, "--tls-key-file", certs.keyFile], want: `weir: --tls-cert-file ${certs.keyFile}: not a PEM certificate (no start line)` },
    { name: "a certificate given as the key", args: ["--tls-cert-file", certs.certFile, "--tls-key-file", certs.certFile], want: `weir: --tls-key-file ${certs.certFile}: not a PEM private key (unsupported)` },
    {
      name: "an encrypted key",
      args: ["--tls-cert-file", certs.certFile, "--tls-key-file", certs.encryptedKeyFile],
      want: `weir: --tls-key-file ${certs.encryptedKeyFile}: the private key is encrypted; give it unencrypted (openssl pkey -in ${certs.encryptedKeyFile} -out <new file>) and protect the file instead`,
    },
    {
      name: "a key that does not match the certificate",
      args: ["--tls-cert-file", certs.certFile, "--tls-key-file", certs.otherKeyFile],
      want: `weir: --tls-key-file ${certs.otherKeyFile}: does not match the certificate in --tls-cert-file ${certs.certFile}`,
    },
  ];
}

/** A daemon stopped at start-up: exit code 1, `want` its only `weir:` line, no stack trace. */
export async function assertRefusedStart(proc: WeirProcess, want: string): Promise<void> {
  const { code } = await proc.exited;
  assert.equal(code, 1, proc.output());
  const lines = proc.output().split("\n").filter((l) => l.startsWith("weir: "));
  assert.deepEqual(lines, [want], proc.output());
  assert.doesNotMatch(proc.output(), /^\s+at /m, "no stack trace");
}
