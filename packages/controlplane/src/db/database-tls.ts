// TLS to PostgreSQL, as the database URL asks for it (node-postgres reads sslmode, sslrootcert,
// sslcert and sslkey from the URL at every new connection). Three things here: the files the URL
// names are checked once at start-up, so a wrong path or a key for another certificate is one
// line naming the parameter; an sslmode that libpq reads as "do not verify" is written as what
// node-postgres does with it (verify-full), once, with a log line instead of Node's multi-line
// process warning; and a connection refused over TLS settings is explained with the parameter
// that mends it.
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
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
type FileParameter = (typeof FILE_PARAMETERS)[number];

/**
 * Where the URL's query is, as the WHATWG parser node-postgres uses finds it: from the first "?"
 * (which also ends a user name, password or host) to the fragment. Undefined without one, and
 * for pg's `socket:` URLs, whose TLS parameters it ignores.
 */
function queryBounds(url: string): { start: number; end: number } | undefined {
  if (/^socket:/i.test(url)) return undefined;
  const question = url.indexOf("?");
  const hash = url.indexOf("#");
  if (question < 0 || (hash >= 0 && hash < question)) return undefined;
  return { start: question + 1, end: hash < 0 ? url.length : hash };
}

/** The URL's query parameters, the last of a repeated name winning (as in node-postgres). */
function parameters(url: string): Map<string, string> {
  const bounds = queryBounds(url);
  return new Map(bounds === undefined ? [] : new URLSearchParams(url.slice(bounds.start, bounds.end)));
}

/**
 * Rejects with DatabaseTlsError when the URL's TLS files cannot serve: unreadable, not PEM, a
 * client certificate without its key or with another certificate's. Checked once: node-postgres
 * reads them again at every connection, so a renewed certificate needs no restart.
 */
export async function checkDatabaseTlsFiles(url: string): Promise<void> {
  const params = parameters(url);
  const files = new Map<FileParameter, Buffer>();
  for (const name of FILE_PARAMETERS) {
    const path = params.get(name);
    if (path !== undefined) files.set(name, await read(name, path));
  }
  const ca = files.get("sslrootcert");
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch {
      throw new DatabaseTlsError(`the database URL's sslrootcert ${params.get("sslrootcert")}: not a PEM certificate`);
    }
  }
  const cert = files.get("sslcert");
  const key = files.get("sslkey");
  if ((cert === undefined) !== (key === undefined)) throw new DatabaseTlsError("the database URL gives sslcert and sslkey together or not at all: the client certificate and its private key");
  if (cert !== undefined && key !== undefined) {
    try {
      createSecureContext({ cert, key });
    } catch (err) {
      const reason = (err as { reason?: unknown }).reason;
      throw new DatabaseTlsError(
        `the database URL's sslcert ${params.get("sslcert")} and sslkey ${params.get("sslkey")} cannot serve as a client certificate: ${typeof reason === "string" ? reason : (err as Error).message}`,
      );
    }
  }
}

async function read(name: FileParameter, path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    // No cause: Node's text would only repeat the path and the reason.
    throw new DatabaseTlsError(`the database URL's ${name} ${path}: cannot read it: ${fileErrorText(err)}`);
  }
}

const FILE_ERRORS: Readonly<Record<string, string>> = { ENOENT: "no such file", EACCES: "permission denied", EISDIR: "it is a directory" };

function fileErrorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return (code !== undefined ? FILE_ERRORS[code] : undefined) ?? code ?? (err as Error).message;
}

/**
 * What node-postgres throws when it cannot read a TLS file of the URL as it makes a connection
 * (a renewal under way): said as a DatabaseTlsError, which the pools count as an outage.
 */
export function tlsFileUnreadable(err: unknown): DatabaseTlsError | undefined {
  const e = err as NodeJS.ErrnoException;
  if (e?.syscall !== "open" || typeof e.path !== "string") return undefined;
  return new DatabaseTlsError(`a TLS file of the database URL cannot be read: ${e.path}: ${fileErrorText(err)}`, { cause: err });
}

// libpq verifies nothing for these; node-postgres 8 verifies the certificate and the host name
// for all three, as for verify-full, and says so in a process warning on stderr.
const VERIFY_FULL_ALIASES: ReadonlySet<string> = new Set(["prefer", "require", "verify-ca"]);

/**
 * The URL with an sslmode that node-postgres takes as verify-full written as verify-full, and
 * what it said (for one log line); every other byte as it was. Unchanged when it asks for
 * libpq's meaning (uselibpqcompat=true).
 */
