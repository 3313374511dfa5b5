// The entry point as a process: starts from the environment (DATABASE_URL or embedded
// Postgres), logs JSON on stdout, exits 0 on SIGTERM/SIGINT and 1 with one line on bad config.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "./testing/index.js";

const MAIN = join(import.meta.dirname, "main.ts");

interface Run {
  readonly child: ChildProcess;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves with the first stdout JSON line matching `msg`. */
  waitFor(msg: string): Promise<Record<string, unknown>>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill("SIGKILL");
});

function run(env: Record<string, string | undefined>): Run {
  const { DATABASE_URL: _drop, ...base } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", MAIN], { env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters: { msg: string; resolve: (v: Record<string, unknown>) => void }[] = [];
  let pending = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    pending += chunk.toString("utf8");
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      stdout.push(line);
      const parsed = JSON.parse(line) as Record<string, unknown>;
      for (const w of waiters.filter((w) => w.msg === parsed.msg)) w.resolve(parsed);
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    stdout,
    stderr,
    exited,
    waitFor: (msg) =>
      new Promise((resolve, reject) => {
        waiters.push({ msg, resolve });
        void exited.then(() => reject(new Error(`exited before "${msg}": ${stderr.join("")}`)));
      }),
  };
}

let t: TestDatabase;
before(async () => {
  t = await createTestDatabase();
});
after(async () => {
  await t?.drop();
});

describe("main", () => {
  const signals: NodeJS.Signals[] = ["SIGTERM", "SIGINT"];
  for (const signal of signals) {
    // Property: a clean start on DATABASE_URL and a clean exit 0 on the signal.
    it(`serves from the environment and exits 0 on ${signal}`, async () => {
      const r = run({ DATABASE_URL: t.url, WEIR_LISTEN: "127.0.0.1:0" });
      const listening = await r.waitFor("control plane listening");
      const res = await fetch(`${String(listening.url)}/healthz`);
      assert.equal(res.status, 200);
      r.child.kill(signal);
      assert.deepEqual(await r.exited, { code: 0, signal: null });
      assert.ok(r.stdout.every((l) => JSON.parse(l) && !l.includes("postgres://")), "JSON lines only, no database URL");
      assert.ok(r.stdout.some((l) => l.includes('"msg":"control plane stopped"')));
    });
  }

  const failures = [
    { name: "a bad listen address", env: { WEIR_LISTEN: "nowhere", DATABASE_URL: "postgres://u@127.0.0.1:1/x" }, want: /^weir control plane: WEIR_LISTEN: want host:port/ },
    { name: "a TLS cert without a key", env: { WEIR_TLS_CERT_FILE: "/tmp/c.pem", DATABASE_URL: "postgres://u@127.0.0.1:1/x" }, want: /must be set together/ },
    { name: "an unreachable database", env: { WEIR_LISTEN: "127.0.0.1:0", DATABASE_URL: "postgres://weir@127.0.0.1:1/x", WEIR_DATABASE_WAIT: "0" }, want: /^weir control plane: cannot reach the database: connect ECONNREFUSED 127\.0\.0\.1:1\n/ },
  ];
  for (const c of failures) {
    // Property: start-up failures exit 1 with exactly one line on stderr.
    it(`exits 1 with one line on ${c.name}`, async () => {
      const r = run(c.env);
      assert.deepEqual(await r.exited, { code: 1, signal: null });
      const text = r.stderr.join("");
      assert.match(text, c.want);
      assert.equal(text.trimEnd().split("\n").length, 1);
    });
  }

  // Property: without DATABASE_URL an embedded Postgres runs in WEIR_DATA_DIR and stops with us.
  it("runs on embedded Postgres without DATABASE_URL", async () => {
    const dir = await mkdtemp(join(tmpdir(), "weir-main-"));
    try {
      const r = run({ WEIR_LISTEN: "127.0.0.1:0", WEIR_DATA_DIR: join(dir, "pg") });
      const listening = await r.waitFor("control plane listening");
      assert.equal(listening.embedded_database, true);
      assert.equal((await fetch(`${String(listening.url)}/readyz`)).status, 200);
      r.child.kill("SIGTERM");
      assert.deepEqual(await r.exited, { code: 0, signal: null });
      assert.ok(r.stdout.some((l) => l.includes('"msg":"embedded postgres stopped"')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
