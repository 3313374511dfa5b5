// weir migrate — apply (or revert the latest of) the control plane's migrations.
import { Command, Option } from "commander";
import { confirm } from "../confirm.js";
import { addDatabaseOptions, withDatabase, type DatabaseFlags } from "../database-options.js";
import { yesOption } from "../env-options.js";

export function migrateCommand(): Command {
  return addDatabaseOptions(
    new Command("migrate")
      .description("apply pending database migrations (the control plane also does this at start-up)")
      .addOption(new Option("--down", "revert the most recent migration instead (asks first: it can drop data; refused while a control plane runs)").env("WEIR_MIGRATE_DOWN"))
      .addOption(yesOption()),
  ).action(async (flags: DatabaseFlags & { down?: boolean; yes?: boolean }) => {
    const { migrateDown, migrateToLatest } = await import("@weir/controlplane");
    await withDatabase(flags, false, async ({ db }) => {
      if (flags.down) {
        // migrateDown refuses while a control plane runs on the database, before asking: it asks
        // holding the lock that keeps control planes from starting until the revert is over.
        const reverted = await migrateDown(db, {
          confirm: (latest) =>
            confirm(`Revert migration ${latest}? Its down step drops what it created, data included (the first migration's drops every table)`, flags.yes ?? false),
        });
        process.stdout.write(reverted ? `reverted ${reverted}\n` : "no migration to revert\n");
        return;
      }
      const applied = await migrateToLatest(db);
      process.stdout.write(applied.length ? applied.map((m) => `applied ${m}\n`).join("") : "database is up to date\n");
    });
  });
}
