// Public surface of @weir/controlplane.
export { DEFAULT_EMBEDDED_DATA_DIR, createKysely, openDatabase } from "./db/database.js";
export type { DatabaseOptions, OpenDatabase } from "./db/database.js";
export { EmbeddedPostgresRootError, startEmbeddedPostgres } from "./db/embedded-postgres.js";
export type { EmbeddedPostgres, EmbeddedPostgresOptions } from "./db/embedded-postgres.js";
export { migrateDown, migrateToLatest } from "./db/migrate.js";
export { MIGRATIONS } from "./db/migrations/index.js";
export { SYSTEM_USER_ID } from "./db/migrations/2026_11_22_000000_initial.js";
export type { Database } from "./db/schema.js";
