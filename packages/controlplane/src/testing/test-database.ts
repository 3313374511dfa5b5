// Real-Postgres test databases (CONVENTIONS "Tests"): the test runner migrates once into a
// template database, then every test file clones its own database from it. A file run on its
// own (no runner) prepares a server and migrates its database itself.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql, type Kysely } from "kysely";
import pino, { type Logger } from "pino";
import { createKysely } from "../db/database.js";
import { startEmbeddedPostgres } from "../db/embedded-postgres.js";
import { migrateToLatest } from "../db/migrate.js";
import type { Database } from "../db/schema.js";

/** Set by the test runner: a URL to the test server and the migrated template's name. */
export const TEST_SERVER_URL_ENV = "WEIR_TEST_SERVER_URL";
export const TEST_TEMPLATE_ENV = "WEIR_TEST_TEMPLATE_DB";

/** A Postgres server for tests: DATABASE_URL's, or an embedded one in a temporary directory. */
export interface TestServer {
  readonly url: string;
  readonly embedded: boolean;
  stop(): Promise<void>;
}

export async function startTestServer(logger: Logger = pino({ level: "silent" })): Promise<TestServer> {
  const existing = process.env.DATABASE_URL;
  if (existing) return { url: existing, embedded: false, stop: async () => {} };
  const dir = await mkdtemp(join(tmpdir(), "weir-test-pg-"));
  const server = await startEmbeddedPostgres({ dataDir: join(dir, "data"), logger, ephemeral: true });
  return {
    url: server.url,
    embedded: true,
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `url` with its database name replaced. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(serverUrl: string, work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  const db = createKysely(serverUrl, 1);
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

export async function createDatabase(serverUrl: string, name: string, template?: string): Promise<void> {
  await admin(serverUrl, async (db) => {
    const from = template ? sql` TEMPLATE ${sql.id(template)}` : sql``;
    await sql`CREATE DATABASE ${sql.id(name)}${from}`.execute(db);
  });
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await admin(serverUrl, async (db) => {
    await sql`DROP DATABASE IF EXISTS ${sql.id(name)} WITH (FORCE)`.execute(db);
  });
}

/** Creates and migrates a template database; returns its name. */
export async function createTemplateDatabase(serverUrl: string): Promise<string> {
  const name = `weir_tpl_${randomBytes(5).toString("hex")}`;
  await createDatabase(serverUrl, name);
  const db = createKysely(databaseUrl(serverUrl, name), 1);
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy(); // a template must have no connections to be cloned
  }
  return name;
}

/** A migrated database of one's own. */
export interface TestDatabase {
  readonly name: string;
  /** The server's URL (to create more databases, e.g. for another control plane). */
  readonly serverUrl: string;
  /** This database's URL. */
  readonly url: string;
  readonly db: Kysely<Database>;
  /** Closes the pool and drops the database (and stops a server this file started). */
  drop(): Promise<void>;
}

/** Clones the runner's template, or (running alone) prepares a server and migrates. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `weir_t_${randomBytes(6).toString("hex")}`;
  const runnerServer = process.env[TEST_SERVER_URL_ENV];
  const template = process.env[TEST_TEMPLATE_ENV];
  let ownServer: TestServer | undefined;
  let serverUrl: string;
  if (runnerServer && template) {
    serverUrl = runnerServer;
    await createDatabase(serverUrl, name, template);
  } else {
    ownServer = await startTestServer();
    serverUrl = ownServer.url;
    await createDatabase(serverUrl, name);
  }
  const url = databaseUrl(serverUrl, name);
  const db = createKysely(url, 10);
  if (!template || !runnerServer) await migrateToLatest(db);
  let dropping: Promise<void> | undefined;
  return {
    name,
    serverUrl,
    url,
    db,
    drop: () => {
      dropping ??= (async () => {
        await db.destroy();
        await dropDatabase(serverUrl, name);
        await ownServer?.stop();
      })();
      return dropping;
    },
  };
}
