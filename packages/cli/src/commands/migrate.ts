// weir migrate — apply (or revert the latest of) the control plane's migrations.
import { Command, Option } from "commander";
import { confirm } from "../confirm.js";
import { addDatabaseOptions, withDatabase, type DatabaseFlags } from "../database-options.js";
import { yesOption } from "../env-options.js";

export function migrateCommand(): Command {
  return addDatabaseOptions(
    new Command("migrate")
      .description("apply pending database migrations (the control plane also does this at start-up)")
      .addOption(new Option("--down", "revert the most recent migration instead (asks first: it can drop data)").env("WEIR_MIGRATE_DOWN"))
      .addOption(yesOption()),
  ).action(async (flags: DatabaseFlags & { down?: boolean; yes?: boolean }) => {
    const { latestAppliedMigration, migrateDown, migrateToLatest } = await import("@weir/controlplane");
    await withDatabase(flags, false, async ({ db }) => {
      if (flags.down) {
        const latest = await latestAppliedMigration(db);
        if (latest === undefined) {
          process.stdout.write("no migration to revert\n");
          return;
        }
        // A down step drops what its migration created; the first one's drops every table, with
        // every recorded interception, under any control plane still running.
        await confirm(`Revert migration ${latest}? Its down step drops what it created, data included (the first migration's drops every table); stop the control planes first`, flags.yes ?? false);
        const reverted = await migrateDown(db);
        process.stdout.write(reverted ? `reverted ${reverted}\n` : "no migration to revert\n");
        return;
      }
      const applied = await migrateToLatest(db);
      process.stdout.write(applied.length ? applied.map((m) => `applied ${m}\n`).join("") : "database is up to date\n");
    });
  });
}
