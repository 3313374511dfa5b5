// The embedded server: a second opener of a data directory in use is refused with one clear
// line and the running server keeps working; a reopened directory keeps its data.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import pino from "pino";
import { createKysely } from "./database.js";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded-postgres.js";

const logger = pino({ level: "silent" });
const dirs: string[] = [];
const servers: EmbeddedPostgres[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "weir-embedded-"));
  await chmod(dir, 0o755); // as root, the server runs as `postgres` and must reach its directory
  dirs.push(dir);
  return join(dir, "data");
}

async function query(url: string, text: string): Promise<unknown[]> {
  const db = createKysely(url, 1);
  try {
    return (await sql.raw(text).execute(db)).rows;
  } finally {
    await db.destroy();
  }
}

describe("embedded PostgreSQL", () => {
  // Node's recursive mkdir never returns there (procfs answers ENOENT under an existing parent):
  // `weir control-plane --data-dir /proc/…` spun a core and could not be stopped.
  it("refuses at once a data directory whose entry the kernel will not make (under /proc)", { skip: !existsSync("/proc/self"), timeout: 10_000 }, async () => {
    await assert.rejects(startEmbeddedPostgres({ dataDir: "/proc/weir-nope/pg", logger: pino({ level: "silent" }) }), {
      code: "ENOENT",
      message: "ENOENT: no such file or directory, mkdir '/proc/weir-nope'",
    });
  });

  it("refuses a data directory another live process is using, leaving that server running", async () => {
    const dir = await dataDir();
    const first = await startEmbeddedPostgres({ dataDir: dir, logger, ephemeral: true });
    servers.push(first);
    await assert.rejects(startEmbeddedPostgres({ dataDir: dir, logger, ephemeral: true }), {
      name: "EmbeddedPostgresInUseError",
      message: new RegExp(`^the embedded PostgreSQL in ${dir} is in use by another process \\(postmaster pid \\d+\\): stop that control plane first, or use its admin API$`),
    });
    assert.deepEqual(await query(first.url, "SELECT 1 AS one"), [{ one: 1 }]);
  });

  it("keeps its data and credentials across a stop and a start", async () => {
    const dir = await dataDir();
    const first = await startEmbeddedPostgres({ dataDir: dir, logger, ephemeral: true });
    await query(first.url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')");
    await first.stop();
    const second = await startEmbeddedPostgres({ dataDir: dir, logger, ephemeral: true });
    servers.push(second);
    assert.deepEqual(await query(second.url, "SELECT v FROM kept"), [{ v: "still here" }]);
  });
});
