// Recognising Postgres errors by SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html),
// and describing errors for logs without the parts that can carry row data.
import pg from "pg";
import { databaseTlsProblem } from "./database-tls.js";

export const FOREIGN_KEY_VIOLATION = "23503";
export const UNIQUE_VIOLATION = "23505";
export const CHECK_VIOLATION = "23514";
/** A statement cancelled, e.g. by statement_timeout. */
export const QUERY_CANCELED = "57014";

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

// SQLSTATEs of a server that is going away or not taking connections: class 08 (connection
// exception), 57P01–57P03 (admin/crash shutdown, cannot connect now), 53300 (too many
// connections), and what refuses a new connection to a database that is there for others:
// 3D000 (it was dropped or renamed), 28000/28P01 (the role may no longer log in, its password
// changed). Each refuses every query until an operator acts: an outage, not a failed statement.
// At start-up those three are a mistake in the URL, which waiting does not mend.
const REFUSED_BY_CONFIGURATION = new Set(["3D000", "28000", "28P01"]);
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", ...REFUSED_BY_CONFIGURATION]);
// 55000 is any "object not in prerequisite state"; at connection time it is a database closed to
// new connections (ALTER DATABASE … ALLOW_CONNECTIONS false, or a database being dropped).
const NOT_ACCEPTING_CONNECTIONS = /is not currently accepting connections/;
// Socket errors of a server that cannot be reached.
const UNREACHABLE_SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "EPIPE"]);
// pg and pg-pool report a lost or timed-out connection with these messages and no code.
const UNAVAILABLE_MESSAGES = [
  "Connection terminated",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
];
// pg-pool's answer when every pooled connection stayed busy for connectionTimeoutMillis: the
// server is there, this process has more work than connections.
const POOL_EXHAUSTED_MESSAGE = "timeout exceeded when trying to connect";

/** `err` and its causes, outermost first (at most five): domain errors wrap the driver's. */
function* causes(err: unknown): Generator<Error> {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) yield e;
}

/**
 * True when `err` (or one of its causes: a failed gateway-key lookup wraps it) is a query that
 * waited too long for a free pooled connection: overload, not outage.
 */
export function isPoolExhaustedError(err: unknown): boolean {
  for (const e of causes(err)) if (e.message.startsWith(POOL_EXHAUSTED_MESSAGE)) return true;
  return false;
}

/**
 * True when `err` (or one of its causes) says the database cannot be reached or is going away,
 * as opposed to refusing a statement: the caller should answer "unavailable, try again", not
 * "internal error".
 */
export function isDatabaseUnavailableError(err: unknown): boolean {
  for (const e of causes(err)) {
    const sqlstate = postgresErrorCode(e);
    if (sqlstate !== undefined && (sqlstate.startsWith("08") || UNAVAILABLE_SQLSTATES.has(sqlstate))) return true;
    if (sqlstate === "55000" && NOT_ACCEPTING_CONNECTIONS.test(e.message)) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && UNREACHABLE_SOCKET_CODES.has(code)) return true;
    if (UNAVAILABLE_MESSAGES.some((m) => e.message.startsWith(m))) return true;
  }
  // A server certificate no longer trusted or out of date refuses every new connection too.
  return databaseTlsProblem(err) !== undefined;
}

/**
 * True when the server refused the connection for what the connection says: a database that does
 * not exist, a role that may not log in, a wrong password, TLS settings that cannot work. Start-up fails at once on these
 * instead of waiting for an outage to end.
 */
export function isConnectionRefusedByConfiguration(err: unknown): boolean {
  for (const e of causes(err)) {
    const sqlstate = postgresErrorCode(e);
    if (sqlstate !== undefined && REFUSED_BY_CONFIGURATION.has(sqlstate)) return true;
  }
  return databaseTlsProblem(err) !== undefined;
}
