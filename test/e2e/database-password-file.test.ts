// `--database-password-file`: the database password kept out of the URL, in a file read at every
// new connection, so a rotated password needs no restart. Against a PostgreSQL of its own that
// checks passwords (an embedded server: scram-sha-256; a trust-auth server would let any
// password in, and this test could not fail). `weir users create --bootstrap` and `weir
// control-plane` are run as an operator runs them; the role's password is changed, its sessions
// ended, and the control plane must log in again — the pool and the LISTEN connection — with
// what the file says now.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import pino from "pino";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "@weir/controlplane";
import { eventually, listeningUrl, logLines, runWeir, type WeirProcess } from "./stack.js";

const ROLE = "weir_rotating";
const FIRST = "first-password-0001";
const SECOND = "second-password-0002";

let dir: string;
let server: EmbeddedPostgres;
let superuser: pg.Client;
let passwordFile: string;
let url: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "weir-db-password-"));
  server = await startEmbeddedPostgres({ dataDir: join(dir, "postgres"), logger: pino({ level: "silent" }) });
  superuser = new pg.Client({ connectionString: server.url });
  await superuser.connect();
  await superuser.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${FIRST}'`);
  await superuser.query(`CREATE DATABASE ${ROLE} OWNER ${ROLE}`);
  passwordFile = join(dir, "db-password");
  await writeFile(passwordFile, `${FIRST}\n`, { mode: 0o600 });
  // No password in the URL: the file is the only one.
  url = `postgres://${ROLE}@127.0.0.1:${server.port}/${ROLE}`;
});
after(async () => {
  await superuser?.end();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The role's sessions on the server now. */
async function sessions(): Promise<number> {
  const { rows } = await superuser.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1", [ROLE]);
  return rows[0].n;
}

/** Ends every session of the role: the next connections log in again. */
async function endSessions(): Promise<void> {
  await superuser.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [ROLE]);
}

describe("weir with --database-password-file", () => {
  let controlPlane: WeirProcess;
  let cpUrl: string;
  let ownerToken: string;

  after(async () => {
    if (controlPlane?.child.exitCode === null) controlPlane.child.kill("SIGTERM");
    await controlPlane?.exited;
  });

  const users = async () => (await fetch(`${cpUrl}/api/v2/users`, { headers: { authorization: `Bearer ${ownerToken}` } })).status;

  it("bootstraps the first owner and runs the control plane, logging in with the file's password", async () => {
    const bootstrap = runWeir(["users", "create", "admin", "--bootstrap", "--json", "--database-url", url, "--database-password-file", passwordFile]);
    const { code } = await bootstrap.exited;
    assert.equal(code, 0, bootstrap.output());
    ownerToken = JSON.parse(bootstrap.output()).key;

    controlPlane = runWeir(["control-plane", "--listen", "127.0.0.1:0", "--log-level", "info"], {
      WEIR_DATABASE_URL: url,
      WEIR_DATABASE_PASSWORD_FILE: passwordFile,
    });
    cpUrl = await listeningUrl(controlPlane, "control plane listening");
    assert.equal(await users(), 200);
    assert.ok(!controlPlane.output().includes(FIRST), "the password was logged");
  });

  it("logs in with the rotated password once the file has it, without a restart", async () => {
    await superuser.query(`ALTER ROLE ${ROLE} PASSWORD '${SECOND}'`);
    await endSessions();
    // The file still holds the old password: new connections are refused, so the control plane
    // really reads the file (nor did it keep the first password).
    await eventually("a refusal while the file is stale", async () => ((await users()) >= 500 ? true : undefined));
    // Refused at login, not only a dead pooled connection: no session of the role gets in.
    assert.ok((await users()) >= 500);
    assert.equal(await sessions(), 0);

    await writeFile(passwordFile, `${SECOND}\n`);
    await eventually("the admin API again", async () => ((await users()) === 200 ? true : undefined), 15_000);
    // The LISTEN connection (authorization changes across replicas) is back too.
    await eventually("the LISTEN session", async () => {
      const { rows } = await superuser.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND query LIKE 'LISTEN%'", [ROLE]);
      return rows[0].n === 1 ? true : undefined;
    }, 15_000);
    assert.equal(controlPlane.child.exitCode, null);
    assert.ok(!controlPlane.output().includes(SECOND), "the password was logged");
    assert.ok(logLines(controlPlane, "control plane listening").length === 1, "not restarted");
  });

  it("logs in with the last password read while the file is gone, warning once", async () => {
    await rm(passwordFile);
    await endSessions();
    await eventually("the admin API on new connections", async () => ((await users()) === 200 ? true : undefined), 15_000);
    for (let i = 0; i < 3; i++) assert.equal(await users(), 200);
    const warning = "database password file unusable; logging in with the password read before";
    const warnings = await eventually("the warning", async () => (logLines(controlPlane, warning).length > 0 ? logLines(controlPlane, warning) : undefined));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].err, `read the database password file ${passwordFile}: ENOENT`);
    // No half-opened connection left behind: every session of the role is a logged-in one.
    assert.ok((await sessions()) > 0);
    await writeFile(passwordFile, `${SECOND}\n`);
  });
});

describe("--database-password-file refused in one line", () => {
  const cases: { name: string; args: string[]; want: string }[] = [
    { name: "a missing file", args: ["--database-url", "postgres://weir@127.0.0.1:1/weir", "--database-password-file", "/nonexistent/db-password"], want: "weir: read the database password file /nonexistent/db-password: ENOENT" },
    { name: "without a database URL", args: ["--database-password-file", "/nonexistent/db-password"], want: "weir: --database-password-file needs --database-url: the embedded PostgreSQL has a password of its own" },
    {
      name: "beside a URL with a password parameter",
      args: ["--database-url", "postgres://weir@127.0.0.1:1/weir?password=inline", "--database-password-file", "/nonexistent/db-password"],
      want: "weir: give the database password either in --database-url or in --database-password-file, not both",
    },
    {
      name: "beside a URL with a password",
      args: ["--database-url", "postgres://weir:inline@127.0.0.1:1/weir", "--database-password-file", "/nonexistent/db-password"],
      want: "weir: give the database password either in --database-url or in --database-password-file, not both",
    },
  ];
  for (const c of cases) {
    it(`${c.name}: weir control-plane and weir migrate`, async () => {
      for (const command of [["control-plane", "--listen", "127.0.0.1:0"], ["migrate"]]) {
        const proc = runWeir([...command, ...c.args], { DATABASE_URL: "", WEIR_DATABASE_URL: "", WEIR_DIR: join(dir, "unused") });
        const { code } = await proc.exited;
        assert.equal(code, 1, proc.output());
        assert.equal(proc.output().trim(), c.want);
      }
    });
  }

  it("an empty file", async () => {
    const empty = join(dir, "empty-password");
    await writeFile(empty, "\n");
    const proc = runWeir(["migrate", "--database-url", url, "--database-password-file", empty], {});
    assert.equal((await proc.exited).code, 1);
    assert.equal(proc.output().trim(), `weir: the database password file ${empty} is empty`);
  });
});
