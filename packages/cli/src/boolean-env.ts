// Commander turns a boolean flag on whenever its environment variable is defined, whatever its
// value: WEIR_ALLOW_BYOK=false would allow BYOK and WEIR_YES=0 skip a confirmation. Every boolean
// flag that comes from the environment is read again from its value.
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

/**
 * Makes every boolean flag of `command` and its subcommands read its variable by value. Commander
 * sets the flag when it reads the variable; this listener runs right after, before commander
 * checks conflicting options, so a variable that says false counts as not given at all.
 */
export function readBooleanEnvByValue(command: Command): void {
  for (const option of command.options) {
    const envVar = option.envVar;
    // Commander's isBoolean() leaves out --no-x flags, which are switches all the same.
    if (!(option.isBoolean() || option.negate) || envVar === undefined) continue;
    const key = option.attributeName();
    command.on(`optionEnv:${option.name()}`, () => {
      if (command.getOptionValueSource(key) !== "env") return;
      const value = process.env[envVar] ?? "";
      const on = parseBooleanEnv(envVar, value);
      // A --no-x flag's variable names the setting itself: WEIR_AUTH_CACHE=false is
      // --no-auth-cache; true, or empty (an empty variable is an unset one), leaves the
      // setting on, as if the flag were not given.
      if (option.negate) {
        if (on || value.trim() === "") command.setOptionValueWithSource(key, true, "default");
      } else if (!on) command.setOptionValueWithSource(key, undefined, "env");
    });
  }
  for (const sub of command.commands) readBooleanEnvByValue(sub);
}
