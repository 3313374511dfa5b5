// The record queue (DESIGN §6, reference §8; API 1.1 batching): every record of an
// interception — with RecordBatch also its start — goes through here, so the request path never
// waits on the control plane. Bounded: beyond maxSize a record is refused (dropped, counted and
// logged; for an interception start the request then fails). Records go out in batches: a
// batch leaves when it is full (maxRecords, or maxBytes) or when its oldest record has waited
// lingerMs, with at most maxInFlight batches on the wire; shutdown flushes at once.
//
// Order: the records of one interception are sent in the order they were queued — in the same
// batch (the control plane applies a batch in order) or in later batches, never in two batches
// at once. A record whose interception has a batch in flight waits for that batch, so a start
// is always stored before its children and the end goes after the others.
//
// Short interceptions travel whole: an interception start is held back (up to holdStartMs)
// together with the records that follow it, and released — in order, into the normal batching
// — when its end is queued. The control plane then writes a finished interception as one row
// instead of inserting it and updating it moments later. A start whose end is late goes out
// alone when its hold expires, so in-flight interceptions still show up within holdStartMs.
//
// Delivery is at-least-once, storage exactly-once: a batch that failed as a whole (transient:
// control plane or database unreachable, answer lost) goes back to the front of the queue
// unchanged — same record ids, so what an earlier attempt stored is not stored twice — and the
// queue pauses with jittered backoff (50 ms → 10 s) before sending again. Records the control
// plane refused for good (reported per record) and batches refused permanently are dropped,
// counted and logged. Against a control plane without RecordBatch (API 1.0) the limits become
// one record per call, `concurrency` calls in flight: the old per-record behaviour.
//
// Spooling (record-spool.ts): flushOrTakeBack hands the records still undelivered at the
// shutdown deadline back to the caller instead of dropping them, and replay puts records read
// back from the spool into the queue and says when every one of them has settled.

import type { Logger } from "pino";
import type { Counter } from "prom-client";
import { Backoff } from "./backoff.js";
import type { BackoffOptions } from "./backoff.js";
import type { Clock, TimerHandle } from "./clock.js";
import { systemClock } from "./clock.js";
import { unlimitedAbortController } from "./cancellation.js";
import type { GatewayMetrics } from "./metrics.js";
import { OutageLog } from "./outage-log.js";

/** Up to this many interceptions, dropped records are logged one line per interception and type. */
const DROPS_LOGGED_ONE_BY_ONE = 10;

/** The record types: the interception start and the follow-up records. */
export type RecordKind = "interception" | "prompt_usage" | "token_usage" | "tool_usage" | "model_thought" | "interception_ended";

/** Anything the queue can carry. */
export interface QueuedRecord {
  /** UUID chosen when the record was made and kept through retries (the control plane's key). */
  readonly id: string;
  readonly interceptionId: string;
  readonly kind: RecordKind;
  /** Approximate encoded size in bytes, to keep batches under maxBytes; default 0. */
  readonly sizeBytes?: number;
}

/** How a failed batch is handled. */
export type FailureClass = "transient" | "permanent";

/** Why records were given up on. */
export type DropReason = "overflow" | "permanent" | "shutdown";

/** How records are grouped into calls. */
export interface BatchLimits {
  /** Most records per call. */
  readonly maxRecords: number;
  /** Calls in flight at once. */
  readonly maxInFlight: number;
  /** How long a record may wait for a fuller batch. */
  readonly lingerMs: number;
  /** Approximate bytes per call; one record bigger than this still goes, alone. */
  readonly maxBytes: number;
  /** How long an interception start may wait for its end to travel with it; 0 or absent: not at all. */
  readonly holdStartMs?: number;
}

export const DEFAULT_RECORD_QUEUE_OPTIONS = Object.freeze({
  maxSize: 10_000,
  // maxBytes stays under the control plane's 4 MiB message limit with room to spare: records are
  // at most about 1 MiB each (records.ts bounds their texts), and one alone always fits.
  limits: Object.freeze({ maxRecords: 1000, maxInFlight: 4, lingerMs: 100, maxBytes: 3 * 1024 * 1024, holdStartMs: 250 }),
});

