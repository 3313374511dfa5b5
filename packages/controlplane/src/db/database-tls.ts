// TLS to PostgreSQL, as the database URL asks for it (node-postgres reads sslmode, sslrootcert,
// sslcert and sslkey from the URL at every new connection). Three things here: the files the URL
// names are checked once at start-up, so a wrong path is one line naming the parameter; an
// sslmode that libpq reads as "do not verify" is written as what node-postgres does with it
// (verify-full), once, with a log line instead of Node's multi-line process warning; and a
// connection refused over TLS settings is explained with the parameter that mends it.
import { access, constants } from "node:fs/promises";
import type { Logger } from "pino";

/** A TLS setting of the database URL that cannot work; the message says which and how to mend it. */
export class DatabaseTlsError extends Error {
  override readonly name = "DatabaseTlsError";
}

export function isDatabaseTlsError(err: unknown): err is DatabaseTlsError {
  return err instanceof DatabaseTlsError;
}

/** URL parameters naming files node-postgres reads at every connection. */
const FILE_PARAMETERS = ["sslrootcert", "sslcert", "sslkey"] as const;

/** The URL's query parameters; pg's socket: form and anything unparsable have none we read. */
function parameters(url: string): URLSearchParams {
  try {
    return new URL(url).searchParams;
  } catch {
    return new URLSearchParams();
  }
}

/**
 * Rejects with DatabaseTlsError when a file the URL names for TLS cannot be read. Checked once:
 * node-postgres reads them again at every connection, so a renewed certificate needs no restart.
 */
export async function checkDatabaseTlsFiles(url: string): Promise<void> {
  const params = parameters(url);
  for (const name of FILE_PARAMETERS) {
    const path = params.get(name);
    if (path === null) continue;
    try {
      await access(path, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (code ?? (err as Error).message);
      // No cause: Node's text would only repeat the path and the reason.
      throw new DatabaseTlsError(`the database URL's ${name} ${path}: cannot read it: ${why}`);
    }
  }
}

// libpq verifies nothing for these; node-postgres 8 verifies the certificate and the host name
// for all three, as for verify-full, and says so in a process warning on stderr.
const VERIFY_FULL_ALIASES = /([?&]sslmode=)(prefer|require|verify-ca)(?=&|#|$)/;

/**
 * The URL with an sslmode that node-postgres takes as verify-full written as verify-full, and
 * what it said (for one log line). Unchanged when it asks for libpq's meaning (uselibpqcompat).
 */
export function explicitSslMode(url: string): { url: string; aliased?: string } {
  if (parameters(url).get("uselibpqcompat") === "true") return { url };
  const match = VERIFY_FULL_ALIASES.exec(url);
  if (match === null) return { url };
  return { url: url.replace(VERIFY_FULL_ALIASES, "$1verify-full"), aliased: match[2] };
}

/** explicitSslMode, logging what it changed. */
export function explicitSslModeLogged(url: string, logger: Logger): string {
  const { url: explicit, aliased } = explicitSslMode(url);
  if (aliased !== undefined) {
    logger.warn(
      { sslmode: aliased },
      `database URL: sslmode=${aliased} verifies the server's certificate and host name, as verify-full (node-postgres); add uselibpqcompat=true for libpq's meaning`,
    );
  }
  return explicit;
}

// Node's codes for a server certificate whose issuer the client does not trust.
const UNTRUSTED_CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);
const OUT_OF_DATE_CERTIFICATE_CODES: ReadonlySet<string> = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);
// node-postgres' words when the server answers the TLS request with "no".
const SERVER_WITHOUT_TLS = "The server does not support SSL connections";
// PostgreSQL's (SQLSTATE 28000) for a pg_hba.conf line that refuses connections without TLS,
// and for `cert` authentication without a client certificate.
const REFUSED_WITHOUT_TLS = /, no encryption$/;
const CLIENT_CERTIFICATE_REQUIRED = /^connection requires a valid client certificate$/;
const CLIENT_CERTIFICATE_OF_ANOTHER_USER = /^certificate authentication failed for user /;

/**
 * What the TLS settings of the database URL have to do with a failed connection, as advice, or
 * undefined when the error is not about them. Waiting mends none of these; an operator must.
 */
export function databaseTlsProblem(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") {
      if (UNTRUSTED_CERTIFICATE_CODES.has(code)) return `cannot verify the database server's certificate (${code}): give the CA that issued it with sslrootcert=<file> in the database URL`;
      if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "the database server's certificate does not name the host of the database URL (ERR_TLS_CERT_ALTNAME_INVALID): connect by a name it was issued for";
      if (OUT_OF_DATE_CERTIFICATE_CODES.has(code)) return `the database server's certificate is out of date (${code}): renew it`;
      if (code === "28000" && REFUSED_WITHOUT_TLS.test(e.message)) return "the database server accepts only TLS connections: add sslmode=verify-full to the database URL (and sslrootcert=<file> for a private CA)";
      if (code === "28000" && CLIENT_CERTIFICATE_REQUIRED.test(e.message)) return "the database server asks for a client certificate: give it with sslcert=<file>&sslkey=<file> in the database URL";
      if (code === "28000" && CLIENT_CERTIFICATE_OF_ANOTHER_USER.test(e.message)) return "the client certificate (sslcert) does not name the database URL's user as its common name (CN)";
    }
    if (e.message === SERVER_WITHOUT_TLS) return "the database server does not accept TLS connections: turn ssl on in its postgresql.conf, or remove sslmode from the database URL";
  }
  return undefined;
}

/** `err` as a DatabaseTlsError carrying the advice, when there is advice; otherwise `err`. */
export function withDatabaseTlsAdvice(err: unknown): unknown {
  const advice = databaseTlsProblem(err);
  return advice === undefined || isDatabaseTlsError(err) ? err : new DatabaseTlsError(advice, { cause: err });
}
