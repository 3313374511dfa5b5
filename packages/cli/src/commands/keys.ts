// weir keys create|list|delete — gateway keys, over the admin API.
import { Command, Option } from "commander";
import { isUuid } from "@weir/proto";
import { jsonOption, yesOption } from "../env-options.js";
import { addAdminOptions, adminClient, type AdminFlags } from "../admin-options.js";
import { confirm } from "../confirm.js";
import { CliError } from "../cli-error.js";
import { printList } from "../table.js";

interface GatewayKey {
  id: string;
  name: string;
  key_prefix: string;
  created_at: string;
  last_used_at?: string;
  allow_delegation: boolean;
}


export function keysCommand(): Command {
  const keys = new Command("keys").description("manage gateway keys (the credential gateway replicas present to the control plane)");

  addAdminOptions(
    keys
      .command("create")
      .description("create a gateway key; the key is printed once")
      .argument("<name>", "lowercase letters, digits and single hyphens, at most 64 characters")
      .addOption(new Option("--allow-delegation", "let gateways holding this key authorize by API key id alone (audited)").env("WEIR_ALLOW_DELEGATION"))
      .addOption(jsonOption()),
  ).action(async (name: string, flags: AdminFlags & { allowDelegation?: boolean; json?: boolean }) => {
    const created = await adminClient(flags).post<GatewayKey & { key: string }>("/api/v2/ai-gateway/keys", {
      name,
      allow_delegation: flags.allowDelegation ?? false,
    });
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(created, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `Created gateway key ${created.name}\n  id:     ${created.id}\n  prefix: ${created.key_prefix}\n  key:    ${created.key}\n` +
        "Store the key now: it is not shown again.\n",
    );
  });

  addAdminOptions(keys.command("list").alias("ls").description("list gateway keys").addOption(jsonOption())).action(
    async (flags: AdminFlags & { json?: boolean }) => {
      const list = await adminClient(flags).get<GatewayKey[]>("/api/v2/ai-gateway/keys");
      printList(
        flags.json ?? false,
        list,
        ["id", "name", "key prefix", "delegation", "last used at", "created at"],
        list.map((k) => [k.id, k.name, k.key_prefix, k.allow_delegation, k.last_used_at, k.created_at]),
      );
    },
  );

  addAdminOptions(
    keys
      .command("delete")
      .alias("rm")
      .description("delete a gateway key by name or id; gateways using it are refused at once")
      .argument("<name-or-id>")
      .addOption(yesOption()),
  ).action(async (nameOrId: string, flags: AdminFlags & { yes?: boolean }) => {
    const client = adminClient(flags);
    const list = await client.get<GatewayKey[]>("/api/v2/ai-gateway/keys");
    // A name first, then an id (reference CLI behaviour).
    const key = list.find((k) => k.name === nameOrId) ?? (isUuid(nameOrId) ? list.find((k) => k.id === nameOrId.toLowerCase()) : undefined);
    if (!key) throw new CliError(`no gateway key named or with id ${JSON.stringify(nameOrId)}`);
    await confirm(`Delete gateway key ${key.name} (${key.key_prefix}…)? Gateways using it stop working`, flags.yes ?? false);
    await client.delete(`/api/v2/ai-gateway/keys/${key.id}`);
    process.stdout.write(`Deleted gateway key ${key.name}\n`);
  });
  return keys;
}