export interface RecordQueueOptions<R extends QueuedRecord> {
  /**
   * Delivers one batch, in order. Resolves with the records the control plane refused for good
   * (id -> reason); every other record of the batch is stored. Rejects when the batch as a
   * whole failed (then `classify` decides).
   */
  readonly send: (records: readonly R[], signal: AbortSignal) => Promise<ReadonlyMap<string, string>>;
  /** Whether a failed batch is worth sending again. */
  readonly classify: (err: unknown, batchSize: number) => FailureClass;
  readonly logger: Logger;
  /** Undelivered records beyond which new interceptions are refused (see hasRoom). Default 10,000. */
  readonly maxSize?: number;
  /** Batching; a function when it changes at run time (see the file comment). */
  readonly limits?: BatchLimits | (() => BatchLimits);
  readonly clock?: Clock;
  readonly backoff?: BackoffOptions;
  readonly metrics?: Pick<
    GatewayMetrics,
    "recordsSentTotal" | "recordsDroppedTotal" | "recordsRetriedTotal" | "recordBatchesTotal" | "recordBatchSize"
  >;
}

interface Pending<R> {
  readonly record: R;
  /** When it was queued (clock ms). */
  readonly at: number;
  /** Its place in the order records were queued (the clock may step back; this does not). */
  readonly seq: number;
  /** Set on replayed records: told when this one settles. */
  readonly replay?: ReplayTracker;
}

/** The records of one replay still unsettled, and who waits for them. */
interface ReplayTracker {
  unsettled: number;
  readonly done: (outcome: ReplayOutcome) => void;
}

/** What a checkpoint holds (see RecordQueue.snapshot). */
export interface QueueSnapshot<R> {
  readonly records: R[];
  /** The last record queued when it was taken: the snapshot holds no record queued after it. */
  readonly lastSeq: number;
}

/** A record flushOrTakeBack handed back, with what says whether a spool file still holds it. */
export interface TakenBack<R> {
  readonly record: R;
  /** Its place in the order records were queued (see QueueSnapshot.lastSeq). */
  readonly seq: number;
  /** Read back from a spool file (replay), which stays until the record is stored. */
  readonly replayed: boolean;
}

/**
 * How a replay ended: every record `stored` (or refused for good, record by record); `taken_back`
 * by flushOrTakeBack (the caller has them again); `refused` — a batch refused as a whole, or the
 * queue closed with them: the records are gone from the queue but nothing says they are stored.
 */
export type ReplayOutcome = "stored" | "taken_back" | "refused";

interface Batch<R> {
  readonly items: readonly Pending<R>[];
  /** Given up on by close() or the flush deadline; its late completion is ignored. */
  dead: boolean;
  /** Whether any of its records is replayed (most batches: none, and nothing is looked up). */
  readonly replayed: boolean;
}

export class RecordQueue<R extends QueuedRecord> {
  private pending: Pending<R>[] = [];
  /** The seq of the last record queued. */
  private lastSeq = 0;
  private rejectedRecords = 0;
  /** Interceptions whose start is held: their records so far, start first; oldest start first. */
  private readonly held = new Map<string, Pending<R>[]>();
  private heldRecords = 0;
  private holdTimer: TimerHandle | undefined;
  private holdAt = 0;
  /** Sum of the pending records' sizeBytes. */
  private pendingBytes = 0;
  private readonly inFlight = new Set<Batch<R>>();
  private inFlightRecords = 0;
  /** Interception id -> its records in flight. */
  private readonly busy = new Map<string, number>();
  private readonly backoff: Backoff;
  /** A stack per new error of a run of failed deliveries, not per retry. */
  private readonly outageLog = new OutageLog();
  private pauseTimer: TimerHandle | undefined;
  private lingerTimer: TimerHandle | undefined;
  private lingerAt = 0;
  private flushing = false;
  private closed = false;
  /** Aborts every delivery at close(); each one in flight listens to it (so no listener limit). */
  private readonly abort = unlimitedAbortController();
  private idleWaiters: (() => void)[] = [];
  private readonly maxSize: number;
  private readonly clock: Clock;
  private readonly logger: Logger;

