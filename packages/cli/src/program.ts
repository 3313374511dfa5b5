// The command tree of `weir`.
import { Command } from "commander";
import { readBooleanEnvByValue } from "./boolean-env.js";
import { preferCommandLineToEnvironment } from "./command-line-first.js";
import { controlPlaneCommand } from "./commands/control-plane.js";
import { gatewayCommand } from "./commands/gateway.js";
import { interceptionsCommand } from "./commands/interceptions.js";
import { keysCommand } from "./commands/keys.js";
import { migrateCommand } from "./commands/migrate.js";
import { startCommand } from "./commands/start.js";
import { tokensCommand } from "./commands/tokens.js";
import { usersCommand } from "./commands/users.js";

export function createProgram(): Command {
  const program = new Command("weir")
    .description("Weir: a self-hosted AI gateway (control plane + stateless gateway replicas)")
    .showHelpAfterError()
    .addCommand(startCommand())
    .addCommand(controlPlaneCommand())
    .addCommand(gatewayCommand())
    .addCommand(migrateCommand())
    .addCommand(keysCommand())
    .addCommand(usersCommand())
    .addCommand(tokensCommand())
    .addCommand(interceptionsCommand());
  readBooleanEnvByValue(program);
  preferCommandLineToEnvironment(program);
  return program;
}
