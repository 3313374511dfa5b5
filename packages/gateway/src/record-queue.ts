// The follow-up record queue (DESIGN §6, reference §8): everything recorded after the
// synchronous RecordInterception goes through here so the request path never waits on the
// control plane. Bounded; overflow is dropped, counted and logged. A sender drains it with a
// few RPCs in flight. Records of one interception form a FIFO lane that is sent one at a time,
// so RecordInterceptionEnded (enqueued last) always goes after that interception's other
// records; lanes of different interceptions proceed concurrently. Transient failures are
// retried with backoff until delivered (or until the shutdown flush deadline); permanent ones
// are logged, counted and dropped.

import type { Logger } from "pino";
import { Backoff } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import type { Clock, TimerHandle } from "./clock.js";
import { systemClock } from "./clock.js";
import type { GatewayMetrics } from "./metrics.js";

/** The follow-up record types. */
export type RecordKind = "prompt_usage" | "token_usage" | "tool_usage" | "model_thought" | "interception_ended";

/** Anything the queue can carry. */
export interface QueuedRecord {
  readonly interceptionId: string;
  readonly kind: RecordKind;
}

/** How a failed delivery is handled. */
export type FailureClass = "transient" | "permanent";

/** Why records were given up on. */
export type DropReason = "overflow" | "permanent" | "shutdown";

export const DEFAULT_RECORD_QUEUE_OPTIONS = Object.freeze({
  maxSize: 10_000,
  concurrency: 4,
});

export interface RecordQueueOptions<R extends QueuedRecord> {
  /** Delivers one record; rejects on failure. */
  readonly send: (record: R, signal: AbortSignal) => Promise<void>;
  /** Decides whether a failure is worth retrying. */
  readonly classify: (err: unknown) => FailureClass;
  readonly logger: Logger;
  /** Most undelivered records held; beyond it new records are dropped. Default 10,000. */
  readonly maxSize?: number;
  /** Deliveries in flight at once. Default 4. */
  readonly concurrency?: number;
  readonly clock?: Clock;
  readonly backoff?: BackoffOptions;
  readonly metrics?: Pick<GatewayMetrics, "recordsSentTotal" | "recordsDroppedTotal" | "recordsRetriedTotal" | "recordQueueDepth">;
}

interface Lane<R> {
  readonly id: string;
  readonly items: R[];
  readonly backoff: Backoff;
  /** Sending, or waiting to retry. */
  busy: boolean;
  /** In the ready list. */
  queued: boolean;
  /** Removed by a drop-all; late completions are ignored. */
  dead: boolean;
  timer: TimerHandle | undefined;
  retryNow: (() => void) | undefined;
}

