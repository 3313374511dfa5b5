// Pins that a setting given on the command line one way (--token-file) wins over its other way
// in the environment (WEIR_ADMIN_TOKEN), for the admin token and the gateway key; both ways in
// one place are still both given (and refused where the setting is read).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "commander";
import { addAdminOptions } from "./admin-options.js";
import { preferCommandLineToEnvironment } from "./command-line-first.js";
import { gatewayCommand } from "./commands/gateway.js";

/** `command`'s options given a value, parsed from `args` with `env` as the only WEIR_* variables. */
function parse(command: Command, args: string[], env: Record<string, string>): Record<string, unknown> {
  const saved = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith("WEIR_")));
  for (const name of Object.keys(saved)) delete process.env[name];
  Object.assign(process.env, env);
  try {
    command.exitOverride().action(() => undefined);
    preferCommandLineToEnvironment(command);
    command.parse(args, { from: "user" });
    return Object.fromEntries(Object.entries(command.opts()).filter(([, v]) => v !== undefined));
  } finally {
    for (const name of Object.keys(env)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}

const admin = () => addAdminOptions(new Command("list"));
/** The gateway's own options, without its action. */
function gateway(): Command {
  const command = new Command("gateway");
  for (const option of gatewayCommand().options) command.addOption(option);
  return command;
}

describe("the command line before the environment", () => {
  it("takes --token-file over WEIR_ADMIN_TOKEN, and --token over WEIR_ADMIN_TOKEN_FILE", () => {
    assert.deepEqual(parse(admin(), ["--token-file", "/run/secrets/owner"], { WEIR_ADMIN_TOKEN: "from-env" }), { tokenFile: "/run/secrets/owner" });
    assert.deepEqual(parse(admin(), ["--token", "inline"], { WEIR_ADMIN_TOKEN_FILE: "/env/file" }), { token: "inline" });
  });

  it("leaves both when both come from one place", () => {
    assert.deepEqual(parse(admin(), [], { WEIR_ADMIN_TOKEN: "a", WEIR_ADMIN_TOKEN_FILE: "/f" }), { token: "a", tokenFile: "/f" });
    assert.deepEqual(parse(admin(), ["--token", "a", "--token-file", "/f"], {}), { token: "a", tokenFile: "/f" });
  });

  it("does the same for the gateway key, and leaves unrelated variables alone", () => {
    const opts = parse(gateway(), ["--key-file", "/run/secrets/gateway"], { WEIR_GATEWAY_KEY: "from-env", WEIR_CONTROL_PLANE_URL: "http://cp:7080" });
    assert.equal(opts.keyFile, "/run/secrets/gateway");
    assert.equal(opts.key, undefined);
    assert.equal(opts.controlPlaneUrl, "http://cp:7080");
  });
});
