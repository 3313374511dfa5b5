// Parsing and compatibility rules for "MAJOR.MINOR" API versions (DESIGN §2).

/** A parsed API version. */
export interface ApiVersion {
  readonly major: number;
  readonly minor: number;
}

/** Why a version string could not be parsed. */
export class ApiVersionParseError extends Error {
  override readonly name = "ApiVersionParseError";
  constructor(readonly input: string) {
    super(`unparsable API version ${JSON.stringify(input)}: want "MAJOR.MINOR"`);
  }
}

// Exactly two unsigned decimal integers, no sign, no whitespace, no leading zeros beyond "0".
const VERSION_PATTERN = /^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})$/;

/** Parses "MAJOR.MINOR"; throws ApiVersionParseError on anything else. */
export function parseApiVersion(input: string): ApiVersion {
  const match = VERSION_PATTERN.exec(input);
  if (!match) throw new ApiVersionParseError(input);
  return { major: Number(match[1]), minor: Number(match[2]) };
}

/** Formats a version as "MAJOR.MINOR". */
export function formatApiVersion(version: ApiVersion): string {
  return `${version.major}.${version.minor}`;
}

/** Orders two versions: negative when a < b, 0 when equal, positive when a > b. */
export function compareApiVersions(a: ApiVersion, b: ApiVersion): number {
  return a.major !== b.major ? a.major - b.major : a.minor - b.minor;
}

/** The outcome of checking a client's version against a server's. */
export type ApiVersionCheck =
  | { readonly ok: true; readonly client: string; readonly server: string }
  | { readonly ok: false; readonly client: string; readonly server: string; readonly reason: string };

/** What the server side of the check knows. */
export interface ApiVersionServer {
  readonly version: ApiVersion;
  /** Older majors whose clients are still served. */
  readonly supportedOlderMajors?: readonly number[];
}

/** How much of a client's version text an answer or a log line repeats. */
const SHOWN_VERSION_CHARS = 32;

/**
 * Checks whether a server accepts a client speaking `clientInput`. Accepted when the majors
 * are equal and the client's minor is not newer than the server's, or when the client's major
 * is an older one the server still lists as supported. The result always names both versions.
 */
export function checkApiVersion(clientInput: string, server: ApiVersionServer): ApiVersionCheck {
  const serverText = formatApiVersion(server.version);
  // Echoed into answers and logs: a header of any length must not be, whole.
  const shown = clientInput.length > SHOWN_VERSION_CHARS ? `${clientInput.slice(0, SHOWN_VERSION_CHARS)}…` : clientInput;
  const fail = (reason: string): ApiVersionCheck => ({
    ok: false,
    client: shown,
    server: serverText,
    reason: `incompatible API version: client ${JSON.stringify(shown)}, server ${serverText}: ${reason}`,
  });
  let client: ApiVersion;
  try {
    client = parseApiVersion(clientInput);
  } catch {
    return fail(clientInput === "" ? "the client sent no API version" : 'client version is not "MAJOR.MINOR"');
  }
  if (client.major > server.version.major) {
    return fail(`server is at ${serverText}, behind the requested major ${client.major}`);
  }
  if (client.major < server.version.major) {
    if (server.supportedOlderMajors?.includes(client.major)) {
      return { ok: true, client: clientInput, server: serverText };
    }
    return fail(`major ${client.major} is no longer supported`);
  }
  if (client.minor > server.version.minor) {
    return fail(`client minor ${client.minor} is newer than the server's ${server.version.minor}`);
  }
  return { ok: true, client: clientInput, server: serverText };
}
