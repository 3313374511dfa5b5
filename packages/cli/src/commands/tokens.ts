// weir tokens create|list|delete — users' API keys (what LLM clients send to the gateway).
import { Command, Option } from "commander";
import { jsonOption, userOption, yesOption } from "../env-options.js";
import { addAdminOptions, adminClient, type AdminFlags } from "../admin-options.js";
import { confirm } from "../confirm.js";
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

  addAdminOptions(
    tokens
      .command("create")
      .description("create an API key for a user; the key is printed once")
      .addOption(userOption("the key's owner"))
      .addOption(new Option("--name <name>", "a label for the key").env("WEIR_TOKEN_NAME"))
      .addOption(new Option("--lifetime <duration>", "expire after e.g. 3600, 12h or 30d (default: never)").env("WEIR_TOKEN_LIFETIME"))
      .addOption(jsonOption()),
  ).action(async (flags: AdminFlags & { user: string; name?: string; lifetime?: string; json?: boolean }) => {
    const client = adminClient(flags);
    const user = await findUser(client, flags.user);
    const body: Record<string, unknown> = { name: flags.name ?? "" };
    if (flags.lifetime) body.lifetime_seconds = parseDurationSeconds(flags.lifetime);
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
    const client = adminClient(flags);
    const user = await findUser(client, flags.user);
    await confirm(`Delete API key ${keyId} of ${user.username}?`, flags.yes ?? false);
    await client.delete(`/api/v2/users/${user.id}/keys/${encodeURIComponent(keyId)}`);
    process.stdout.write(`Deleted API key ${keyId}\n`);
  });
  return tokens;
}
