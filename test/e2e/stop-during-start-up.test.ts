// A daemon told to stop while it is still starting (SIGTERM from a supervisor, Ctrl-C) stops
// cleanly and exits 0: a control plane waiting for its database gives up at once, and one
// starting an embedded PostgreSQL stops it instead of leaving it running (Node's default for
// the signal killed the process then), also when a terminal's Ctrl-C signals its whole process
// group, PostgreSQL and weir start's gateway included. SIGHUP while a daemon with TLS files starts does not
// kill it: the reload waits for start-up.
import assert from "node:assert/strict";
import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { eventually, freePort, processesNaming, runWeir, type WeirProcess } from "./stack.js";
import { makeTestCertificates, type TestCertificates } from "./tls-control-plane.js";

let certs: TestCertificates;
let dir: string;
before(async () => {
  certs = await makeTestCertificates({ privateCa: false, commonName: "weir-start-up" });
  dir = await mkdtemp(join(tmpdir(), "weir-stop-start-"));
});
after(async () => {
  if (certs) await rm(certs.dir, { recursive: true, force: true });
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Waits for a log line with this message. */
function logged(proc: WeirProcess, msg: string): Promise<true> {
  return eventually(`"${msg}"`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`exited with ${proc.child.exitCode}: ${proc.output()}`);
    return proc.output().includes(`"msg":"${msg}"`) ? true : undefined;
  }, 30_000);
}

/** Whether a child process of `parent` has `arg` among its command-line arguments. */
async function childrenRunning(parent: number, arg: string): Promise<boolean> {
  for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    // Fields after the command name (in parentheses): state, then the parent's pid.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid !== parent) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\0").includes(arg)) return true;
  }
  return false;
}

/** A control plane whose database never answers: start-up waits for it (--database-wait). */
async function waitingControlPlane(args: string[] = []): Promise<WeirProcess> {
  const proc = runWeir(["control-plane", "--listen", "127.0.0.1:0", "--database-wait", "120s", ...args], {
    WEIR_DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/weir`,
  });
  await logged(proc, "database not reachable; retrying");
  return proc;
}

describe("a daemon stopped during start-up", () => {
  it("control plane waiting for its database: SIGTERM stops it at once, exit 0", async () => {
    const proc = await waitingControlPlane();
    proc.child.kill("SIGTERM");
    assert.deepEqual(await proc.exited, { code: 0, signal: null }, proc.output());
    assert.match(proc.output(), /"signal":"SIGTERM","msg":"stopping during start-up"/);
  });

  it("control plane starting an embedded PostgreSQL: SIGINT stops PostgreSQL too, exit 0", async () => {
    const dataDir = join(dir, "pg");
    const proc = runWeir(["control-plane", "--listen", "127.0.0.1:0", "--data-dir", dataDir], { WEIR_DATABASE_URL: "", DATABASE_URL: "" });
    await logged(proc, "initialising embedded postgres");
    proc.child.kill("SIGINT");
    assert.deepEqual(await proc.exited, { code: 0, signal: null }, proc.output());
    assert.match(proc.output(), /"signal":"SIGINT","msg":"stopping during start-up"/);
    assert.deepEqual(await processesNaming(dataDir), [], "no PostgreSQL left running on the data directory");
  });

  // A terminal's Ctrl-C signals the whole foreground process group: PostgreSQL's programs and
  // weir start's gateway must not take it themselves while weir is still using them.
  it("weir start whose gateway process is starting: Ctrl-C to its process group, exit 0", async () => {
    const startDir = join(dir, "start-group");
    await chmod(dir, 0o755); // as root, embedded PostgreSQL runs as `postgres` and must reach it
    const proc = runWeir(["start", "--dir", startDir, "--control-plane-listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0"], { WEIR_DATABASE_URL: "", DATABASE_URL: "" }, { ownProcessGroup: true });
    // Signalled once the gateway process runs its own program (it has left weir's process group
    // by then, if it is to), long before it listens: it is still loading.
    await eventually("the gateway process started", async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited with ${proc.child.exitCode}: ${proc.output()}`);
      return (await childrenRunning(proc.child.pid!, "gateway")) || undefined;
    }, 60_000);
    process.kill(-proc.child.pid!, "SIGINT");
    assert.deepEqual(await proc.exited, { code: 0, signal: null }, proc.output());
    assert.match(proc.output(), /stopped\n$/);
    assert.deepEqual(await processesNaming(join(startDir, "postgres")), [], "no PostgreSQL left running on the state directory");
  });

  it("control plane with TLS files: SIGHUP during start-up does not end it; SIGTERM does, exit 0", async () => {
    const proc = await waitingControlPlane(["--tls-cert-file", certs.certFile, "--tls-key-file", certs.keyFile]);
    proc.child.kill("SIGHUP");
    await logged(proc, "reloading the TLS certificate and key files");
    assert.equal(proc.child.exitCode, null);
    proc.child.kill("SIGTERM");
    assert.deepEqual(await proc.exited, { code: 0, signal: null }, proc.output());
    // A daemon that never started has nothing to reload, and says nothing about it.
    assert.doesNotMatch(proc.output(), /TLS files not reloaded/);
  });
});