  constructor(private readonly options: RecordQueueOptions<R>) {
    this.maxSize = Math.max(1, options.maxSize ?? DEFAULT_RECORD_QUEUE_OPTIONS.maxSize);
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.backoff = new Backoff(options.backoff);
  }

  /** Records not yet delivered or dropped (queued, in flight, or waiting to be retried). */
  get size(): number {
    return this.pending.length + this.heldRecords + this.inFlightRecords;
  }

  /** Records the control plane refused for good and that were dropped, since the queue was made. */
  get rejected(): number {
    return this.rejectedRecords;
  }

  /** Batches on the wire now. */
  get batchesInFlight(): number {
    return this.inFlight.size;
  }

  /**
   * Admission control: whether a new interception may start now. The bound applies here, not to
   * follow-up records: refusing a new request is recoverable (the client retries), dropping the
   * records of a request already served is not. So the queue holds at most maxSize records plus
   * the follow-ups of the interceptions in flight.
   */
  hasRoom(): boolean {
    return !this.closed && this.size < this.maxSize;
  }

  /**
   * Admits a new interception when there is room (see hasRoom); otherwise false, counted as its
   * dropped start. Once admitted, its records, the start included, go in with enqueue.
   */
  admit(interceptionId: string): boolean {
    if (this.hasRoom()) return true;
    this.dropped({ kind: "interception", interceptionId }, this.closed ? "shutdown" : "overflow", 1);
    return false;
  }

  /** Queues a record of an admitted interception; refused (counted) only once closed. */
  enqueue(record: R): boolean {
    if (this.closed) {
      this.dropped(record, "shutdown", 1);
      return false;
    }
    const item: Pending<R> = { record, at: this.clock.now(), seq: ++this.lastSeq };
    const held = this.held.get(record.interceptionId);
    if (held !== undefined) {
      held.push(item);
      this.heldRecords += 1;
      if (record.kind === "interception_ended") this.release(record.interceptionId, held);
    } else if (record.kind === "interception" && !this.flushing && (this.limits().holdStartMs ?? 0) > 0) {
      this.held.set(record.interceptionId, [item]);
      this.heldRecords += 1;
      this.armHold();
    } else {
      this.pending.push(item);
      this.pendingBytes += record.sizeBytes ?? 0;
    }
    this.pump();
    return true;
  }

  /** Moves a held interception's records into the queue, in order. */
  private release(interceptionId: string, items: Pending<R>[]): void {
    this.held.delete(interceptionId);
    this.heldRecords -= items.length;
    for (const item of items) {
      this.pending.push(item);
      this.pendingBytes += item.record.sizeBytes ?? 0;
    }
  }

  /** Releases every hold that expired (all of them when flushing), and re-arms for the next. */
  private releaseExpired(): void {
    const holdMs = this.limits().holdStartMs ?? 0;
    const now = this.clock.now();
    for (const [id, items] of this.held) {
      // Starts are held in arrival order, so the first one still within its hold ends the scan.
      if (!this.flushing && items[0]!.at + holdMs > now) break;
      this.release(id, items);
    }
    this.armHold();
  }

  private armHold(): void {
    const first = this.held.values().next().value;
    if (first === undefined) {
      if (this.holdTimer !== undefined) this.clock.clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
      return;
    }
    const at = first[0]!.at + (this.limits().holdStartMs ?? 0);
    if (this.holdTimer !== undefined) {
      if (this.holdAt === at) return;
      this.clock.clearTimeout(this.holdTimer);
    }
    this.holdAt = at;
    this.holdTimer = this.clock.setTimeout(() => {
      this.holdTimer = undefined;
      this.releaseExpired();
      this.pump();
    }, Math.max(0, at - this.clock.now()));
  }

