// weir tokens create|list|delete — users' API keys (what LLM clients send to the gateway), over
// the admin API; `create --recover` works on the database directly to give a locked-out owner a
// key again (only while no active owner has a usable one).
import { Command, Option } from "commander";
import { redactKeys } from "@weir/controlplane/redact";
import { jsonOption, userOption, yesOption } from "../env-options.js";
import { addAdminOptions, adminClient, type AdminFlags } from "../admin-options.js";
import { CliError } from "../cli-error.js";
import { confirm } from "../confirm.js";
import { addDatabaseOptions, recoverOwnerApiKey, refuseDatabaseOptions, type DatabaseFlags } from "../database-options.js";
import { parseDurationSeconds } from "../duration.js";
import { printList } from "../table.js";
import { findUser } from "../users-lookup.js";

interface ApiKey {
  id: string;
  name: string;
  created_at: string;
  expires_at: string | null;
}

export function tokensCommand(): Command {
  const tokens = new Command("tokens").description("manage users' API keys");

  const create = addDatabaseOptions(
    addAdminOptions(
      tokens
        .command("create")
        .description("create an API key for a user; the key is printed once (with --recover: for an owner, directly on the database)")
        .addOption(userOption("the key's owner"))
        .addOption(new Option("--name <name>", "a label for the key").env("WEIR_TOKEN_NAME"))
        .addOption(new Option("--lifetime <duration>", "expire after e.g. 3600, 12h or 30d (default: never)").env("WEIR_TOKEN_LIFETIME"))
        .addOption(
          new Option("--recover", "issue an active owner a key directly on the database (only while no active owner has a usable API key)")
            .env("WEIR_RECOVER")
            .conflicts("lifetime"),
        )
        .addOption(jsonOption()),
    ),
  );
  create.action(async (flags: AdminFlags & DatabaseFlags & { user: string; name?: string; lifetime?: string; recover?: boolean; json?: boolean }) => {
    if (flags.recover) {
      const { user, apiKey } = await recoverOwnerApiKey(flags, flags.user, flags.name);
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(apiKey, null, 2)}\n`
          : `Created API key ${apiKey.id} for owner ${user.username}\n  key: ${apiKey.key}\nStore the key now: it is not shown again. Use it as WEIR_ADMIN_TOKEN.\n`,
      );
      return;
    }
    refuseDatabaseOptions(create, "--recover");
    const client = adminClient(flags);
    const user = await findUser(client, flags.user);
    const body: Record<string, unknown> = { name: flags.name ?? "" };
    if (flags.lifetime) body.lifetime_seconds = parseDurationSeconds("--lifetime", flags.lifetime);
    const created = await client.post<ApiKey & { key: string }>(`/api/v2/users/${user.id}/keys`, body);
    process.stdout.write(
      flags.json
        ? `${JSON.stringify(created, null, 2)}\n`
        : `Created API key ${created.id} for ${user.username}${created.expires_at ? ` (expires ${created.expires_at})` : ""}\n  key: ${created.key}\nStore the key now: it is not shown again.\n`,
    );
  });

  addAdminOptions(tokens.command("list").alias("ls").description("list a user's API keys").addOption(userOption("whose keys")).addOption(jsonOption())).action(
    async (flags: AdminFlags & { user: string; json?: boolean }) => {
      const client = adminClient(flags);
      const user = await findUser(client, flags.user);
      const list = await client.get<ApiKey[]>(`/api/v2/users/${user.id}/keys`);
      printList(flags.json ?? false, list, ["id", "name", "created at", "expires at"], list.map((k) => [k.id, k.name || null, k.created_at, k.expires_at]));
    },
  );

  addAdminOptions(
    tokens.command("delete").alias("rm").description("delete an API key").argument("<key-id>").addOption(userOption("the key's owner")).addOption(yesOption()),
  ).action(async (keyId: string, flags: AdminFlags & { user: string; yes?: boolean }) => {
    // SECURITY: a full key is refused before it goes anywhere, and never repeated whole.
    const masked = redactKeys(keyId);
    if (masked !== keyId) throw new CliError(`${masked} is a full key, not a key ID: pass only the API key's ID (the 10 characters before "-")`);
    const client = adminClient(flags);
    const user = await findUser(client, flags.user);
    await confirm(`Delete API key ${keyId} of ${user.username}?`, flags.yes ?? false);
    await client.delete(`/api/v2/users/${user.id}/keys/${encodeURIComponent(keyId)}`);
    process.stdout.write(`Deleted API key ${keyId}\n`);
  });
  return tokens;
}
