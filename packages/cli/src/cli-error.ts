// An error the CLI reports as one line on stderr with exit code 1, without a stack trace.
export class CliError extends Error {
  override readonly name = "CliError";
}

export function isCliError(err: unknown): err is CliError {
  return err instanceof Error && err.name === "CliError";
}