export function explicitSslMode(url: string): { url: string; aliased?: string } {
  const bounds = queryBounds(url);
  if (bounds === undefined) return { url };
  const params = parameters(url);
  const mode = params.get("sslmode");
  if (mode === undefined || !VERIFY_FULL_ALIASES.has(mode) || params.get("uselibpqcompat") === "true") return { url };
  const entries = url.slice(bounds.start, bounds.end).split("&");
  // The one node-postgres reads: the last.
  const last = entries.findLastIndex((entry) => new URLSearchParams(entry).has("sslmode"));
  entries[last] = "sslmode=verify-full";
  return { url: url.slice(0, bounds.start) + entries.join("&") + url.slice(bounds.end), aliased: mode };
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
// The server's TLS alerts about the client certificate (OpenSSL's names, as Node's codes).
const CLIENT_CERTIFICATE_ALERTS: ReadonlySet<string> = new Set([
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
  "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED",
  "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
]);
// node-postgres' words when the server answers the TLS request with "no".
const SERVER_WITHOUT_TLS = "The server does not support SSL connections";
// PostgreSQL's (SQLSTATE 28000, in English) for a connection without TLS that no pg_hba.conf
// line admits, and for `cert` authentication without a client certificate or with another
// user's. A server with lc_messages in another language says them otherwise: no advice then.
const REFUSED_WITHOUT_TLS = /, no encryption$/;
const CLIENT_CERTIFICATE_REQUIRED = /^connection requires a valid client certificate$/;
const CLIENT_CERTIFICATE_OF_ANOTHER_USER = /^certificate authentication failed for user /;

/** The advice for one error (not its causes), or undefined. */
function adviceFor(e: Error): string | undefined {
  if (isDatabaseTlsError(e)) return e.message;
  if (e.message === SERVER_WITHOUT_TLS) return "the database server does not accept TLS connections: turn ssl on in its postgresql.conf, or remove sslmode from the database URL";
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string") return undefined;
  if (UNTRUSTED_CERTIFICATE_CODES.has(code)) return `cannot verify the database server's certificate (${code}): give the CA that issued it with sslrootcert=<file> in the database URL`;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return "the database server's certificate does not name the host of the database URL (ERR_TLS_CERT_ALTNAME_INVALID): connect by a name it was issued for";
  if (OUT_OF_DATE_CERTIFICATE_CODES.has(code)) return `the database server's certificate is out of date (${code}): renew it`;
  if (CLIENT_CERTIFICATE_ALERTS.has(code)) return `the database server refused the client certificate (${code}): check sslcert and sslkey in the database URL (issued by a CA the server trusts, not expired)`;
  if (code === "ERR_OSSL_X509_KEY_VALUES_MISMATCH") return "the database URL's sslkey is not the private key of its sslcert (ERR_OSSL_X509_KEY_VALUES_MISMATCH)";
  // Any other failed handshake, or TLS files OpenSSL cannot use (half-written by a renewal).
  if (code.startsWith("ERR_SSL_")) return `the TLS handshake with the database server failed (${code}): check the TLS parameters of the database URL`;
  if (code.startsWith("ERR_OSSL_")) return `the TLS files of the database URL cannot be used (${code}): check sslcert, sslkey and sslrootcert`;
  if (code === "28000" && REFUSED_WITHOUT_TLS.test(e.message)) {
    return "no pg_hba.conf line of the database server admits this connection without TLS: if the server takes TLS connections, add sslmode=verify-full to the database URL (and sslrootcert=<file> for a private CA)";
  }
  if (code === "28000" && CLIENT_CERTIFICATE_REQUIRED.test(e.message)) return "the database server asks for a client certificate: give it with sslcert=<file>&sslkey=<file> in the database URL";
  if (code === "28000" && CLIENT_CERTIFICATE_OF_ANOTHER_USER.test(e.message)) return "the client certificate (sslcert) does not name the database URL's user as its common name (CN)";
  return undefined;
}

/** The first error of `err` and its causes there is advice for, with the advice. */
function findAdvice(err: unknown): { advice: string; source: Error } | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const advice = adviceFor(e);
    if (advice !== undefined) return { advice, source: e };
  }
  return undefined;
}

/**
 * What the TLS settings of the database URL have to do with a failed connection, as advice, or
 * undefined when the error (and its causes) is not about them. Waiting mends none of these; an
 * operator must.
 */
export function databaseTlsProblem(err: unknown): string | undefined {
  return findAdvice(err)?.advice;
}

/**
 * `err` as a DatabaseTlsError whose message is whole — the advice, then what the server or
 * OpenSSL said (its short reason, not its multi-line text) — when there is advice; otherwise
 * `err`. The CLI prints such an error's message alone.
 */
export function withDatabaseTlsAdvice(err: unknown): unknown {
  const found = findAdvice(err);
  if (found === undefined) return err;
  if (isDatabaseTlsError(found.source)) return found.source;
  const reason = (found.source as { reason?: unknown }).reason;
  const said = typeof reason === "string" && reason !== "" ? reason : found.source.message.trim();
  return new DatabaseTlsError(`${found.advice}: ${said}`, { cause: err });
}
