// Records that a gateway key was used (ai_gateway_keys.last_used_at, DESIGN §3 "Liveness"): at
// most once per interval per key, off the request path. recordUse() never waits for the
// database; a failed write is logged and retried no earlier than after an exponential backoff,
// so a sick database does not get one UPDATE (and one log line) per RPC.
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { backoffDelay } from "../backoff.js";
import type { Clock } from "../clock.js";
import { touchGatewayKeyLastUsed } from "../db/repositories/gateway-key-auth-repository.js";
import type { Database } from "../db/schema.js";
import { gatewayKeyLogFields, type AuthenticatedGatewayKey } from "./rpc-context.js";

export interface GatewayKeyUsageOptions {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Minimum time between two writes for one key; default 60 s. */
  readonly intervalMs?: number;
  /** First retry delay after a failed write; doubles per failure up to intervalMs. Default 1 s. */
  readonly initialBackoffMs?: number;
}

export const DEFAULT_GATEWAY_KEY_USAGE_INTERVAL_MS = 60_000;
const DEFAULT_INITIAL_BACKOFF_MS = 1_000;
// Above this many tracked keys, entries whose next write is due anyway are dropped.
const PRUNE_THRESHOLD = 1_024;

export class GatewayKeyUsageTracker {
  private readonly db: Kysely<Database>;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly initialBackoffMs: number;
  /** After a write that found the column written recently by someone else: the next look. */
  private readonly recheckMs: number;
  /** Key id -> earliest epoch ms at which the next write may start. */
  private readonly nextWriteAt = new Map<string, number>();
  /** Key id -> consecutive failed writes. */
  private readonly failures = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  constructor(options: GatewayKeyUsageOptions) {
    this.db = options.db;
    this.logger = options.logger;
    this.clock = options.clock;
    this.intervalMs = options.intervalMs ?? DEFAULT_GATEWAY_KEY_USAGE_INTERVAL_MS;
    this.initialBackoffMs = Math.min(options.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS, this.intervalMs);
    this.recheckMs = Math.max(1, Math.floor(this.intervalMs / 4));
  }

  /** Notes a use of `key`; starts a background write when one is due. Never throws, never waits. */
  recordUse(key: AuthenticatedGatewayKey): void {
    if (this.closed) return;
    const now = this.clock.now();
    const nowMs = now.getTime();
    if ((this.nextWriteAt.get(key.id) ?? Number.NEGATIVE_INFINITY) > nowMs) return;
    // Reserve the slot before the write starts so concurrent RPCs do not write twice.
    this.nextWriteAt.set(key.id, nowMs + this.intervalMs);
    if (this.nextWriteAt.size > PRUNE_THRESHOLD) this.prune(nowMs);
    const write = touchGatewayKeyLastUsed(this.db, key.id, now, this.intervalMs).then(
      (written) => {
        this.failures.delete(key.id);
        // Written less than an interval ago, by another control-plane replica or by this one
        // before a restart: due when that write is an interval old, which may be well before a
        // whole interval from now. Look again sooner, so the column still advances about once
        // an interval (within 1.5) rather than up to twice. With R replicas holding a key, that
        // is up to 4R UPDATEs a minute that change nothing: one indexed row each.
        if (!written) this.nextWriteAt.set(key.id, Math.min(this.nextWriteAt.get(key.id) ?? Number.POSITIVE_INFINITY, nowMs + this.recheckMs));
      },
      (err: unknown) => {
        const failures = (this.failures.get(key.id) ?? 0) + 1;
        this.failures.set(key.id, failures);
        const retryInMs = backoffDelay(failures, this.initialBackoffMs, this.intervalMs);
        this.nextWriteAt.set(key.id, nowMs + retryInMs);
        this.logger.warn({ err, ...gatewayKeyLogFields(key), failures, retry_in_ms: retryInMs }, "record gateway key use failed");
      },
    );
    const tracked = write.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /**
   * Notes a use of `key` now and once per interval until the returned function is called: an
   * open authorization watch is a replica using its key even while it sends nothing else, so
   * last_used_at tells which keys replicas still hold (a rotation's old key stops advancing).
   */
  heartbeat(key: AuthenticatedGatewayKey): () => void {
    this.recordUse(key);
    // Every half interval: a write is due a full interval after the last (here and in its SQL),
    // so a tick landing a moment early would otherwise wait a whole interval more.
    const timer = setInterval(() => this.recordUse(key), Math.max(1, Math.floor(this.intervalMs / 2)));
    // Never what keeps a process alive.
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Waits for the writes in flight. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Stops new writes and waits for the ones in flight (call before closing the database). */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private prune(nowMs: number): void {
    for (const [id, at] of this.nextWriteAt) {
      if (at <= nowMs && !this.failures.has(id)) this.nextWriteAt.delete(id);
    }
  }
}
