// Runs the registered migrations. Idempotent and safe to run from several control-plane
// replicas at once: kysely serialises runs with its migration lock (an advisory lock). Reverting
// one is refused while a control plane runs on the database (running-control-plane-lock.ts).
import { Migrator, type Kysely, type MigrationResult } from "kysely";
import { migrationProvider } from "./migrations/index.js";
import { withNoControlPlaneRunning } from "./running-control-plane-lock.js";

function migrator(db: Kysely<any>): Migrator {
  return new Migrator({ db, provider: migrationProvider });
}

function unwrap(action: string, outcome: { error?: unknown; results?: MigrationResult[] }): MigrationResult[] {
  if (outcome.error !== undefined) {
    const failed = outcome.results?.find((r) => r.status === "Error")?.migrationName;
    throw new Error(`${action}${failed ? ` (${failed})` : ""}`, { cause: outcome.error });
  }
  return outcome.results ?? [];
}

/** Applies every pending migration; returns the names applied now. */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  return unwrap("migrate to latest", await migrator(db).migrateToLatest())
    .filter((r) => r.status === "Success")
    .map((r) => r.migrationName);
}

export interface MigrateDownOptions {
  /**
   * Called with the name of the migration about to be reverted, once no control plane can run
   * (a prompt belongs here); throwing aborts with nothing reverted.
   */
  readonly confirm?: (migration: string) => Promise<void>;
}

/**
 * Reverts the most recent migration; returns its name, or undefined when none is applied.
 * Throws RevertRefusedError, touching nothing, while a control plane runs on the database: a
 * down step drops what its migration created (the first one's, every table).
 */
export async function migrateDown(db: Kysely<any>, options: MigrateDownOptions = {}): Promise<string | undefined> {
  return withNoControlPlaneRunning(db, async (session) => {
    const latest = await latestAppliedMigration(session);
    if (latest === undefined) return undefined;
    await options.confirm?.(latest);
    return unwrap("migrate down", await migrator(session).migrateDown()).find((r) => r.status === "Success")?.migrationName;
  });
}

/** The most recent applied migration's name (the one migrateDown would revert), or undefined. */
export async function latestAppliedMigration(db: Kysely<any>): Promise<string | undefined> {
  const applied = (await migrator(db).getMigrations()).filter((m) => m.executedAt !== undefined);
  return applied.at(-1)?.name;
}
