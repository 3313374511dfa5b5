// The gateway's route table (DESIGN §6, reference §7): three bridged routes that are recorded
// as interceptions, a few passthrough routes that are only proxied, and nothing else.

/** Provider type; also the value recorded as `provider` and `provider_name`. */
export type ProviderName = "openai" | "anthropic";

/** The LLM APIs the gateway understands. */
export type BridgedApi = "openai-chat" | "openai-responses" | "anthropic-messages";

/** Routes are also served under this prefix (stripped before matching). */
export const ALIAS_PREFIX = "/api/v2/ai-gateway";

/** Each provider's mount point; the rest of the path is appended to the provider's base URL. */
export const PROVIDER_PREFIXES: Readonly<Record<ProviderName, string>> = Object.freeze({
  openai: "/openai/v1",
  anthropic: "/anthropic",
});

export const PROVIDERS: readonly ProviderName[] = Object.keys(PROVIDER_PREFIXES) as ProviderName[];

/**
 * Where a host mounts an embedded gateway's LLM routes: each provider's alias under
 * ALIAS_PREFIX, e.g. "/api/v2/ai-gateway/openai/" (the rest of /api/v2/ai-gateway/ is the
 * control plane's admin API).
 */
export const PROVIDER_ALIAS_PREFIXES: readonly string[] = Object.freeze(PROVIDERS.map((provider) => `${ALIAS_PREFIX}/${provider}/`));

interface RouteBase {
  readonly provider: ProviderName;
  /** Low-cardinality route label for metrics and logs, e.g. "/openai/v1/models/{id}". */
  readonly route: string;
  /** Path (plus query) to append to the provider's base URL, e.g. "/chat/completions?x=1". */
  readonly upstreamPath: string;
}

/** A recorded LLM call. */
export interface BridgedRoute extends RouteBase {
  readonly kind: "bridged";
  readonly api: BridgedApi;
}

/** A proxied call with no interception record. */
export interface PassthroughRoute extends RouteBase {
  readonly kind: "passthrough";
}

export type RouteMatch = BridgedRoute | PassthroughRoute;

const BRIDGED: ReadonlyMap<string, { provider: ProviderName; api: BridgedApi }> = new Map([
  ["/openai/v1/chat/completions", { provider: "openai", api: "openai-chat" }],
  ["/openai/v1/responses", { provider: "openai", api: "openai-responses" }],
  ["/anthropic/v1/messages", { provider: "anthropic", api: "anthropic-messages" }],
]);

interface PassthroughRule {
  readonly provider: ProviderName;
  readonly exact: string;
  /** Also match `${exact}/<more>`, labelled with this route. */
  readonly subtree?: string;
}

const PASSTHROUGH: readonly PassthroughRule[] = [
  { provider: "openai", exact: "/openai/v1/models", subtree: "/openai/v1/models/{id}" },
  { provider: "anthropic", exact: "/anthropic/v1/models", subtree: "/anthropic/v1/models/{id}" },
  { provider: "anthropic", exact: "/anthropic/v1/messages/count_tokens" },
];

/**
 * The origin form ("/path?query") of a request target: an absolute-form target
 * ("http://host/path", which HTTP/1.1 servers must accept, RFC 9112 §3.2.2) loses its scheme and
 * authority; anything else is returned as it is.
 */
export function originForm(target: string): string {
  if (target.startsWith("/")) return target;
  const m = /^https?:\/\/[^/?#]*/i.exec(target);
  if (m === null) return target;
  const rest = target.slice(m[0].length);
  return rest.startsWith("/") ? rest : `/${rest}`;
}

/** Splits a request target into path and query ("?..." or ""). */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf("?");
  return q < 0 ? { path: target, query: "" } : { path: target.slice(0, q), query: target.slice(q) };
}

// Rejects dot segments and encoded separators so a passthrough prefix can never be escaped
// ("/openai/v1/models/../../admin").
function hasUnsafeSegment(path: string): boolean {
  // The usual path has nothing encoded, no segment starting with a dot and no backslash: no
  // need to split and decode it (that showed in the gateway's per-request time).
  if (path.startsWith("/") && !path.includes("%") && !path.includes("/.") && !path.includes("\\")) return false;
  for (const segment of path.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return true;
    }
    if (decoded === "." || decoded === ".." || decoded.includes("/") || decoded.includes("\\")) return true;
  }
  return false;
}

/** Matches a request; undefined means 404 "route not supported". */
export function resolveRoute(method: string, target: string): RouteMatch | undefined {
  const { path: rawPath, query } = splitTarget(target);
  if (hasUnsafeSegment(rawPath)) return undefined;
  let path = rawPath;
  if (path === ALIAS_PREFIX || path.startsWith(`${ALIAS_PREFIX}/`)) path = path.slice(ALIAS_PREFIX.length);

  const bridged = BRIDGED.get(path);
  if (bridged !== undefined) {
    // Bridged routes create things; only POST is an LLM call.
    if (method !== "POST") return undefined;
    return {
      kind: "bridged",
      provider: bridged.provider,
      api: bridged.api,
      route: path,
      upstreamPath: path.slice(PROVIDER_PREFIXES[bridged.provider].length) + query,
    };
  }

  for (const rule of PASSTHROUGH) {
    const isExact = path === rule.exact;
    const inSubtree = rule.subtree !== undefined && path.startsWith(`${rule.exact}/`) && path.length > rule.exact.length + 1;
    if (!isExact && !inSubtree) continue;
    return {
      kind: "passthrough",
      provider: rule.provider,
      route: isExact ? rule.exact : (rule.subtree ?? rule.exact),
      upstreamPath: path.slice(PROVIDER_PREFIXES[rule.provider].length) + query,
    };
  }
  return undefined;
}

/** The provider whose routes `path` is under (alias included), matched or not. */
export function providerOfPath(path: string): ProviderName | undefined {
  const local = path.startsWith(`${ALIAS_PREFIX}/`) ? path.slice(ALIAS_PREFIX.length) : path;
  for (const provider of PROVIDERS) if (local.startsWith(`/${provider}/`)) return provider;
  return undefined;
}

/** Where an upstream request goes: the origin and the path (with query) on it. */
export interface UpstreamTarget {
  readonly origin: string;
  readonly path: string;
}

// Parsed provider base URLs: a gateway has a handful, and parsing one on every request showed
// in profiles.
const parsedBases = new Map<string, { readonly origin: string; readonly path: string }>();

/** Joins a provider base URL ("https://api.openai.com/v1") and a route's upstream path ("/chat/completions"). */
export function upstreamTarget(baseUrl: string, upstreamPath: string): UpstreamTarget {
  let base = parsedBases.get(baseUrl);
  if (base === undefined) {
    const url = new URL(baseUrl);
    base = { origin: url.origin, path: url.pathname.replace(/\/+$/, "") };
    if (parsedBases.size < 64) parsedBases.set(baseUrl, base);
  }
  return { origin: base.origin, path: `${base.path}${upstreamPath}` };
}
