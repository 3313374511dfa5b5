// An egress proxy for provider requests, as the reference's Go HTTP client takes it from the
// environment (net/http ProxyFromEnvironment): HTTPS_PROXY for https:// providers, HTTP_PROXY for
// http:// ones, NO_PROXY for hosts reached directly, and never a proxy for localhost or a
// loopback address. Node's own HTTP clients ignore these variables, so a gateway in a network
// whose only way out is a proxy could not reach its providers without this.
//
// Requests go through the proxy in a CONNECT tunnel (for http:// providers too), so the proxy
// sees the provider's host and port, never the request. Its credentials, if the proxy's URL has
// them (http://user:password@proxy:3128), go in Proxy-Authorization on the CONNECT only.
// SECURITY: a proxy URL is only ever logged without its credentials (redactedProxyUrl).
//
// Only provider requests: the control plane is reached directly (an internal address).

import { isIP } from "node:net";

/** The proxy settings, as the environment variables give them. Empty or absent: none. */
export interface UpstreamProxySettings {
  /** For http:// providers (HTTP_PROXY). */
  readonly httpProxy?: string | undefined;
  /** For https:// providers (HTTPS_PROXY). */
  readonly httpsProxy?: string | undefined;
  /** Hosts reached directly (NO_PROXY): see noProxyMatcher. */
  readonly noProxy?: string | undefined;
  /** How long the proxy may take to answer a CONNECT; default DEFAULT_TUNNEL_TIMEOUT_MS. */
  readonly tunnelTimeoutMs?: number | undefined;
}

/** The wait for a tunnel when none is set: Go's net/http gives a CONNECT one minute. */
export const DEFAULT_TUNNEL_TIMEOUT_MS = 60_000;

/** A proxy setting that cannot be used; the message names it (and never its credentials). */
export class UpstreamProxyError extends Error {
  override readonly name = "UpstreamProxyError";
}

/**
 * The settings from environment variables, each name in upper case first, then lower case (as Go
 * reads them); empty values count as unset. A proxy URL that cannot work is an
 * UpstreamProxyError naming the variable it came from.
 */
export function proxySettingsFromEnv(env: NodeJS.ProcessEnv): UpstreamProxySettings {
  const first = (...names: string[]) => {
    const name = names.find((n) => env[n] !== undefined && env[n]!.trim() !== "");
    return name === undefined ? undefined : { name, value: env[name]! };
  };
  const proxy = (...names: string[]) => {
    const found = first(...names);
    if (found !== undefined) proxyUrl(found.name, found.value);
    return found?.value;
  };
  return { httpProxy: proxy("HTTP_PROXY", "http_proxy"), httpsProxy: proxy("HTTPS_PROXY", "https_proxy"), noProxy: first("NO_PROXY", "no_proxy")?.value };
}

/**
 * A proxy's URL, checked: http:// or https:// (a bare host:port is taken as http://, as Go
 * does), with a host, and nothing after it but a "/". `name` says where it came from.
 */
export function proxyUrl(name: string, value: string): URL {
  const text = value.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new UpstreamProxyError(`${name} is not a URL: give it as http://host:port`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UpstreamProxyError(`${name} must be an http:// or https:// URL, not ${url.protocol}//…`);
  if (url.hostname === "") throw new UpstreamProxyError(`${name} names no host: give it as http://host:port`);
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    // Not echoed: a password with a "/" in it would read as a port and a path.
    throw new UpstreamProxyError(`${name} must be the proxy's address alone (scheme, host, port), without a path or query`);
  }
  return url;
}

/** The proxy's address for logs and errors: scheme, host and port, credentials masked. */
export function redactedProxyUrl(url: URL): string {
  const credentials = url.username !== "" || url.password !== "" ? "***@" : "";
  return `${url.protocol}//${credentials}${url.host}`;
}

interface NoProxyEntry {
  /** A domain (lower case, without a leading "." or "*."), or undefined for an address range. */
  readonly domain?: string;
  /** True: the domain's subdomains only (".example.com"); false: it and its subdomains. */
  readonly subdomainsOnly?: boolean;
  /** An address range, as [family, bytes, prefix length]. */
  readonly range?: { readonly bytes: Uint8Array; readonly prefix: number };
  /** 0: any port. */
  readonly port: number;
}

