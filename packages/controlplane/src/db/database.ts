// Opens the control plane's database: the server DATABASE_URL names, or an embedded one.
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Logger } from "pino";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded-postgres.js";
import { migrateToLatest } from "./migrate.js";
import type { Database } from "./schema.js";

/** How to reach (or start) the database. */
export interface DatabaseOptions {
  /** A postgres:// URL. When absent an embedded server is started in `embeddedDataDir`. */
  readonly url?: string | undefined;
  /** Data directory of the embedded server (default `.weir/postgres` in the working directory). */
  readonly embeddedDataDir?: string | undefined;
  /** Run migrations before returning (default true). */
  readonly migrate?: boolean;
  /** Maximum pool size (default 20). */
  readonly poolSize?: number;
  readonly logger: Logger;
}

/** An open database and whatever must be closed with it. */
export interface OpenDatabase {
  readonly db: Kysely<Database>;
  /** The URL in use (embedded servers get a loopback URL). SECURITY: contains a password. */
  readonly url: string;
  readonly embedded: boolean;
  /** Closes the pool, then stops the embedded server if one was started. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_EMBEDDED_DATA_DIR = ".weir/postgres";

/** Builds a kysely instance over a pg pool for `url`. */
export function createKysely(url: string, poolSize = 20, logger?: Logger): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, idleTimeoutMillis: 30_000 });
  // An idle client whose connection dies (server restart, failover) emits 'error' on the pool;
  // unhandled, that would crash the daemon. The pool discards the client and reconnects.
  pool.on("error", (err) => logger?.warn({ err: err.message }, "idle database connection lost"));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** Connects (starting an embedded server when no URL is given) and migrates. */
export async function openDatabase(options: DatabaseOptions): Promise<OpenDatabase> {
  const { logger } = options;
  let embedded: EmbeddedPostgres | undefined;
  let url = options.url;
  if (!url) {
    embedded = await startEmbeddedPostgres({ dataDir: options.embeddedDataDir ?? DEFAULT_EMBEDDED_DATA_DIR, logger });
    url = embedded.url;
  }
  const db = createKysely(url, options.poolSize, logger);
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      await db.destroy();
      await embedded?.stop();
    })();
    return closing;
  };
  try {
    if (options.migrate ?? true) {
      const applied = await migrateToLatest(db);
      if (applied.length > 0) logger.info({ migrations: applied }, "database migrated");
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { db, url, embedded: embedded !== undefined, close };
}
