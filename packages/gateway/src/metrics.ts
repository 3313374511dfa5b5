// Prometheus metrics of one gateway, on its own registry (reference §10, prefix weir_gateway_).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { InterceptionTally } from "./interception-tally.js";

export const METRICS_PREFIX = "weir_gateway_";

/** Every metric the gateway exports. */
export interface GatewayMetrics {
  readonly registry: Registry;
  /**
   * Where interceptions count their starts, ends, prompts, tokens and outcomes: handed to
   * interceptionsTotal, interceptionsInflight, promptsTotal and tokensTotal when they are read.
   */
  readonly interceptionTally: InterceptionTally;
  /** Finished interceptions; status is "completed" or "failed". Counted through interceptionTally. */
  readonly interceptionsTotal: Counter<"provider" | "model" | "status" | "route">;
  /** Counted through interceptionTally. */
  readonly interceptionsInflight: Gauge<"provider" | "route">;
  readonly interceptionDuration: Histogram<"provider" | "model">;
  readonly passthroughTotal: Counter<"provider" | "route" | "method">;
  /** type: input, output, cache_read, cache_write. Counted through interceptionTally. */
  readonly tokensTotal: Counter<"provider" | "model" | "type">;
  /** Counted through interceptionTally. */
  readonly promptsTotal: Counter<"provider" | "model">;
  readonly toolCallsTotal: Counter<"provider" | "model" | "name">;
  /** outcome: allowed, denied, unavailable, error. */
  readonly authorizationsTotal: Counter<"outcome">;
  /** LLM requests refused before authorization; reason: at_capacity (503), rate_limited (429). */
  readonly requestsRefusedTotal: Counter<"reason">;
  readonly requestsPacedTotal: Counter;
  readonly recordsSentTotal: Counter<"type">;
  /** reason: overflow, permanent, shutdown. */
  readonly recordsDroppedTotal: Counter<"type" | "reason">;
  readonly recordsRetriedTotal: Counter<"type">;
  /** Records written to the spool at shutdown instead of dropped (--record-spool-dir). */
  readonly recordsSpooledTotal: Counter;
  /** Records read back from the spool and queued again. */
  readonly recordsReplayedTotal: Counter;
  /** Checkpoints of the record queue written to the spool while records waited (record-checkpoint.ts). */
  readonly recordCheckpointsTotal: Counter;
  /** Read from the record queue when scraped (see GatewayMetricSources). */
  readonly recordQueueDepth: Gauge;
  /** RecordBatch (or, against 1.0, per-record) calls; outcome: sent, failed. */
  readonly recordBatchesTotal: Counter<"outcome">;
  /** Records per call. */
  readonly recordBatchSize: Histogram;
  /** Authorization cache lookups and changes; event: hit, negative_hit, miss, shared, bypass, evict, invalidate. */
  readonly authCacheEventsTotal: Counter<"event">;
  /** 1 while the authorization watch stream is open (answers are cached then, unless the cache is off), 0 otherwise. */
  readonly authWatchConnected: Gauge;
  /** 1 while the control plane answers, 0 otherwise. */
  readonly controlPlaneReady: Gauge;
  /** event: hit, miss, evict, expire, revoke (PoolEvent). */
  readonly poolEventsTotal: Counter<"event">;
  /** Requests sent again with the next central key after the provider refused one (401, 403, 429). */
  readonly providerKeyFailoversTotal: Counter<"provider" | "status">;
  /**
   * LLM requests sent again after the provider failed them before answering (--upstream-max-retries);
   * reason: the retried status's class ("5xx", "4xx", ...) or "connection".
   */
  readonly upstreamRetriesTotal: Counter<"provider" | "endpoint" | "reason">;
  /** Central keys usable now, per provider (read when scraped). */
  readonly providerKeysUsable: Gauge<"provider">;
  /** Circuit breakers (--circuit-breaker): 0 closed, 0.5 half-open, 1 open. */
  readonly circuitBreakerState: Gauge<"provider" | "endpoint" | "model">;
  /** Times a circuit opened. */
  readonly circuitBreakerTripsTotal: Counter<"provider" | "endpoint" | "model">;
  /** Requests answered 503 by an open (or busy half-open) circuit, without calling the provider. */
  readonly circuitBreakerRejectsTotal: Counter<"provider" | "endpoint" | "model">;
  /** Entries in the in-memory maps keyed by what clients send; map: handlers, auth_cache, auth_changes, circuits. Read when scraped. */
  readonly memoryEntries: Gauge<"map">;
  /** error_type: upstream_error, upstream_disconnected, client_disconnected, timeout, internal. */
  readonly interceptionErrorsTotal: Counter<"provider" | "error_type">;
  /** The `model` label's values (bounded). */
  readonly modelLabels: LabelValues;
  /** The tool `name` label's values, bounded alone and with the provider and model. */
  readonly toolLabels: ToolCallLabels;
}

