// `weir control-plane` with TLS files that cannot serve: it stops with exit code 1 and one line
// naming the flag and the file, before it opens a database (the URL here answers nothing: a
// control plane that went on would fail on it instead, with another line).
import { rm } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { runWeir, type WeirProcess } from "./stack.js";
import { assertRefusedStart, makeTestCertificates, unusableTlsFiles, type TestCertificates } from "./tls-control-plane.js";

const UNREACHABLE_DATABASE = "postgres://weir@127.0.0.1:1/weir";

describe("weir control-plane start-up with TLS files that cannot serve", () => {
  let certs: TestCertificates;
  let cases: { name: string; args: string[]; want: string }[] = [];
  const runs = new Map<string, WeirProcess>();
  before(async () => {
    certs = await makeTestCertificates({ privateCa: false, commonName: "weir-control-plane" });
    const files = unusableTlsFiles(certs);
    const mismatch = files[files.length - 1]!;
    cases = [...files, { ...mismatch, name: `${mismatch.name}, with an embedded gateway`, args: ["--embedded-gateway", ...mismatch.args] }];
    // Started together, to keep the file quick.
    for (const c of cases) runs.set(c.name, runWeir(["control-plane", "--listen", "127.0.0.1:0", "--database-url", UNREACHABLE_DATABASE, "--database-wait", "0", ...c.args]));
  });
  after(async () => {
    for (const proc of runs.values()) if (proc.child.exitCode === null) proc.child.kill("SIGKILL");
    await Promise.all([...runs.values()].map((proc) => proc.exited));
    if (certs !== undefined) await rm(certs.dir, { recursive: true, force: true });
  });
  it("stops with exit 1 and one line naming the flag and the file, for each", async (t) => {
    for (const c of cases) await t.test(c.name, () => assertRefusedStart(runs.get(c.name)!, c.want));
  });
});