  /**
   * Sends everything now (no lingering; a backoff pause is cut short once) and waits until
   * every record is delivered, at most `timeoutMs`. Records still undelivered at the deadline
   * are dropped (counted and logged). Resolves with how many were: 0 when the queue drained.
   */
  async flush(timeoutMs: number): Promise<number> {
    if (await this.drain(timeoutMs)) return 0;
    const undelivered = this.size;
    this.dropAll("shutdown");
    return undelivered;
  }

  /**
   * As flush, but the records still undelivered at the deadline are taken out of the queue and
   * returned, not dropped: each interception's records in the order they must be applied.
   * Records in flight are among them (their answer may still have stored them: harmless, as a
   * retry). Empty when the queue drained.
   */
  async flushOrTakeBack(timeoutMs: number): Promise<TakenBack<R>[]> {
    if (await this.drain(timeoutMs)) return [];
    return this.takeAll("taken_back").map((item) => ({ record: item.record, seq: item.seq, replayed: item.replay !== undefined }));
  }

  /** Sends everything now and resolves true once the queue is empty, false at the deadline. */
  private async drain(timeoutMs: number): Promise<boolean> {
    if (this.size === 0) return true;
    this.flushing = true;
    try {
      this.releaseExpired();
      this.resume();
      return await new Promise<boolean>((resolve) => {
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
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Queues records read back from the spool, in order, behind what is queued (they were
   * admitted in an earlier run, so the bound does not refuse them: the caller queues a slice at a
   * time). Resolves with how the replay ended (ReplayOutcome), once every record settled or at
   * the first that cannot.
   */
  replay(records: readonly R[]): Promise<ReplayOutcome> {
    if (this.closed) return Promise.resolve("refused");
    if (records.length === 0) return Promise.resolve("stored");
    return new Promise<ReplayOutcome>((resolve) => {
      const tracker: ReplayTracker = { unsettled: records.length, done: resolve };
      const at = this.clock.now();
      for (const record of records) {
        this.pending.push({ record, at, seq: ++this.lastSeq, replay: tracker });
        this.pendingBytes += record.sizeBytes ?? 0;
      }
      this.pump();
    });
  }

  /**
   * Every undelivered record but the replayed ones (their spool file stays until they are
   * stored), left in the queue, in the order flushOrTakeBack would return them: for a
   * checkpoint, what a crash now would lose.
   */
  snapshot(): QueueSnapshot<R> {
    const records: R[] = [];
    this.eachUndelivered((item) => {
      if (item.replay === undefined) records.push(item.record);
    });
    return { records, lastSeq: this.lastSeq };
  }

  /**
   * The undelivered record, replayed ones aside, queued first: its seq and when it was queued
   * (clock ms); undefined when there is none.
   */
  oldestUndelivered(): { readonly seq: number; readonly queuedAt: number } | undefined {
    let oldest: Pending<R> | undefined;
    this.eachUndelivered((item) => {
      if (item.replay === undefined && (oldest === undefined || item.seq < oldest.seq)) oldest = item;
    });
    return oldest === undefined ? undefined : { seq: oldest.seq, queuedAt: oldest.at };
  }

  /** Counts (and logs) records given up on outside the queue, as if the queue had dropped them. */
  discard(records: readonly R[], reason: DropReason): void {
    this.countDropped(records, reason);
  }

  /** Stops delivering: aborts sends in flight and drops (counts, logs) whatever is left. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort(new Error("record queue closed"));
    this.dropAll("shutdown");
  }

  private limits(): BatchLimits {
    const limits = this.options.limits ?? DEFAULT_RECORD_QUEUE_OPTIONS.limits;
    return typeof limits === "function" ? limits() : limits;
  }

  /** Sends whatever is due, within the in-flight limit. */
  private pump(): void {
    if (this.closed || this.pauseTimer !== undefined) return;
    const limits = this.limits();
    while (this.inFlight.size < Math.max(1, limits.maxInFlight) && this.pending.length > 0) {
      // Cheap check first: everything waiting fits one batch and nothing has lingered long enough.
      const lingerOfOldest = this.pending[0]!.at + limits.lingerMs;
      if (!this.flushing && this.pending.length < limits.maxRecords && this.pendingBytes <= limits.maxBytes && this.clock.now() < lingerOfOldest) {
        this.armLinger(lingerOfOldest);
        return;
      }
      const next = this.select(limits);
      const oldest = next.batch[0];
      // Everything waiting belongs to interceptions with a batch in flight.
      if (oldest === undefined) return;
      const lingerEnds = oldest.at + limits.lingerMs;
      if (!this.flushing && !next.full && this.clock.now() < lingerEnds) {
        this.armLinger(lingerEnds);
        return;
      }
      this.pending = next.rest;
      for (const { record } of next.batch) this.pendingBytes -= record.sizeBytes ?? 0;
      this.dispatch(next.batch);
    }
  }

  private armLinger(at: number): void {
    if (this.lingerTimer !== undefined) {
      if (this.lingerAt <= at) return;
      this.clock.clearTimeout(this.lingerTimer);
    }
    this.lingerAt = at;
    this.lingerTimer = this.clock.setTimeout(() => {
      this.lingerTimer = undefined;
      this.pump();
    }, Math.max(0, at - this.clock.now()));
  }

  /**
   * The next batch, oldest first, skipping interceptions with records in flight (and, once one
   * record of an interception is skipped, its later ones); `full` when it reached a limit.
   */
  private select(limits: BatchLimits): { batch: Pending<R>[]; rest: Pending<R>[]; full: boolean } {
    const maxRecords = Math.max(1, limits.maxRecords);
    const batch: Pending<R>[] = [];
    const rest: Pending<R>[] = [];
    const skipped = new Set<string>();
    let bytes = 0;
    let full = false;
    for (let i = 0; i < this.pending.length; i++) {
      const item = this.pending[i]!;
      if (batch.length >= maxRecords) {
        full = true;
        rest.push(...this.pending.slice(i));
        break;
      }
      const id = item.record.interceptionId;
      const size = item.record.sizeBytes ?? 0;
      if (skipped.has(id) || this.busy.has(id)) {
        rest.push(item);
        skipped.add(id);
      } else if (batch.length > 0 && bytes + size > limits.maxBytes) {
        full = true;
        rest.push(item);
        skipped.add(id);
      } else {
        batch.push(item);
        bytes += size;
      }
    }
    if (batch.length >= maxRecords) full = true;
    return { batch, rest, full };
  }

  private dispatch(items: Pending<R>[]): void {
    let replayed = false;
    for (const { record, replay } of items) {
      this.busy.set(record.interceptionId, (this.busy.get(record.interceptionId) ?? 0) + 1);
      if (replay !== undefined) replayed = true;
    }
    const batch: Batch<R> = { items, dead: false, replayed };
    this.inFlight.add(batch);
    this.inFlightRecords += items.length;
    this.options.metrics?.recordBatchSize.observe(items.length);
    let promise: Promise<ReadonlyMap<string, string>>;
    try {
      promise = this.options.send(
        items.map((i) => i.record),
        this.abort.signal,
      );
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (rejected) => this.delivered(batch, rejected),
      (err: unknown) => this.failed(batch, err),
    );
  }

  /** Takes a finished batch off the wire; false when it was already given up on. */
  private takeOffWire(batch: Batch<R>): boolean {
    if (batch.dead) return false;
    this.inFlight.delete(batch);
    this.inFlightRecords -= batch.items.length;
    for (const { record } of batch.items) {
      const n = (this.busy.get(record.interceptionId) ?? 1) - 1;
      if (n > 0) this.busy.set(record.interceptionId, n);
      else this.busy.delete(record.interceptionId);
    }
    return true;
  }

  private delivered(batch: Batch<R>, rejected: ReadonlyMap<string, string>): void {
    if (!this.takeOffWire(batch)) return;
    this.backoff.reset();
    this.options.metrics?.recordBatchesTotal.inc({ outcome: "sent" });
    // Rejections are rare: usually every record of the batch was sent, and nothing is looked up.
    let sent = batch.items;
    if (rejected.size > 0) {
      const kept: Pending<R>[] = [];
      sent = kept;
      for (const item of batch.items) {
        const { record } = item;
        const reason = rejected.get(record.id);
        if (reason === undefined) {
          kept.push(item);
          continue;
        }
        this.logger.error({ interception_id: record.interceptionId, record_type: record.kind, record_id: record.id, reason }, "record rejected permanently; dropping it");
        this.dropped(record, "permanent", 1, false);
      }
    }
    if (this.options.metrics) countByKind(sent, this.options.metrics.recordsSentTotal);
    if (batch.replayed) settleReplays(batch.items, "stored");
    this.settled();
  }

  private failed(batch: Batch<R>, err: unknown): void {
    if (!this.takeOffWire(batch) || this.closed) return;
    this.options.metrics?.recordBatchesTotal.inc({ outcome: "failed" });
    const records = batch.items.length;
    if (this.options.classify(err, records) === "permanent") {
      this.logger.error({ err, records }, "record batch rejected permanently; dropping it");
      for (const { record } of batch.items) this.dropped(record, "permanent", 1, false);
      // Refused as a whole (the gateway key deleted, say): nothing about these records is known.
      if (batch.replayed) settleReplays(batch.items, "refused");
      this.settled();
      return;
    }
    // Back to the front, unchanged: the same ids make the retry harmless.
    this.pending = [...batch.items, ...this.pending];
    for (const { record } of batch.items) this.pendingBytes += record.sizeBytes ?? 0;
    if (this.options.metrics) countByKind(batch.items, this.options.metrics.recordsRetriedTotal);
    const delayMs = this.backoff.next();
    const attempt = this.backoff.attempts;
    if (attempt <= 1) this.outageLog.end();
    this.logger.warn({ err: this.outageLog.detail(err), records, attempt, retry_in_ms: delayMs }, "record delivery failed; retrying");
    this.pause(delayMs);
    this.settled();
  }

  private pause(delayMs: number): void {
    if (this.pauseTimer !== undefined) this.clock.clearTimeout(this.pauseTimer);
    this.pauseTimer = this.clock.setTimeout(() => {
      this.pauseTimer = undefined;
      this.pump();
    }, delayMs);
  }

  /** Ends a backoff pause now. */
  private resume(): void {
    if (this.pauseTimer !== undefined) this.clock.clearTimeout(this.pauseTimer);
    this.pauseTimer = undefined;
    this.pump();
  }

  private settled(): void {
    if (this.size === 0) this.notifyIdle();
    this.pump();
  }

  private dropAll(reason: DropReason): void {
    this.countDropped(
      this.takeAll("refused").map((item) => item.record),
      reason,
    );
  }

  /**
   * Every undelivered record, each interception's in order: a batch in flight holds records
   * queued before any of that interception's pending ones, and a held interception has no
   * records elsewhere.
   */
  private undelivered(): Pending<R>[] {
    const items: Pending<R>[] = [];
    this.eachUndelivered((item) => items.push(item));
    return items;
  }

  /** Visits every undelivered record, in the order undelivered() lists them, without copying them. */
  private eachUndelivered(visit: (item: Pending<R>) => void): void {
    for (const batch of this.inFlight) for (const item of batch.items) visit(item);
    for (const item of this.pending) visit(item);
    for (const held of this.held.values()) for (const item of held) visit(item);
  }

  /**
   * Empties the queue (see undelivered) and stops its timers; batches in flight are given up
   * on. Replays waiting on them end with `outcome`.
   */
  private takeAll(outcome: "taken_back" | "refused"): Pending<R>[] {
    const items = this.undelivered();
    for (const batch of this.inFlight) batch.dead = true;
    this.held.clear();
    this.heldRecords = 0;
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlight.clear();
    this.inFlightRecords = 0;
    this.busy.clear();
    if (this.pauseTimer !== undefined) this.clock.clearTimeout(this.pauseTimer);
    if (this.lingerTimer !== undefined) this.clock.clearTimeout(this.lingerTimer);
    if (this.holdTimer !== undefined) this.clock.clearTimeout(this.holdTimer);
    this.pauseTimer = undefined;
    this.lingerTimer = undefined;
    this.holdTimer = undefined;
    settleReplays(items, outcome);
    this.notifyIdle();
    return items;
  }

  /**
   * Counts and logs dropped records: one line per interception and record type, or, for more
   * interceptions than a log reader goes through (a whole queue at shutdown: up to one line per
   * record), one line counting them by type with the first interceptions' ids.
   */
  private countDropped(records: readonly R[], reason: DropReason): void {
    const interceptions = new Set(records.map((r) => r.interceptionId));
    if (interceptions.size > DROPS_LOGGED_ONE_BY_ONE) {
      const byType: Partial<Record<RecordKind, number>> = {};
      for (const r of records) byType[r.kind] = (byType[r.kind] ?? 0) + 1;
      for (const [kind, count] of Object.entries(byType) as [RecordKind, number][]) this.dropped({ kind, interceptionId: "" }, reason, count, false);
      this.logger.error(
        { reason, records: records.length, interceptions: interceptions.size, record_types: byType, first_interception_ids: [...interceptions].slice(0, DROPS_LOGGED_ONE_BY_ONE) },
        "dropping records",
      );
      return;
    }
    const counts = new Map<string, { record: R; count: number }>();
    for (const record of records) {
      const key = `${record.interceptionId}|${record.kind}`;
      const entry = counts.get(key);
      if (entry === undefined) counts.set(key, { record, count: 1 });
      else entry.count += 1;
    }
    for (const { record, count } of counts.values()) this.dropped(record, reason, count);
  }

  private dropped(record: Pick<QueuedRecord, "kind" | "interceptionId">, reason: DropReason, count: number, log = true): void {
    this.options.metrics?.recordsDroppedTotal.inc({ type: record.kind, reason }, count);
    if (reason === "permanent") this.rejectedRecords += count;
    if (log) {
      this.logger.error(
        { interception_id: record.interceptionId, record_type: record.kind, reason, count },
        record.kind === "interception" ? "dropping interception start" : "dropping follow-up record",
      );
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}

/**
 * Tells the replays among `items` how these records settled: each one `stored` counts down its
 * replay; any other outcome ends the replay at once.
 */
function settleReplays(items: readonly { readonly replay?: ReplayTracker }[], outcome: ReplayOutcome): void {
  for (const { replay } of items) {
    if (replay === undefined || replay.unsettled <= 0) continue;
    if (outcome === "stored") {
      replay.unsettled -= 1;
      if (replay.unsettled === 0) replay.done("stored");
    } else {
      replay.unsettled = 0;
      replay.done(outcome);
    }
  }
}

/**
 * Adds records to a per-type counter once per type: a batch holds hundreds of records of a few
 * types, and prom-client hashes the labels on every call.
 */
function countByKind(items: readonly { readonly record: QueuedRecord }[], counter: Counter<"type">): void {
  const counts = new Map<string, number>();
  for (const { record } of items) counts.set(record.kind, (counts.get(record.kind) ?? 0) + 1);
  for (const [type, n] of counts) counter.inc({ type }, n);
}

/** Creates a RecordQueue. */
export function createRecordQueue<R extends QueuedRecord>(options: RecordQueueOptions<R>): RecordQueue<R> {
  return new RecordQueue(options);
}
