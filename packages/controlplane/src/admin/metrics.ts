// Prometheus counter of admin requests, registered only when the daemon passes a registry.
import { Counter, type Registry } from "prom-client";

export const ADMIN_REQUESTS_METRIC = "weir_controlplane_admin_requests_total";

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

export interface AdminMetrics {
  /** `route` is the matched pattern (or "unmatched"), never the raw path, to bound cardinality. */
  countRequest(route: string, method: string, status: number): void;
}

export function createAdminMetrics(registry?: Registry): AdminMetrics {
  if (registry === undefined) return { countRequest: () => {} };
  type Labels = "route" | "method" | "status";
  const existing = registry.getSingleMetric(ADMIN_REQUESTS_METRIC) as Counter<Labels> | undefined;
  const counter =
    existing ??
    new Counter<Labels>({
      name: ADMIN_REQUESTS_METRIC,
      help: "Admin API requests by route pattern, method and response status.",
      labelNames: ["route", "method", "status"],
      registers: [registry],
    });
  return {
    countRequest(route, method, status) {
      counter.inc({ route, method: KNOWN_METHODS.has(method) ? method : "OTHER", status: String(status) });
    },
  };
}