/**
 * Whether a host (as in a URL: lower case, IPv6 in brackets) and port are reached directly:
 * always for localhost and loopback addresses; otherwise when a NO_PROXY entry matches, Go's
 * rules: "*" matches everything; an IP address or CIDR range (10.0.0.0/8) matches addresses in
 * it; a domain matches itself and its subdomains, ".domain" (or "*.domain") its subdomains only;
 * any entry may end in ":port" to match that port alone. Entries are separated by commas or
 * spaces.
 */
export function noProxyMatcher(noProxy: string | undefined): (host: string, port: number) => boolean {
  const raw = (noProxy ?? "").split(/[,\s]+/).filter((e) => e !== "");
  // "*" among the entries, as in Go: everything is reached directly.
  if (raw.includes("*")) return () => true;
  const entries = raw.map(parseEntry).filter((e): e is NoProxyEntry => e !== undefined);
  return (host, port) => {
    const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
    if (isLoopback(bare)) return true;
    const address = addressBytes(bare);
    for (const entry of entries) {
      if (entry.port !== 0 && entry.port !== port) continue;
      if (entry.range !== undefined) {
        if (address !== undefined && inRange(address, entry.range)) return true;
      } else if (entry.domain !== undefined && address === undefined) {
        if (bare.endsWith(`.${entry.domain}`) || (!entry.subdomainsOnly && bare === entry.domain)) return true;
      }
    }
    return false;
  };
}

function parseEntry(raw: string): NoProxyEntry | undefined {
  let text = raw.toLowerCase();
  let port = 0;
  // A port: "host:443", "[::1]:443", "10.0.0.1:443"; a bare IPv6 address has colons of its own.
  const withPort = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  if (withPort !== null) {
    text = withPort[1]!;
    port = Number(withPort[2]);
  }
  text = text.replace(/^\[(.*)\]$/, "$1");
  const cidr = /^(.+)\/(\d+)$/.exec(text);
  if (cidr !== null) {
    const bytes = addressBytes(cidr[1]!.replace(/^\[(.*)\]$/, "$1"));
    const prefix = Number(cidr[2]);
    if (bytes === undefined || prefix > bytes.length * 8) return undefined;
    return { range: { bytes, prefix }, port };
  }
  const bytes = addressBytes(text);
  if (bytes !== undefined) return { range: { bytes, prefix: bytes.length * 8 }, port };
  const subdomainsOnly = text.startsWith(".") || text.startsWith("*.");
  const domain = text.replace(/^\*?\./, "");
  return domain === "" ? undefined : { domain, subdomainsOnly, port };
}

function isLoopback(host: string): boolean {
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const bytes = addressBytes(host);
  if (bytes === undefined) return false;
  if (bytes.length === 4) return bytes[0] === 127;
  // ::1, or an IPv4-mapped loopback address (::ffff:127.x.y.z).
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return (mapped && bytes[12] === 127) || bytes.every((b, i) => b === (i === 15 ? 1 : 0));
}

/** An IP address as bytes (4 or 16), or undefined for anything else. */
function addressBytes(text: string): Uint8Array | undefined {
  const family = isIP(text);
  if (family === 4) return Uint8Array.from(text.split(".").map(Number));
  if (family !== 6) return undefined;
  // Expand "::" and an embedded IPv4 tail into eight 16-bit groups.
  let groups = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(groups);
  if (v4 !== null) {
    const [a, b, c, d] = v4[1]!.split(".").map(Number) as [number, number, number, number];
    groups = `${groups.slice(0, -v4[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = groups.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    const n = Number.parseInt(g, 16);
    bytes[2 * i] = n >> 8;
    bytes[2 * i + 1] = n & 0xff;
  });
  return bytes;
}

function inRange(address: Uint8Array, range: { readonly bytes: Uint8Array; readonly prefix: number }): boolean {
  if (address.length !== range.bytes.length) return false;
  let bits = range.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}
