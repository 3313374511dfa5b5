// Options shared by every command that talks to the admin API. When neither a flag nor the
// environment gives them, they fall back to .weir/quickstart.env as written by `weir start`.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Option, type Command } from "commander";
import { AdminClient } from "./admin-client.js";
import { readSecret } from "./secrets.js";
import { CliError } from "./cli-error.js";

export interface AdminFlags {
  readonly url?: string;
  readonly token?: string;
  readonly tokenFile?: string;
}

export function addAdminOptions(command: Command): Command {
  return command
    .addOption(new Option("--url <url>", "control-plane URL (default: from .weir/quickstart.env, else http://127.0.0.1:7080)").env("WEIR_CONTROL_PLANE_URL"))
    .addOption(new Option("--token <key>", "an owner's API key").env("WEIR_ADMIN_TOKEN"))
    .addOption(new Option("--token-file <path>", "file holding an owner's API key").env("WEIR_ADMIN_TOKEN_FILE"));
}

/** Reads KEY=value lines; quotes are not interpreted (weir writes none). */
export function readEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export function adminClient(flags: AdminFlags): AdminClient {
  const quickstartFile = join(process.env.WEIR_DIR ?? ".weir", "quickstart.env");
  const quickstart = existsSync(quickstartFile) ? readEnvFile(quickstartFile) : {};
  const url = flags.url ?? quickstart.WEIR_CONTROL_PLANE_URL ?? "http://127.0.0.1:7080";
  const token = readSecret("the admin token", flags.token, flags.tokenFile) ?? quickstart.WEIR_ADMIN_TOKEN;
  if (!token) throw new CliError("an owner's API key is required: use --token, --token-file or WEIR_ADMIN_TOKEN");
  return new AdminClient({ url, token });
}
