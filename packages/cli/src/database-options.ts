// Options of commands that work on the database directly (migrate, users create --bootstrap,
// tokens create --recover).
import { Option, type Command } from "commander";
import pino from "pino";
import type { OpenDatabase } from "@weir/controlplane";
import { errorLine } from "./admin-client.js";
import { CliError } from "./cli-error.js";
import { HeldSignals } from "./held-signals.js";

export interface DatabaseFlags {
  readonly databaseUrl?: string;
  readonly databasePasswordFile?: string;
  readonly dataDir?: string;
}

export function addDatabaseOptions(command: Command): Command {
  return command
    .addOption(new Option("--database-url <url>", "PostgreSQL URL, also read from DATABASE_URL (default: embedded PostgreSQL in --data-dir)").env("WEIR_DATABASE_URL"))
    .addOption(
      new Option("--database-password-file <path>", "file holding the password for --database-url (which then has none); read at every new connection, so a rotated password needs no restart").env(
        "WEIR_DATABASE_PASSWORD_FILE",
      ),
    )
    // Unset, the control plane's own default applies (importing that constant here would load the
    // control plane for every command, admin commands included).
    .addOption(new Option("--data-dir <dir>", "embedded PostgreSQL data directory (default: .weir/postgres)").env("WEIR_DATA_DIR"));
}

/**
 * DATABASE_URL is honoured too, as every Postgres tool does. Anything but a postgres(ql):// URL
 * (or pg's socket: form) is refused: the driver reads "notaurl" as a relative URL and start-up
 * then retried a host named "base" for a minute. SECURITY: the value is not echoed (a password).
 */
export function databaseUrl(flags: DatabaseFlags): string | undefined {
  // An empty variable is an unset one.
  const given = flags.databaseUrl || undefined;
  const url = given ?? (process.env.DATABASE_URL || undefined);
  if (url === undefined) return undefined;
  const source = given !== undefined ? "--database-url" : "DATABASE_URL";
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`${source} is not a URL: use postgres://user:password@host:5432/database`);
  }
  if (!["postgres:", "postgresql:", "socket:"].includes(parsed.protocol)) {
    throw new CliError(`${source} must be a postgres:// or postgresql:// URL, not ${parsed.protocol}//…`);
  }
  return url;
}

/**
 * The password file, checked now so that a missing or empty one is one line before anything
 * starts (it is read again at every new connection). SECURITY: its contents are never echoed.
 */
export async function databasePasswordFile(flags: DatabaseFlags): Promise<string | undefined> {
  const file = flags.databasePasswordFile || undefined;
  if (file === undefined) return undefined;
  const url = databaseUrl(flags);
  if (url === undefined) throw new CliError("--database-password-file needs --database-url: the embedded PostgreSQL has a password of its own");
  const parsed = new URL(url);
  if (parsed.password !== "" || parsed.searchParams.has("password")) throw new CliError("give the database password either in --database-url or in --database-password-file, not both");
  const { isDatabasePasswordFileError, passwordFromFile } = await import("@weir/controlplane");
  try {
    await passwordFromFile(file)();
  } catch (err) {
    if (isDatabasePasswordFileError(err)) throw new CliError(err.message);
    throw err;
  }
  return file;
}

/**
 * Opens the database, runs `work`, closes it. With an embedded PostgreSQL a Ctrl-C meanwhile is
 * held (held-signals.ts); a server's URL keeps Node's default, so that a connection hanging on
 * an unreachable host can still be interrupted (nothing of ours is left running then).
 */
export async function withDatabase<T>(flags: DatabaseFlags, migrate: boolean, work: (db: OpenDatabase) => Promise<T>): Promise<T> {
  const { openDatabase } = await import("@weir/controlplane");
  const url = databaseUrl(flags);
  const passwordFile = await databasePasswordFile(flags);
  const signals = url === undefined ? new HeldSignals() : undefined;
  try {
    const open = await openDatabase({ url, passwordFile, embeddedDataDir: flags.dataDir, migrate, logger: pino({ level: "warn" }, pino.destination(2)) });
    try {
      signals?.throwIfReceived();
      return await work(open);
    } finally {
      await open.close();
    }
  } finally {
    signals?.release();
  }
}

export async function bootstrapFirstOwner(flags: DatabaseFlags, username: string, email: string | undefined) {
  const { bootstrapOwner, isInvalidRequestError } = await import("@weir/controlplane");
  return withDatabase(flags, true, (open) => bootstrapOwner(open.db, { username, email })).catch((err: unknown) => {
    // As the admin API's answer would read: which field, and why.
    throw isInvalidRequestError(err) ? new CliError(errorLine(err)) : err;
  });
}

/** A new API key for an active owner while no active owner has a usable one (see recoverOwnerKey). */
export async function recoverOwnerApiKey(flags: DatabaseFlags, user: string, keyName: string | undefined) {
  const { recoverOwnerKey } = await import("@weir/controlplane");
  return withDatabase(flags, true, (open) => recoverOwnerKey(open.db, { user, keyName }));
}

/**
 * Refuses the database options on a command line where they serve nothing (`users create`
 * without --bootstrap, `tokens create` without --recover): silently ignored, a URL given for the
 * database would have the command go to the admin API instead.
 */
export function refuseDatabaseOptions(command: Command, onlyWith: string): void {
  for (const [key, flag] of [
    ["databaseUrl", "--database-url"],
    ["databasePasswordFile", "--database-password-file"],
    ["dataDir", "--data-dir"],
  ] as const) {
    if (command.getOptionValueSource(key) === "cli") throw new CliError(`${flag} is only used with ${onlyWith}`);
  }
}
