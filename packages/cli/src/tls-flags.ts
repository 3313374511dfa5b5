// --tls-cert-file and --tls-key-file, as both daemons take them: given together or not at all,
// and files that cannot serve reported in one line naming the flag and the file (never an
// OpenSSL code or a stack trace). The check is the gateway's (tls-files.ts); the CLI, which
// composes both daemons, applies it to the control plane's files too, before anything starts.
import type { TlsFileNames, TlsFiles, TlsFilesError } from "@weir/gateway";
import { CliError } from "./cli-error.js";

const FLAG_NAMES: TlsFileNames = { certFile: "--tls-cert-file", keyFile: "--tls-key-file" };

/** The files the flags name, or undefined for cleartext; refuses one without the other. */
export function tlsFilesFromFlags(flags: { tlsCertFile?: string; tlsKeyFile?: string }): TlsFiles | undefined {
  if (Boolean(flags.tlsCertFile) !== Boolean(flags.tlsKeyFile)) throw new CliError("--tls-cert-file and --tls-key-file must be given together");
  return flags.tlsCertFile && flags.tlsKeyFile ? { certFile: flags.tlsCertFile, keyFile: flags.tlsKeyFile } : undefined;
}

/** The CLI's one line for a TlsFilesError: the flags named as the user typed them. */
export async function tlsFilesCliError(err: TlsFilesError): Promise<CliError> {
  const { describeTlsFilesError } = await import("@weir/gateway");
  return new CliError(describeTlsFilesError(err, FLAG_NAMES));
}

/** Reads and checks the files (a readable PEM certificate, a readable PEM key, a matching pair). */
export async function checkTlsFiles(files: TlsFiles): Promise<void> {
  // Loaded here: only a daemon given TLS files pays for the gateway's code.
  const { loadTlsFiles, isTlsFilesError } = await import("@weir/gateway");
  try {
    await loadTlsFiles(files);
  } catch (err) {
    if (isTlsFilesError(err)) throw await tlsFilesCliError(err);
    throw err;
  }
}
