// `weir control-plane` with TLS files that cannot serve: it stops with exit code 1 and one line
// naming the flag and the file, before it opens a database (the URL here answers nothing: a
// control plane that went on would fail on it instead, with another line).
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runWeir, type WeirProcess } from "./stack.js";
import { makeTestCertificates, type TestCertificates } from "./tls-control-plane.js";

let certs: TestCertificates;

const UNREACHABLE_DATABASE = "postgres://weir@127.0.0.1:1/weir";

describe("weir control-plane start-up with TLS files that cannot serve", () => {
  const cases: { name: string; args: () => string[]; want: () => string }[] = [
    {
      name: "a missing certificate file",
      args: () => ["--tls-cert-file", join(certs.dir, "missing.pem"), "--tls-key-file", certs.keyFile],
      want: () => `weir: --tls-cert-file ${join(certs.dir, "missing.pem")}: cannot read it: no such file`,
    },
    {
      name: "a key file given as the certificate",
      args: () => ["--tls-cert-file", certs.keyFile, "--tls-key-file", certs.keyFile],
      want: () => `weir: --tls-cert-file ${certs.keyFile}: not a PEM certificate (no start line)`,
    },
    {
      name: "a certificate given as the key",
      args: () => ["--tls-cert-file", certs.certFile, "--tls-key-file", certs.certFile],
      want: () => `weir: --tls-key-file ${certs.certFile}: not a PEM private key (unsupported)`,
    },
    {
      name: "a key that does not match the certificate",
      args: () => ["--tls-cert-file", certs.certFile, "--tls-key-file", certs.otherKeyFile],
      want: () => `weir: --tls-key-file ${certs.otherKeyFile}: does not match the certificate in --tls-cert-file ${certs.certFile}`,
    },
    {
      name: "a key that does not match the certificate, with an embedded gateway",
      args: () => ["--embedded-gateway", "--tls-cert-file", certs.certFile, "--tls-key-file", certs.otherKeyFile],
      want: () => `weir: --tls-key-file ${certs.otherKeyFile}: does not match the certificate in --tls-cert-file ${certs.certFile}`,
    },
  ];
  const runs = new Map<string, WeirProcess>();
  before(async () => {
    certs = await makeTestCertificates({ privateCa: false, commonName: "weir-control-plane" });
    for (const c of cases) runs.set(c.name, runWeir(["control-plane", "--listen", "127.0.0.1:0", "--database-url", UNREACHABLE_DATABASE, "--database-wait", "0", ...c.args()]));
  });
  after(async () => {
    for (const proc of runs.values()) if (proc.child.exitCode === null) proc.child.kill("SIGKILL");
    await Promise.all([...runs.values()].map((proc) => proc.exited));
    if (certs !== undefined) await rm(certs.dir, { recursive: true, force: true });
  });
  for (const c of cases) {
    it(`stops with exit 1 and one line: ${c.name}`, async () => {
      const proc = runs.get(c.name)!;
      const { code } = await proc.exited;
      assert.equal(code, 1, proc.output());
      const lines = proc.output().split("\n").filter((l) => l.startsWith("weir: "));
      assert.deepEqual(lines, [c.want()], proc.output());
      assert.doesNotMatch(proc.output(), /^\s+at /m, "no stack trace");
    });
  }
});
