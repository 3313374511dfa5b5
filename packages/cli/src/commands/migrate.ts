// weir migrate — apply (or revert the latest of) the control plane's migrations.
import { Command, Option } from "commander";
import { addDatabaseOptions, withDatabase, type DatabaseFlags } from "../database-options.js";

export function migrateCommand(): Command {
  return addDatabaseOptions(
    new Command("migrate").description("apply pending database migrations (the control plane also does this at start-up)").addOption(new Option("--down", "revert the most recent migration instead").env("WEIR_MIGRATE_DOWN")),
  ).action(async (flags: DatabaseFlags & { down?: boolean }) => {
    const { migrateDown, migrateToLatest } = await import("@weir/controlplane");
    await withDatabase(flags, false, async ({ db }) => {
      if (flags.down) {
        const reverted = await migrateDown(db);
        process.stdout.write(reverted ? `reverted ${reverted}\n` : "no migration to revert\n");
        return;
      }
      const applied = await migrateToLatest(db);
      process.stdout.write(applied.length ? applied.map((m) => `applied ${m}\n`).join("") : "database is up to date\n");
    });
  });
}
