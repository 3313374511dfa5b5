// Opens the control plane's database: the server DATABASE_URL names, or an embedded one.
import { setTimeout as delay } from "node:timers/promises";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Logger } from "pino";
import { checkDatabaseTlsFiles, explicitSslModeLogged, tlsFileUnreadable, withDatabaseTlsAdvice } from "./database-tls.js";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded-postgres.js";
import { migrateToLatest } from "./migrate.js";
import { backoffDelay } from "../backoff.js";
import { passwordFromFile, type PasswordSource } from "./password-file.js";
import { isConnectionRefusedByConfiguration, isDatabaseUnavailableError } from "./postgres-error.js";
import type { Database } from "./schema.js";

/** How to reach (or start) the database. */
export interface DatabaseOptions {
  /** A postgres:// URL. When absent an embedded server is started in `embeddedDataDir`. */
  readonly url?: string | undefined;
  /** A file holding the password for `url` (which then has none), read at every login (password-file.ts). */
  readonly passwordFile?: string | undefined;
  /** Data directory of the embedded server (default `.weir/postgres` in the working directory). */
  readonly embeddedDataDir?: string | undefined;
  /** Run migrations before returning (default true). */
  readonly migrate?: boolean;
  /** Maximum pool size (default 20). */
  readonly poolSize?: number;
  /**
   * How long to keep trying while the server cannot be reached (refused, timed out, starting
   * up), logging each attempt, before failing with the last error; `signal` stops it early. A
   * daemon started before its database (a reboot, docker compose) then comes up by itself. A
   * server that refuses the login or lacks the database fails at once. Default 0: one attempt.
   */
  readonly waitForServerMs?: number;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
}

/** An open database and whatever must be closed with it. */
export interface OpenDatabase {
  readonly db: Kysely<Database>;
  /** The URL in use (embedded servers get a loopback URL). SECURITY: contains a password. */
  readonly url: string;
  /** The password, when it is kept in a file (DatabaseOptions.passwordFile): what every other connection to this server must use too. */
  readonly password: PasswordSource | undefined;
  readonly embedded: boolean;
  /** Closes the pool, then stops the embedded server if one was started. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_EMBEDDED_DATA_DIR = ".weir/postgres";

/**
 * How long opening a connection, or waiting for a free one in the pool, may take before the
 * query fails (as "database unavailable"): a server that accepts TCP but never answers must not
 * hold requests, or start-up, forever.
 */
export const DATABASE_CONNECT_TIMEOUT_MS = 5_000;

export interface PoolOptions {
  /** The server cancels a statement running longer than this (SQLSTATE 57014). Default: none. */
  readonly statementTimeoutMs?: number;
  /** Asked at every login instead of the URL's password (password-file.ts). */
  readonly password?: PasswordSource | undefined;
}

/**
 * The pg.Client to connect with: given `password`, one that asks it at every login. Not a
 * `password` option beside the connectionString, which pg lets the URL's (empty) password
 * override; nor the URL parsed once here, which would freeze what pg reads from it at every
 * connection (the files named by sslcert, sslkey and sslrootcert: one it cannot read then is a
 * DatabaseTlsError, an outage, not an internal error).
 */
export function databaseClient(password: PasswordSource | undefined): typeof pg.Client {
  return class DatabaseClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      try {
        super(config);
      } catch (err) {
        throw tlsFileUnreadable(err) ?? err;
      }
      // A function here is called at every login (pg's Client#_getPassword).
      if (password !== undefined) (this as unknown as { password: PasswordSource }).password = password;
    }
  };
}

/** Builds a kysely instance over a pg pool for `url`. */
export function createKysely(url: string, poolSize = 20, logger?: Logger, options: PoolOptions = {}): Kysely<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    Client: databaseClient(options.password),
    max: poolSize,
    ...(options.statementTimeoutMs !== undefined ? { statement_timeout: options.statementTimeoutMs } : {}),
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: DATABASE_CONNECT_TIMEOUT_MS,
    // Notice a peer that vanished without closing (failover, network partition) within about a
    // minute, not after the system's default two hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  // A connection that dies (server restart, failover, pg_terminate_backend) makes its client emit
  // 'error'; unhandled, that crashes the daemon. pg-pool listens only while the client is idle, so
  // every client gets a listener of its own for its whole life; a failed client is not reused.
  pool.on("connect", (client) => {
    client.on("error", (err) => logger?.warn({ err: err.message }, "database connection lost"));
  });
  // The pool re-emits an idle client's error here too; the client's own listener logged it.
  pool.on("error", () => undefined);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Connects (starting an embedded server when no URL is given) and migrates. */
export async function openDatabase(options: DatabaseOptions): Promise<OpenDatabase> {
  const { logger } = options;
  let embedded: EmbeddedPostgres | undefined;
  let url = options.url;
  if (!url && options.passwordFile) throw new Error("a database password file needs a database URL: the embedded PostgreSQL has a password of its own");
  if (url) {
    url = explicitSslModeLogged(url, logger);
    await checkDatabaseTlsFiles(url);
  } else {
    embedded = await startEmbeddedPostgres({ dataDir: options.embeddedDataDir ?? DEFAULT_EMBEDDED_DATA_DIR, logger });
    url = embedded.url;
  }
  const password = options.passwordFile ? passwordFromFile(options.passwordFile, logger) : undefined;
  // Read once before any connection: a file unusable from the start fails here, in one line.
  await password?.();
  const db = createKysely(url, options.poolSize, logger, { password });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await db.destroy();
      await embedded?.stop();
    })();
    return closing;
  };
  try {
    if (!embedded) await waitForServer(db, logger, options.waitForServerMs ?? 0, options.signal);
    if (options.migrate ?? true) {
      const applied = await migrateToLatest(db);
      if (applied.length > 0) logger.info({ migrations: applied }, "database migrated");
    }
  } catch (err) {
    await close();
    throw withDatabaseTlsAdvice(err);
  }
  return { db, url, password, embedded: embedded !== undefined, close };
}

const WAIT_INITIAL_BACKOFF_MS = 500;
const WAIT_MAX_BACKOFF_MS = 5_000;

/**
 * Resolves once the server answers. Throws at once what is not an outage, and the outage itself
 * once `waitMs` has passed (or `signal` aborts).
 */
async function waitForServer(db: Kysely<Database>, logger: Logger, waitMs: number, signal: AbortSignal | undefined): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      await sql`SELECT 1`.execute(db);
      if (attempt > 1) logger.info({ attempts: attempt }, "database reachable");
      return;
    } catch (err) {
      if (!isDatabaseUnavailableError(err) || isConnectionRefusedByConfiguration(err)) throw err;
      const delayMs = Math.min(backoffDelay(attempt, WAIT_INITIAL_BACKOFF_MS, WAIT_MAX_BACKOFF_MS), deadline - Date.now());
      if (delayMs <= 0) throw new Error("cannot reach the database", { cause: err });
      // SECURITY: the error's message only; the URL (with its password) is never logged.
      logger.warn({ err: (err as Error).message, attempt, retry_in_ms: delayMs }, "database not reachable; retrying");
      await delay(delayMs, undefined, { signal }).catch(() => signal?.throwIfAborted());
    }
  }
}
