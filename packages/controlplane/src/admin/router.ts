// A small router: method + path pattern with `{param}` segments. Matching a path with the wrong
// method yields the allowed methods (405 + Allow); no match at all yields 404.

export interface Route<H> {
  readonly method: string;
  /** e.g. "/api/v2/users/{id}/keys/{keyId}"; also the `route` metrics label. */
  readonly pattern: string;
  readonly handler: H;
}

export type RouteMatch<H> =
  | { readonly kind: "found"; readonly route: Route<H>; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: "method_not_allowed"; readonly pattern: string; readonly allow: readonly string[] }
  | { readonly kind: "not_found" };

export interface Router<H> {
  match(method: string, path: string): RouteMatch<H>;
}

type Segment = { readonly literal: string } | { readonly param: string };

interface CompiledRoute<H> {
  readonly route: Route<H>;
  readonly segments: readonly Segment[];
}

function compile(pattern: string): Segment[] {
  if (!pattern.startsWith("/")) throw new Error(`route pattern must start with "/": ${pattern}`);
  return pattern
    .slice(1)
    .split("/")
    .map((s) => {
      const m = /^\{([A-Za-z][A-Za-z0-9_]*)\}$/.exec(s);
      return m ? { param: m[1]! } : { literal: s };
    });
}

function matchSegments(segments: readonly Segment[], parts: readonly string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if ("literal" in segment) {
      if (segment.literal !== part) return undefined;
    } else {
      if (part === "") return undefined;
      try {
        params[segment.param] = decodeURIComponent(part);
      } catch {
        return undefined; // malformed percent-encoding matches nothing
      }
    }
  }
  return params;
}

export function createRouter<H>(routes: readonly Route<H>[]): Router<H> {
  const compiled: CompiledRoute<H>[] = routes.map((route) => ({ route, segments: compile(route.pattern) }));
  for (const [i, a] of compiled.entries()) {
    for (const b of compiled.slice(i + 1)) {
      if (a.route.method === b.route.method && a.route.pattern === b.route.pattern) {
        throw new Error(`duplicate route ${a.route.method} ${a.route.pattern}`);
      }
    }
  }
  return {
    match(method, path) {
      const parts = path.slice(1).split("/");
      if (!path.startsWith("/")) return { kind: "not_found" };
      const allow = new Set<string>();
      let pattern: string | undefined;
      for (const c of compiled) {
        const params = matchSegments(c.segments, parts);
        if (params === undefined) continue;
        if (c.route.method === method) return { kind: "found", route: c.route, params };
        allow.add(c.route.method);
        pattern ??= c.route.pattern;
      }
      if (pattern === undefined) return { kind: "not_found" };
      return { kind: "method_not_allowed", pattern, allow: [...allow].sort() };
    },
  };
}