/**
 * Values read when the registry is scraped instead of set as they change: the record queue's
 * depth changes with every record, and a prom-client call per record is measurable at load.
 */
export interface GatewayMetricSources {
  /** Records not yet delivered; record_queue_depth stays 0 without it. */
  readonly recordQueueDepth?: () => number;
  /** Brings the circuit breakers up to date (an open period may have ended with no request since). */
  readonly refreshCircuitBreakers?: () => void;
  /** Sizes of the in-memory maps keyed by what clients send (swept when idle). */
  readonly memoryEntries?: () => Readonly<Record<"handlers" | "auth_cache" | "auth_changes" | "circuits", number>>;
  /** Central keys configured and usable now (not cooling down after a refusal), per provider. */
  readonly providerKeys?: () => readonly { readonly provider: string; readonly configured: number; readonly usable: number }[];
}

/**
 * Only a gateway serving TLS has this series: a 0 from one that serves none would read as a
 * certificate expired in 1970 to an alert on it.
 */
export function createCertificateExpiryGauge(registry: Registry): Gauge {
  return new Gauge({
    name: `${METRICS_PREFIX}tls_certificate_expiry_timestamp_seconds`,
    help: "When the TLS certificate served to new connections expires (Unix time; set at start-up and at every reload).",
    registers: [registry],
  });
}

/**
 * Creates the metrics on a fresh registry; with `processMetrics`, the process's own as well
 * (CPU, memory, heap, event-loop delay, GC: what tells an operator a replica is saturated or
 * stalling, which request counts alone do not).
 */
