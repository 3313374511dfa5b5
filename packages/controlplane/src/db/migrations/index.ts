// Every migration, registered in code (no directory scan) so bundles and tests see the same
// list. Append-only: never edit a migration that has shipped; add a new one.
import type { Migration, MigrationProvider } from "kysely";
import * as initial from "./2026_11_22_000000_initial.js";

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  "2026_11_22_000000_initial": initial,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};
