// The control plane's TLS certificate and key: read at start-up and again on reloadTls() (a
// renewed certificate), each time turned into a context before anything is replaced, so that
// files which cannot serve leave the previous certificate in use. The CLI checks the files
// first and names the flag at fault; this module's errors are for library callers.
// SECURITY: the key's bytes go only to Node's TLS context; no error or log line carries them.
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";

/** PEM files for TLS; the server then offers h2 and http/1.1 through ALPN. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * The listener's context options: the same at start-up and at every reload. TLS 1.2 at least
 * is Node's default, stated so that --tls-min-v1.0 in NODE_OPTIONS cannot lower it.
 */
export interface TlsCredentials {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly minVersion: "TLSv1.2";
}

/** Reads both files and checks that they make a TLS context (a matching pair). */
export async function readTlsCredentials(files: TlsFiles): Promise<TlsCredentials> {
  const [cert, key] = await Promise.all([readFile(files.certFile), readFile(files.keyFile)]);
  const credentials: TlsCredentials = { cert, key, minVersion: "TLSv1.2" };
  try {
    createSecureContext(credentials);
  } catch (err) {
    const reason = (err as { reason?: unknown }).reason;
    throw new Error(`TLS files ${files.certFile} and ${files.keyFile} cannot serve: ${typeof reason === "string" ? reason : (err as Error).message}`, { cause: err });
  }
  return credentials;
}

/** What the log says of the certificate served: public facts, enough to tell a renewal happened. */
export function certificateSummary(cert: Buffer): { subject: string; not_after: string; sha256: string } {
  const x509 = new X509Certificate(cert);
  return { subject: x509.subject.replaceAll("\n", ", "), not_after: new Date(x509.validTo).toISOString(), sha256: x509.fingerprint256 };
}