export function createGatewayMetrics(sources: GatewayMetricSources = {}, processMetrics = false): GatewayMetrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: METRICS_PREFIX });
  const registers = [registry];
  const p = METRICS_PREFIX;
  const interceptionTally = new InterceptionTally();
  const drainTally = (): void => {
    interceptionTally.drain((s) => {
      const { provider, model, route } = s;
      if (s.prompts > 0) promptsTotal.inc({ provider, model }, s.prompts);
      if (s.usages > 0) {
        tokensTotal.inc({ provider, model, type: "input" }, s.inputTokens);
        tokensTotal.inc({ provider, model, type: "output" }, s.outputTokens);
        tokensTotal.inc({ provider, model, type: "cache_read" }, s.cacheReadTokens);
        tokensTotal.inc({ provider, model, type: "cache_write" }, s.cacheWriteTokens);
      }
      if (s.completed > 0) interceptionsTotal.inc({ provider, model, status: "completed", route }, s.completed);
      if (s.failed > 0) interceptionsTotal.inc({ provider, model, status: "failed", route }, s.failed);
    });
  };
  const interceptionsTotal = new Counter({
    name: `${p}interceptions_total`,
    help: "Bridged LLM requests that finished, by outcome.",
    labelNames: ["provider", "model", "status", "route"] as const,
    registers,
    collect: drainTally,
  });
  const tokensTotal = new Counter({
    name: `${p}tokens_total`,
    help: "Tokens reported by upstream providers.",
    labelNames: ["provider", "model", "type"] as const,
    registers,
    collect: drainTally,
  });
  const promptsTotal = new Counter({
    name: `${p}prompts_total`,
    help: "User prompts recorded.",
    labelNames: ["provider", "model"] as const,
    registers,
    collect: drainTally,
  });
  const refusals = new Counter({
    name: `${p}requests_refused_total`,
    help: "LLM requests refused before authorization: at_capacity (--max-concurrency, 503), rate_limited (--rate-limit, 429).",
    labelNames: ["reason"] as const,
    registers,
  });
  // Both series exist from the start, at 0, so an alert can tell "none refused" from "no data".
  for (const reason of ["at_capacity", "rate_limited"]) refusals.inc({ reason }, 0);
  return {
    registry,
    modelLabels: new LabelValues(),
    toolLabels: new ToolCallLabels(),
    interceptionTally,
    interceptionsTotal,
    interceptionsInflight: new Gauge({
      name: `${p}interceptions_inflight`,
      help: "Bridged LLM requests in progress.",
      labelNames: ["provider", "route"] as const,
      registers,
      collect() {
        for (const { provider, route, count } of interceptionTally.inflightNow()) this.set({ provider, route }, count);
      },
    }),
    interceptionDuration: new Histogram({
      name: `${p}interceptions_duration_seconds`,
      help: "Duration of bridged LLM requests.",
      labelNames: ["provider", "model"] as const,
      buckets: [0.5, 2, 5, 15, 30, 60, 120],
      registers,
    }),
    passthroughTotal: new Counter({
      name: `${p}passthrough_total`,
      help: "Proxied requests on passthrough routes.",
      labelNames: ["provider", "route", "method"] as const,
      registers,
    }),
    tokensTotal,
    promptsTotal,
    toolCallsTotal: new Counter({
      name: `${p}non_injected_tool_selections_total`,
      help: "Tool calls the model made to client-defined tools.",
      labelNames: ["provider", "model", "name"] as const,
      registers,
    }),
    authorizationsTotal: new Counter({
      name: `${p}authorizations_total`,
      help: "IsAuthorized outcomes.",
      labelNames: ["outcome"] as const,
      registers,
    }),
    requestsRefusedTotal: refusals,
    requestsPacedTotal: new Counter({
      name: `${p}requests_paced_total`,
      help: "Requests whose start waited for a later event-loop turn: they arrived in a burst (startBudgetMs).",
      registers,
    }),
    recordsSentTotal: new Counter({
      name: `${p}records_sent_total`,
      help: "Follow-up records delivered to the control plane.",
      labelNames: ["type"] as const,
      registers,
    }),
    recordsDroppedTotal: new Counter({
      name: `${p}records_dropped_total`,
      help: "Follow-up records given up on (queue overflow, permanent error, shutdown deadline).",
      labelNames: ["type", "reason"] as const,
      registers,
    }),
    recordsRetriedTotal: new Counter({
      name: `${p}records_retried_total`,
      help: "Follow-up record deliveries retried after a transient error.",
      labelNames: ["type"] as const,
      registers,
    }),
    recordsSpooledTotal: new Counter({
      name: `${p}records_spooled_total`,
      help: "Records the control plane had not taken by the shutdown deadline, written to the record spool instead of dropped.",
      registers,
    }),
    recordsReplayedTotal: new Counter({
      name: `${p}records_replayed_total`,
      help: "Records read back from the record spool and queued for delivery again.",
      registers,
    }),
    recordCheckpointsTotal: new Counter({
      name: `${p}record_checkpoints_total`,
      help: "Checkpoints of the record queue written to the record spool because records waited on the control plane.",
      registers,
    }),
    recordQueueDepth: new Gauge({
      name: `${p}record_queue_depth`,
      help: "Follow-up records waiting to be delivered.",
      registers,
      collect() {
        const depth = sources.recordQueueDepth;
        if (depth !== undefined) this.set(depth());
      },
    }),
    recordBatchesTotal: new Counter({
      name: `${p}record_batches_total`,
      help: "Record deliveries to the control plane (one RecordBatch call, or one per-record call against 1.0), by outcome.",
      labelNames: ["outcome"] as const,
      registers,
    }),
    recordBatchSize: new Histogram({
      name: `${p}record_batch_size`,
      help: "Records per delivery.",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    authCacheEventsTotal: new Counter({
      name: `${p}auth_cache_events_total`,
      help: "Authorization cache lookups (hit, negative_hit, miss, shared, bypass) and changes (evict, invalidate).",
      labelNames: ["event"] as const,
      registers,
    }),
    authWatchConnected: new Gauge({
      name: `${p}auth_watch_connected`,
      help: "1 while the authorization change stream is open (answers are cached then, unless the cache is off), 0 otherwise.",
      registers,
    }),
    controlPlaneReady: new Gauge({
      name: `${p}control_plane_ready`,
      help: "1 while the control plane answers, 0 otherwise.",
      registers,
    }),
    poolEventsTotal: new Counter({
      name: `${p}handler_pool_events_total`,
      help: "Per-user handler pool events: hit, miss, evict (beyond the bound), expire (15 minutes after creation), revoke (a pushed change to its API key or user).",
      labelNames: ["event"] as const,
      registers,
    }),
    providerKeyFailoversTotal: new Counter({
      name: `${p}provider_key_failovers_total`,
      help: "Requests sent again with the next central provider key after the provider refused one (401, 403, 429).",
      labelNames: ["provider", "status"] as const,
      registers,
    }),
    upstreamRetriesTotal: new Counter({
      name: `${p}upstream_retries_total`,
      help: "LLM requests sent to the provider again after it failed them before answering (--upstream-max-retries), by the status class retried or connection.",
      labelNames: ["provider", "endpoint", "reason"] as const,
      registers,
    }),
    providerKeysUsable: new Gauge({
      name: `${p}provider_keys_usable`,
      help: "Central provider keys usable now (configured ones not cooling down after a refusal).",
      labelNames: ["provider"] as const,
      registers,
      collect() {
        for (const { provider, usable } of sources.providerKeys?.() ?? []) this.set({ provider }, usable);
      },
    }),
    circuitBreakerState: new Gauge({
      name: `${p}circuit_breaker_state`,
      help: "Circuit breaker per provider, endpoint and model: 0 closed, 0.5 half-open, 1 open.",
      labelNames: ["provider", "endpoint", "model"] as const,
      registers,
      collect() {
        sources.refreshCircuitBreakers?.();
      },
    }),
    circuitBreakerTripsTotal: new Counter({
      name: `${p}circuit_breaker_trips_total`,
      help: "Times a circuit breaker opened.",
      labelNames: ["provider", "endpoint", "model"] as const,
      registers,
    }),
    circuitBreakerRejectsTotal: new Counter({
      name: `${p}circuit_breaker_rejects_total`,
      help: "Requests answered 503 by a circuit breaker without calling the provider.",
      labelNames: ["provider", "endpoint", "model"] as const,
      registers,
    }),
    memoryEntries: new Gauge({
      name: `${p}memory_entries`,
      help: "Entries held in the gateway's in-memory maps: handlers (per API key), auth_cache (authorization answers), auth_changes (key and user changes remembered for running calls), circuits (circuit breakers).",
      labelNames: ["map"] as const,
      registers,
      collect() {
        const sizes = sources.memoryEntries?.();
        if (sizes !== undefined) for (const [map, size] of Object.entries(sizes)) this.set({ map }, size);
      },
    }),
    interceptionErrorsTotal: new Counter({
      name: `${p}interception_errors_total`,
      help: "Interceptions that ended with an error, by error type.",
      labelNames: ["provider", "error_type"] as const,
      registers,
    }),
  };
}

/** Caps a user-controlled label value (model names come from request bodies). */
function labelValue(value: string): string {
  return value.length > 100 ? value.slice(0, 100) : value;
}

/** Distinct values a user-controlled label keeps before the rest count as OTHER_LABEL_VALUE. */
export const MAX_LABEL_VALUES = 500;
export const OTHER_LABEL_VALUE = "other";

/**
 * The values one user-controlled label (models, tool names) may take. Every distinct value is
 * a time series in every metric that carries it, held for the life of the process: a client
 * sending a new model name on each request would grow the replica's memory (and every scrape)
 * without bound. The first MAX_LABEL_VALUES values seen keep their name.
 */
export class LabelValues {
  private readonly seen = new Set<string>();

  constructor(private readonly limit: number = MAX_LABEL_VALUES) {}

  of(raw: string): string {
    const value = labelValue(raw);
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.limit) return OTHER_LABEL_VALUE;
    this.seen.add(value);
    return value;
  }
}

