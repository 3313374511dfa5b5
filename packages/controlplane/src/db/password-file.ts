// The database password kept in a file (`--database-password-file`) instead of the URL: read
// for every new connection, not once, so a password rotated by a secrets manager (a Vault
// agent, a mounted Kubernetes Secret) is used without a restart. Connections already open keep
// working: PostgreSQL checks a password only at login. Trimmed like every secret file of ours.
import { readFile } from "node:fs/promises";

/** The file cannot give a password; the message names it (never its contents). */
export class DatabasePasswordFileError extends Error {
  override readonly name = "DatabasePasswordFileError";
}

export function isDatabasePasswordFileError(err: unknown): err is DatabasePasswordFileError {
  return err instanceof DatabasePasswordFileError;
}

/** What pg calls at every login for the password. SECURITY: its result is a secret. */
export type PasswordSource = () => Promise<string>;

/** A PasswordSource reading `path` at every call; rejects with DatabasePasswordFileError. */
export function passwordFromFile(path: string): PasswordSource {
  return async () => {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw new DatabasePasswordFileError(`read the database password file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const password = text.trim();
    if (password === "") throw new DatabasePasswordFileError(`the database password file ${path} is empty`);
    return password;
  };
}
