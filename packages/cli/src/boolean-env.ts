// Commander turns a boolean flag on whenever its environment variable is defined, whatever its
// value: WEIR_ALLOW_BYOK=false would allow BYOK and WEIR_YES=0 skip a confirmation. Before any
// command runs, every boolean flag that came from the environment is read again from its value.
import type { Command } from "commander";
import { CliError } from "./cli-error.js";

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off|)$/i;

/** true or false for a boolean variable's text; a CliError naming the variable otherwise. */
export function parseBooleanEnv(name: string, value: string): boolean {
  const text = value.trim();
  if (TRUE.test(text)) return true;
  if (FALSE.test(text)) return false;
  throw new CliError(`${name} must be true or false (also 1/0, yes/no, on/off), got ${JSON.stringify(value)}`);
}

/** Re-reads the boolean flags `command` took from the environment (a preAction hook). */
export function applyBooleanEnv(command: Command): void {
  for (const option of command.options) {
    if (!option.isBoolean() || option.envVar === undefined) continue;
    const key = option.attributeName();
    if (command.getOptionValueSource(key) !== "env") continue;
    if (!parseBooleanEnv(option.envVar, process.env[option.envVar] ?? "")) command.setOptionValueWithSource(key, undefined, "env");
  }
}
