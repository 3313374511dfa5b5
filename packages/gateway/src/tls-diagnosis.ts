// What a failed connection to the control plane says about its TLS settings, for whoever
// connects to it: the gateway (its RPCs over HTTP/2) and the admin CLI (fetch). A light entry
// point of its own (@weir/gateway/tls-diagnosis): admin commands load it without the gateway.

// Node's codes for a certificate the client does not trust: its issuer is unknown to it.
const UNTRUSTED_CERTIFICATE_CODES: ReadonlySet<string> = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);
// A certificate out of its validity period: renewing it mends that, so the gateway keeps trying.
const OUT_OF_DATE_CERTIFICATE_CODES: ReadonlySet<string> = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);

/** The error's code, or its causes' (a ConnectError or fetch's TypeError wraps Node's). */
export function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}

/**
 * What is wrong with the TLS settings, when the error says so and only the operator can mend
 * it: a certificate from an issuer the client does not trust, one that does not name the host
 * in the URL, or https:// to a control plane without TLS. Undefined for anything else.
 */
export function tlsMisconfiguration(err: unknown, baseUrl: string): string | undefined {
  const codes = errorCodes(err);
  const untrusted = codes.find((c) => UNTRUSTED_CERTIFICATE_CODES.has(c));
  if (untrusted !== undefined) {
    return `the control plane's TLS certificate at ${baseUrl} is not trusted (${untrusted}): for a private CA, set NODE_EXTRA_CA_CERTS to its certificate file`;
  }
  if (codes.includes("ERR_TLS_CERT_ALTNAME_INVALID")) {
    return `the control plane's TLS certificate does not name the host of ${baseUrl} (ERR_TLS_CERT_ALTNAME_INVALID): use a host name it was issued for`;
  }
  const wrongVersion = codes.includes("ERR_SSL_WRONG_VERSION_NUMBER") || (err instanceof Error && /wrong version number/.test(err.message));
  if (wrongVersion && /^https:/.test(baseUrl)) {
    return `the control plane at ${baseUrl} does not speak TLS: use an http:// URL, or give it --tls-cert-file and --tls-key-file`;
  }
  return undefined;
}

/**
 * A TLS server takes a cleartext request for a broken handshake and drops the connection without
 * answering: reset (ECONNRESET), or closed (fetch's UND_ERR_SOCKET, "other side closed").
 */
const DROPPED_CONNECTION_CODES: ReadonlySet<string> = new Set(["ECONNRESET", "UND_ERR_SOCKET"]);
/**
 * The same closed connection under an HTTP/2 call: Node cancels the open stream (NGHTTP2_CANCEL)
 * and connect-node reports it as Canceled with this message and no cause, nothing else to tell
 * it by. (A call its caller canceled reads as the abort's reason, "This operation was aborted".)
 */
const DROPPED_STREAM_MESSAGE = /http\/2 stream closed with error code CANCEL \(0x8\)/;

/** Whether the server dropped the connection without answering. */
function droppedConnection(err: unknown): boolean {
  if (errorCodes(err).some((c) => DROPPED_CONNECTION_CODES.has(c))) return true;
  return err instanceof Error && DROPPED_STREAM_MESSAGE.test(err.message);
}

/**
 * A likely cause worth a line in the retry log, for failures that look like a setting. A dropped
 * connection means little on its own, but to an http:// URL it is what a server with TLS does.
 */
export function connectionHint(err: unknown, baseUrl: string): string | undefined {
  const codes = errorCodes(err);
  if (codes.some((c) => OUT_OF_DATE_CERTIFICATE_CODES.has(c))) return "the control plane's TLS certificate is out of date: renew it";
  if (/^http:/.test(baseUrl) && droppedConnection(err)) return "if the control plane serves TLS, its URL needs https://";
  return undefined;
}