/** Distinct (provider, model, tool name) series the tool-call counter keeps. */
const MAX_TOOL_CALL_SERIES = 1_000;

/**
 * The tool `name` label of non_injected_tool_selections_total, which also carries the provider
 * and model: each label bounded alone still let 501 models × 501 names become 250,000 series (a
 * 29 MB scrape blocking the event loop for seconds). Beyond MAX_TOOL_CALL_SERIES series, a new
 * one's tool counts as OTHER_LABEL_VALUE, so the counter holds at most that many series plus one
 * per provider and model.
 */
export class ToolCallLabels {
  private readonly names: LabelValues;
  private readonly series = new Set<string>();

  constructor(
    maxNames: number = MAX_LABEL_VALUES,
    private readonly maxSeries: number = MAX_TOOL_CALL_SERIES,
  ) {
    this.names = new LabelValues(maxNames);
  }

  /** The label for tool `raw` called through `provider` by `model` (already a bounded model label). */
  of(provider: string, model: string, raw: string): string {
    const name = this.names.of(raw);
    if (name === OTHER_LABEL_VALUE) return name;
    const series = `${provider}\n${model}\n${name}`;
    if (this.series.has(series)) return name;
    if (this.series.size >= this.maxSeries) return OTHER_LABEL_VALUE;
    this.series.add(series);
    return name;
  }
}
