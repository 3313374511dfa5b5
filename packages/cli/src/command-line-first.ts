// A value and its file (--token / --token-file, --key / --key-file, ...) are one setting given
// two ways, and each may also come from its WEIR_* variable. Given one way on the command line
// and the other in the environment, the command line wins, as it does for every other flag:
// `weir users list --token-file t` with WEIR_ADMIN_TOKEN exported used to be refused as the
// token given twice. Given both ways in one place, it is still refused where it is read.
import type { Command, Option } from "commander";

/** The `--x` option of an `--x-file` option, if `command` has one. */
function inlineOf(command: Command, file: Option): Option | undefined {
  const long = file.long?.replace(/-file$/, "");
  return long === undefined || long === file.long ? undefined : command.options.find((o) => o.long === long);
}

/** Applies the rule to `command` and its subcommands. */
export function preferCommandLineToEnvironment(command: Command): void {
  for (const file of command.options) {
    const inline = inlineOf(command, file);
    if (inline === undefined) continue;
    for (const [fromEnv, other] of [
      [file, inline],
      [inline, file],
    ] as const) {
      // Commander reads the variables after the command line: here, the other is already known.
      command.on(`optionEnv:${fromEnv.name()}`, () => {
        if (command.getOptionValueSource(other.attributeName()) !== "cli") return;
        command.setOptionValueWithSource(fromEnv.attributeName(), undefined, "default");
      });
    }
  }
  for (const sub of command.commands) preferCommandLineToEnvironment(sub);
}
