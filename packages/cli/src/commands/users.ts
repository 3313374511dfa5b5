// weir users create|list|delete|suspend|activate — over the admin API; `create --bootstrap`
// works on the database directly to make the first owner of an empty deployment.
import { Command, Option } from "commander";
import { jsonOption, yesOption } from "../env-options.js";
import { addAdminOptions, adminClient, type AdminFlags } from "../admin-options.js";
import { CliError } from "../cli-error.js";
import { confirm } from "../confirm.js";
import { printList } from "../table.js";
import { findUser, type User } from "../users-lookup.js";
import { addDatabaseOptions, bootstrapFirstOwner, refuseDatabaseOptions, type DatabaseFlags } from "../database-options.js";

export function usersCommand(): Command {
  const users = new Command("users").description("manage users");

  addDatabaseOptions(
    addAdminOptions(
      users
        .command("create")
        .description("create a user (with --bootstrap: the first owner, directly on the database, printing an API key once)")
        .argument("<username>")
        .addOption(new Option("--email <email>", "email address").env("WEIR_EMAIL"))
        .addOption(new Option("--role <role>", "owner or member").choices(["owner", "member"]).default("member").env("WEIR_ROLE"))
        .addOption(new Option("--bootstrap", "create the first owner directly on the database (only while no owner exists)").env("WEIR_BOOTSTRAP"))
        .addOption(jsonOption()),
    ),
  ).action(async (username: string, flags: AdminFlags & DatabaseFlags & { email?: string; role: string; bootstrap?: boolean; json?: boolean }, command: Command) => {
    if (flags.bootstrap) {
      // Bootstrap makes an owner: a role asked for explicitly (the default aside) must be that.
      if (flags.role !== "owner" && command.getOptionValueSource("role") !== "default") {
        throw new CliError(`--bootstrap creates the first owner, not a ${flags.role}: leave out --role ${flags.role}, and create members with the owner's API key once it exists`);
      }
      const { user, key } = await bootstrapFirstOwner(flags, username, flags.email);
      process.stdout.write(
        flags.json
          ? `${JSON.stringify({ user, key }, null, 2)}\n`
          : `Created owner ${user.username} (${user.id})\n  API key: ${key}\nStore the key now: it is not shown again. Use it as WEIR_ADMIN_TOKEN.\n`,
      );
      return;
    }
    refuseDatabaseOptions(command, "--bootstrap");
    const user = await adminClient(flags).post<User>("/api/v2/users", { username, email: flags.email, role: flags.role });
    process.stdout.write(flags.json ? `${JSON.stringify(user, null, 2)}\n` : `Created ${user.role} ${user.username} (${user.id})\n`);
  });

  addAdminOptions(users.command("list").alias("ls").description("list users").addOption(jsonOption())).action(
    async (flags: AdminFlags & { json?: boolean }) => {
      const list = await adminClient(flags).get<User[]>("/api/v2/users");
      printList(flags.json ?? false, list, ["id", "username", "email", "role", "status", "created at"], list.map((u) => [u.id, u.username, u.email, u.role, u.status, u.created_at]));
    },
  );

  addAdminOptions(
    users.command("delete").alias("rm").description("delete a user (their API keys stop working)").argument("<username-or-id>").addOption(yesOption()),
  ).action(async (who: string, flags: AdminFlags & { yes?: boolean }) => {
    const client = adminClient(flags);
    const user = await findUser(client, who);
    await confirm(`Delete user ${user.username}? Their API keys stop working`, flags.yes ?? false);
    await client.delete(`/api/v2/users/${user.id}`);
    process.stdout.write(`Deleted user ${user.username}\n`);
  });

  for (const [name, status, verb] of [
    ["suspend", "suspended", "Suspended"],
    ["activate", "active", "Activated"],
  ] as const) {
    addAdminOptions(users.command(name).description(`${name} a user`).argument("<username-or-id>")).action(async (who: string, flags: AdminFlags) => {
      const client = adminClient(flags);
      const user = await findUser(client, who);
      await client.patch<User>(`/api/v2/users/${user.id}`, { status });
      process.stdout.write(`${verb} user ${user.username}\n`);
    });
  }
  return users;
}
