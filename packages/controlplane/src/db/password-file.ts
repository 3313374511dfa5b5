// The database password kept in a file (`--database-password-file`) instead of the URL: read
// for every new connection, not once, so a password rotated by a secrets manager (a Vault
// agent, a mounted Kubernetes Secret) is used without a restart. Connections already open keep
// working: PostgreSQL checks a password only at login. Trimmed like every secret file of ours.
//
// Once a password has been read, a file that cannot be read or is empty (being rewritten, or
// gone) does not fail the login: the last password read is used, with a warning. A failure here
// would also leave pg's half-opened connection behind, holding a server slot until PostgreSQL's
// authentication_timeout.
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";

/** The file cannot give a password; the message names it (never its contents). */
export class DatabasePasswordFileError extends Error {
  override readonly name = "DatabasePasswordFileError";
}

export function isDatabasePasswordFileError(err: unknown): err is DatabasePasswordFileError {
  return err instanceof DatabasePasswordFileError;
}

/** What pg calls at every login for the password. SECURITY: its result is a secret. */
export type PasswordSource = () => Promise<string>;

/**
 * A PasswordSource reading `path` at every call. Rejects with DatabasePasswordFileError only
 * until a password has been read; after that, see the header.
 */
export function passwordFromFile(path: string, logger?: Logger): PasswordSource {
  let lastRead: string | undefined;
  let warned = false;
  return async () => {
    try {
      lastRead = await readPassword(path);
      warned = false;
    } catch (err) {
      if (lastRead === undefined) throw err;
      // Once per spell of failures, not once per connection.
      if (!warned) logger?.warn({ err: (err as Error).message }, "database password file unusable; logging in with the password read before");
      warned = true;
    }
    return lastRead;
  };
}

async function readPassword(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new DatabasePasswordFileError(`read the database password file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const password = text.trim();
  if (password === "") throw new DatabasePasswordFileError(`the database password file ${path} is empty`);
  return password;
}
