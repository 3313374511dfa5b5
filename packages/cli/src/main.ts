// The `weir` command. Errors end the process with one line on stderr and exit code 1.
import { CommanderError } from "commander";
// The light subpath: admin commands must not load the daemons just to mask a key.
import { redactKeys } from "@weir/controlplane/redact";
import { isCliError } from "./cli-error.js";
import { createProgram } from "./program.js";

// Errors whose message says it all: what is wrong and how to mend it, the cause's words included.
// (Above the top-level await below, which describes errors before later lines run.)
const WHOLE_MESSAGE_ERRORS: ReadonlySet<string> = new Set(["DatabaseTlsError"]);

try {
  await createProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const message = isCliError(err) ? err.message : describe(err);
  // SECURITY: an error never repeats a full key (a pasted key keeps only its id or prefix).
  process.stderr.write(`weir: ${redactKeys(message)}\n`);
  process.exit(1);
}

// Unexpected errors still get one line: the message and its causes, no stack.
function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 4; e = e.cause) {
    parts.push(e.message);
    if (WHOLE_MESSAGE_ERRORS.has(e.name)) break;
  }
  return parts.join(": ") || String(err);
}
