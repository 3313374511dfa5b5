// Recognising Postgres errors by SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html),
// and describing errors for logs without the parts that can carry row data.
import pg from "pg";

export const FOREIGN_KEY_VIOLATION = "23503";
export const UNIQUE_VIOLATION = "23505";
export const CHECK_VIOLATION = "23514";

/** The SQLSTATE of an error the server reported; undefined for anything else (e.g. ECONNREFUSED). */
export function postgresErrorCode(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError ? err.code : undefined;
}

/** The violated constraint's name when `err` is a unique, check or foreign-key violation. */
export function violatedConstraint(err: unknown): string | undefined {
  const code = postgresErrorCode(err);
  if (code !== UNIQUE_VIOLATION && code !== CHECK_VIOLATION && code !== FOREIGN_KEY_VIOLATION) return undefined;
  return (err as pg.DatabaseError).constraint;
}

/**
 * A loggable description of an error and its causes. SECURITY: pg's `detail` repeats the failing
 * row ("Failing row contains (...)", "Key (...)=(...)"), which can hold a token or a hash, so it
 * (and `where`, `internalQuery`) is never included; message, code, constraint and stack are.
 */
export function describeError(err: unknown, depth = 0): Record<string, unknown> {
  if (!(err instanceof Error)) return { value: String(err) };
  const e = err as Error & { code?: unknown; constraint?: unknown; table?: unknown; column?: unknown };
  const out: Record<string, unknown> = { type: err.name, message: err.message, stack: err.stack };
  if (typeof e.code === "string") out.code = e.code;
  if (typeof e.constraint === "string") out.constraint = e.constraint;
  if (typeof e.table === "string") out.table = e.table;
  if (typeof e.column === "string") out.column = e.column;
  if (err.cause !== undefined && depth < 4) out.cause = describeError(err.cause, depth + 1);
  return out;
}