export class RecordQueue<R extends QueuedRecord> {
  private readonly lanes = new Map<string, Lane<R>>();
  private ready: Lane<R>[] = [];
  private active = 0;
  private pending = 0;
  private closed = false;
  private readonly abort = new AbortController();
  private idleWaiters: (() => void)[] = [];
  private readonly maxSize: number;
  private readonly concurrency: number;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(private readonly options: RecordQueueOptions<R>) {
    this.maxSize = Math.max(1, options.maxSize ?? DEFAULT_RECORD_QUEUE_OPTIONS.maxSize);
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_RECORD_QUEUE_OPTIONS.concurrency);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
  }

  /** Records not yet delivered or dropped (queued, in flight, or waiting to retry). */
  get size(): number {
    return this.pending;
  }

  /** Queues a record; returns false (and counts a drop) when the queue is full or closed. */
  enqueue(record: R): boolean {
    if (this.closed) {
      this.dropped(record, "shutdown", 1);
      return false;
    }
    if (this.pending >= this.maxSize) {
      this.dropped(record, "overflow", 1);
      return false;
    }
    let lane = this.lanes.get(record.interceptionId);
    if (lane === undefined) {
      lane = {
        id: record.interceptionId,
        items: [],
        backoff: new Backoff(this.options.backoff),
        busy: false,
        queued: false,
        dead: false,
        timer: undefined,
        retryNow: undefined,
      };
      this.lanes.set(lane.id, lane);
    }
    lane.items.push(record);
    this.pending += 1;
    this.options.metrics?.recordQueueDepth.set(this.pending);
    this.schedule(lane);
    this.pump();
    return true;
  }

  /**
   * Waits until every record is delivered, at most `timeoutMs`. Lanes waiting out a backoff
   * are retried at once. Records still undelivered at the deadline are dropped (counted and
   * logged). Resolves true when the queue drained.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    if (this.pending === 0) return true;
    for (const lane of this.lanes.values()) lane.retryNow?.();
    const drained = await new Promise<boolean>((resolve) => {
      const timer = this.clock.setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== onIdle);
        resolve(false);
      }, timeoutMs);
      const onIdle = (): void => {
        this.clock.clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(onIdle);
    });
    if (!drained) this.dropAll("shutdown");
    return drained;
  }

  /** Stops delivering: aborts sends in flight and drops (counts, logs) whatever is left. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(new Error("record queue closed"));
    this.dropAll("shutdown");
  }

  private schedule(lane: Lane<R>): void {
    if (lane.busy || lane.queued || lane.items.length === 0) return;
    lane.queued = true;
    this.ready.push(lane);
  }

  private pump(): void {
    while (this.active < this.concurrency && this.ready.length > 0) {
      const lane = this.ready.shift();
      if (lane === undefined) break;
      lane.queued = false;
      if (lane.dead || lane.items.length === 0) continue;
      this.deliver(lane);
    }
  }

  private deliver(lane: Lane<R>): void {
    const record = lane.items[0];
    if (record === undefined) return;
    lane.busy = true;
    this.active += 1;
    let promise: Promise<void>;
    try {
      promise = this.options.send(record, this.abort.signal);
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      () => {
        this.active -= 1;
        if (!lane.dead) {
          lane.backoff.reset();
          this.options.metrics?.recordsSentTotal.inc({ type: record.kind });
          this.finishHead(lane);
        }
        this.pump();
      },
      (err: unknown) => {
        this.active -= 1;
        if (!lane.dead) this.failed(lane, record, err);
        this.pump();
      },
    );
  }

  private failed(lane: Lane<R>, record: R, err: unknown): void {
    const log = this.logger.child({ interception_id: record.interceptionId, record_type: record.kind });
    if (this.closed) return;
    if (this.options.classify(err) === "permanent") {
      log.error({ err }, "record rejected permanently; dropping it");
      this.dropped(record, "permanent", 1, false);
      this.finishHead(lane);
      return;
    }
    const delayMs = lane.backoff.next();
    this.options.metrics?.recordsRetriedTotal.inc({ type: record.kind });
    log.warn({ err, attempt: lane.backoff.attempts, retry_in_ms: delayMs }, "record delivery failed; retrying");
    const retry = (): void => {
      if (lane.timer !== undefined) this.clock.clearTimeout(lane.timer);
      lane.timer = undefined;
      lane.retryNow = undefined;
      lane.busy = false;
      if (lane.dead) return;
      this.schedule(lane);
      this.pump();
    };
    lane.retryNow = retry;
    lane.timer = this.clock.setTimeout(retry, delayMs);
  }

  private finishHead(lane: Lane<R>): void {
    lane.items.shift();
    lane.busy = false;
    this.pending -= 1;
    this.options.metrics?.recordQueueDepth.set(this.pending);
    if (lane.items.length > 0) this.schedule(lane);
    else this.lanes.delete(lane.id);
    if (this.pending === 0) this.notifyIdle();
  }

  private dropAll(reason: DropReason): void {
    for (const lane of this.lanes.values()) {
      lane.dead = true;
      if (lane.timer !== undefined) this.clock.clearTimeout(lane.timer);
      lane.timer = undefined;
      lane.retryNow = undefined;
      const counts = new Map<RecordKind, number>();
      for (const record of lane.items) counts.set(record.kind, (counts.get(record.kind) ?? 0) + 1);
      for (const [kind, count] of counts) {
        this.dropped({ interceptionId: lane.id, kind }, reason, count);
      }
    }
    this.lanes.clear();
    this.ready = [];
    this.pending = 0;
    this.options.metrics?.recordQueueDepth.set(0);
    this.notifyIdle();
  }

  private dropped(record: QueuedRecord, reason: DropReason, count: number, log = true): void {
    this.options.metrics?.recordsDroppedTotal.inc({ type: record.kind, reason }, count);
    if (log) {
      this.logger.error(
        { interception_id: record.interceptionId, record_type: record.kind, reason, count },
        "dropping follow-up record",
      );
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}

/** Creates a RecordQueue. */
export function createRecordQueue<R extends QueuedRecord>(options: RecordQueueOptions<R>): RecordQueue<R> {
  return new RecordQueue(options);
}
