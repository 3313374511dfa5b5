// Every migration, registered in code (no directory scan) so bundles and tests see the same
// list. Append-only: never edit a migration that has shipped; add a new one.
import type { Migration, MigrationProvider } from "kysely";
import * as initial from "./2026_11_22_000000_initial.js";
import * as authorizationNotify from "./2026_12_01_000000_authorization_notify.js";
import * as recordChildrenWithoutForeignKeys from "./2026_12_03_000000_record_children_without_foreign_keys.js";
import * as interceptionFilterIndexes from "./2026_12_04_000000_interception_filter_indexes.js";

export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  "2026_11_22_000000_initial": initial,
  "2026_12_01_000000_authorization_notify": authorizationNotify,
  "2026_12_03_000000_record_children_without_foreign_keys": recordChildrenWithoutForeignKeys,
  "2026_12_04_000000_interception_filter_indexes": interceptionFilterIndexes,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...MIGRATIONS }),
};
