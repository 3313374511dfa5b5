// Prometheus metrics of one control plane, in a registry of its own (several control planes
// can live in one process, e.g. in tests) under the prefix weir_controlplane_. The admin API
// registers its own weir_controlplane_admin_requests_total{route,method,status} in this registry
// (src/admin/metrics.ts).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const METRICS_PREFIX = "weir_controlplane_";

/** The kinds of rows the Recorder writes (label `type` of records_written_total). */
export type RecordType = "interception_start" | "interception_end" | "token_usage" | "prompt_usage" | "tool_usage" | "model_thought";

export interface ControlPlaneMetricsOptions {
  /** Also export the process and Node.js runtime metrics (default true). */
  readonly collectDefaultMetrics?: boolean;
}

export class ControlPlaneMetrics {
  readonly registry = new Registry();
  /** RPCs served, by service, method and Connect code ("ok" on success). */
  readonly rpcRequests: Counter<"service" | "method" | "code">;
  /** RPC latency in seconds, by service and method. */
  readonly rpcDuration: Histogram<"service" | "method">;
  /** Rows written by the Recorder, by record type. */
  readonly recordsWritten: Counter<"type">;
  /** Records RecordBatch refused for good (malformed, unknown interception). */
  readonly recordsRejected: Counter;
  /** Open Authorizer.WatchAuthorizationChanges streams. */
  readonly authorizationWatchers: Gauge;
  /** Rows deleted because they were past the retention period, by table. */
  readonly recordsPurged: Counter<"table">;

  constructor(options: ControlPlaneMetricsOptions = {}) {
    const registers = [this.registry];
    this.rpcRequests = new Counter({
      name: `${METRICS_PREFIX}rpc_requests_total`,
      help: "RPCs served, by service, method and Connect code.",
      labelNames: ["service", "method", "code"],
      registers,
    });
    this.rpcDuration = new Histogram({
      name: `${METRICS_PREFIX}rpc_duration_seconds`,
      help: "RPC handling time in seconds.",
      labelNames: ["service", "method"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.recordsWritten = new Counter({
      name: `${METRICS_PREFIX}records_written_total`,
      help: "Records written by the Recorder service, by type.",
      labelNames: ["type"],
      registers,
    });
    this.recordsRejected = new Counter({
      name: `${METRICS_PREFIX}records_rejected_total`,
      help: "Records RecordBatch refused for good (malformed, unknown interception, refused by the database).",
      registers,
    });
    this.authorizationWatchers = new Gauge({
      name: `${METRICS_PREFIX}authorization_watchers`,
      help: "Open WatchAuthorizationChanges streams (gateways, embedded ones included, hearing revocations).",
      registers,
    });
    this.recordsPurged = new Counter({
      name: `${METRICS_PREFIX}records_purged_total`,
      help: "Rows of recorded traffic deleted because they were past the retention period, by table.",
      labelNames: ["table"],
      registers,
    });
    if (options.collectDefaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: METRICS_PREFIX });
  }

  /**
   * When the TLS certificate served expires, in Unix seconds; the series exists only once this
   * is called (a control plane serving TLS): a 0 would read as expired in 1970 to an alert.
   */
  setCertificateExpiry(seconds: number): void {
    this.certificateExpiry ??= new Gauge({
      name: `${METRICS_PREFIX}tls_certificate_expiry_timestamp_seconds`,
      help: "When the TLS certificate served to new connections expires (Unix time; set at start-up and at every reload).",
      registers: [this.registry],
    });
    this.certificateExpiry.set(seconds);
  }

  private certificateExpiry: Gauge | undefined;

  /** Registries of other components in this process, served on the same /metrics. */
  private readonly included: Registry[] = [];

  /** Serves `registry` (e.g. an embedded gateway's) on this control plane's /metrics too. */
  include(registry: Registry): void {
    this.included.push(registry);
  }

  /** The exposition text and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    const bodies = await Promise.all([this.registry, ...this.included].map((r) => r.metrics()));
    return { contentType: this.registry.contentType, body: bodies.join("\n") };
  }
}
