// The standalone gateway's own TLS certificate and key (GatewayOptions.tls): read once at
// start-up and checked before anything listens, so that a wrong path or a key for another
// certificate ends start-up with one line naming the file, not an OpenSSL error or a stack.
// SECURITY: the key's bytes go only to Node's TLS context; no message carries file contents.

import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";

/** PEM files: the certificate (its chain may follow it) and its private key. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** What https.createServer needs from the files. */
export interface TlsCredentials {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export type TlsFilesProblem = "unreadable" | "not_certificate" | "not_key" | "encrypted_key" | "key_mismatch";

/** How the options are named where the error is reported (library options or CLI flags). */
export interface TlsFileNames {
  readonly certFile: string;
  readonly keyFile: string;
}

const OPTION_NAMES: TlsFileNames = { certFile: "tls.certFile", keyFile: "tls.keyFile" };

/** A TLS file cannot serve: `option` names the culprit, `detail` says why (never its contents). */
export class TlsFilesError extends Error {
  override readonly name = "TlsFilesError";
  constructor(
    readonly problem: TlsFilesProblem,
    readonly option: keyof TlsFiles,
    readonly files: TlsFiles,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(describeTlsFilesError({ problem, option, files, detail }, OPTION_NAMES), options);
  }
}

export const isTlsFilesError = (err: unknown): err is TlsFilesError => err instanceof Error && err.name === "TlsFilesError";

/** The error in one line, naming the option as `names` call it (the CLI passes its flags). */
export function describeTlsFilesError(err: Pick<TlsFilesError, "problem" | "option" | "files" | "detail">, names: TlsFileNames): string {
  const path = err.files[err.option];
  const subject = `${names[err.option]} ${path}`;
  switch (err.problem) {
    case "unreadable":
      return `${subject}: cannot read it: ${err.detail}`;
    case "not_certificate":
      return `${subject}: not a PEM certificate (${err.detail})`;
    case "not_key":
      return `${subject}: not a PEM private key (${err.detail})`;
    case "encrypted_key":
      return `${subject}: the private key is encrypted; give it unencrypted (openssl pkey -in ${path} -out <new file>) and protect the file instead`;
    case "key_mismatch":
      return `${subject}: does not match the certificate in ${names.certFile} ${err.files.certFile}`;
  }
}

/** Reads both files and checks that they make a TLS server; rejects with TlsFilesError. */
export async function loadTlsFiles(files: TlsFiles): Promise<TlsCredentials> {
  const cert = await read(files, "certFile");
  const key = await read(files, "keyFile");
  // Each alone first, so that the error names the file at fault; then the pair.
  check(() => createSecureContext({ cert }), (reason, cause) => new TlsFilesError("not_certificate", "certFile", files, reason, { cause }));
  // Said plainly: OpenSSL's own words for it are "bad decrypt".
  if (ENCRYPTED_KEY.test(key.toString("latin1"))) throw new TlsFilesError("encrypted_key", "keyFile", files, "encrypted");
  check(() => createSecureContext({ key }), (reason, cause) => new TlsFilesError("not_key", "keyFile", files, reason, { cause }));
  check(() => createSecureContext({ cert, key }), (reason, cause) => new TlsFilesError("key_mismatch", "keyFile", files, reason, { cause }));
  return { cert, key };
}

/** What the log says of a certificate served: public facts, enough to tell a renewal happened. */
export interface CertificateSummary {
  readonly subject: string;
  readonly not_after: string;
  readonly sha256: string;
}

/** The first certificate of a PEM chain (the one served), as the log shows it. */
export function certificateSummary(cert: Buffer): CertificateSummary {
  const x509 = new X509Certificate(cert);
  return { subject: x509.subject.replaceAll("\n", ", "), not_after: new Date(x509.validTo).toISOString(), sha256: x509.fingerprint256 };
}

/** PKCS#8 encrypted, or a traditional PEM key with a DEK-Info header. */
const ENCRYPTED_KEY = /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type: 4,ENCRYPTED$/m;

async function read(files: TlsFiles, option: keyof TlsFiles): Promise<Buffer> {
  try {
    return await readFile(files[option]);
  } catch (err) {
    throw new TlsFilesError("unreadable", option, files, fileErrorText(err), { cause: err });
  }
}

function check(attempt: () => unknown, failure: (reason: string, cause: unknown) => TlsFilesError): void {
  try {
    attempt();
  } catch (err) {
    // OpenSSL's short reason ("no start line"), not its library-prefixed code.
    const reason = (err as { reason?: unknown }).reason;
    throw failure(typeof reason === "string" && reason !== "" ? reason : (err as Error).message, err);
  }
}

const FILE_ERRORS: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "it is a directory",
};

function fileErrorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && FILE_ERRORS[code] !== undefined) return FILE_ERRORS[code];
  return code ?? (err as Error).message;
}
