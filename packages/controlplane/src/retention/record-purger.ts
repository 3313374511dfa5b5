// Keeps recorded traffic for a retention period (the reference's AI Gateway retention, default
// 60 days): a background job that deletes interceptions, with their children, that started
// longer ago than that. A pass runs when the control plane starts and then every interval; it
// deletes batch after batch until none is left, so a large backlog is worked off in one pass of
// short transactions. A failed pass is logged and the next interval tries again.
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import type { Counter } from "prom-client";
import type { Clock } from "../clock.js";
import { PURGED_TABLES, analyzePurgedTables, purgeInterceptionsStartedBefore, type PurgedRows, type PurgedTable } from "../db/repositories/record-retention-repository.js";
import type { Database } from "../db/schema.js";
import { systemTimers, type Timers } from "../timers.js";

export interface RecordPurgerOptions {
  readonly db: Kysely<Database>;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Interceptions that started longer ago than this are deleted. */
  readonly retentionMs: number;
  /** Time from the end of one pass to the start of the next. */
  readonly intervalMs: number;
  /** Interceptions deleted per transaction. */
  readonly batchSize: number;
  /** Rows deleted, by table. */
  readonly purged: Counter<"table">;
  readonly timers?: Timers;
}

/**
 * After a pass deleted this many interceptions the planner's statistics are refreshed at once:
 * with stale ones (autovacuum off, or not yet run) list pages went from 25 to 250 ms.
 */
const ANALYZE_AFTER_INTERCEPTIONS = 10_000;

/** What one pass did. */
export interface PurgePass {
  readonly cutoff: Date;
  readonly rows: PurgedRows;
  /** False when another control plane held the retention lock and this pass left the work to it. */
  readonly ran: boolean;
  /** False when shutdown stopped the pass before nothing past the period was left. */
  readonly complete: boolean;
}

export class RecordPurger {
  private readonly logger: Logger;
  private readonly timers: Timers;
  private timer: unknown;
  private pass: Promise<unknown> | undefined;
  private closed = false;

  constructor(private readonly options: RecordPurgerOptions) {
    this.logger = options.logger.child({ component: "record_purger" });
    this.timers = options.timers ?? systemTimers;
    // Every table's series exists from the start, at 0, so an alert can tell "nothing purged".
    for (const table of PURGED_TABLES) options.purged.inc({ table }, 0);
  }

  /** Schedules the first pass at once and each further one an interval after the last ended. */
  start(): void {
    this.schedule(0);
  }

  /** Deletes everything past the retention period now. Never throws: a failure is logged. */
  async runPass(): Promise<PurgePass | undefined> {
    const { db, clock, retentionMs, batchSize } = this.options;
    const cutoff = new Date(clock.now().getTime() - retentionMs);
    const rows = Object.fromEntries(PURGED_TABLES.map((t) => [t, 0])) as Record<PurgedTable, number>;
    const started = performance.now();
    let ran = true;
    let complete = false;
    try {
      for (;;) {
        const batch = await purgeInterceptionsStartedBefore(db, cutoff, batchSize);
        if (batch === undefined) {
          ran = false;
          this.logger.debug("another control plane is purging; leaving the work to it");
          break;
        }
        for (const table of PURGED_TABLES) {
          rows[table] += batch[table];
          if (batch[table] > 0) this.options.purged.inc({ table }, batch[table]);
        }
        complete = batch.aibridge_interceptions < batchSize;
        if (complete || this.closed) break;
      }
    } catch (err) {
      this.logger.warn({ err, cutoff: cutoff.toISOString(), deleted: rows }, "purging records past the retention period failed; retrying at the next interval");
      return undefined;
    }
    if (rows.aibridge_interceptions >= ANALYZE_AFTER_INTERCEPTIONS) {
      // The deletions stand whether or not this works; the next autovacuum analyzes anyway.
      await analyzePurgedTables(db).catch((err: unknown) => this.logger.warn({ err }, "analyzing the purged tables failed"));
    }
    if (rows.aibridge_interceptions > 0) {
      const durationMs = Math.round(performance.now() - started);
      this.logger.info({ cutoff: cutoff.toISOString(), deleted: rows, complete, duration_ms: durationMs }, "purged records past the retention period");
    }
    return { cutoff, rows, ran, complete: ran && complete };
  }

  /** Stops scheduling and waits for a pass in progress to finish its current batch. */
  async close(): Promise<void> {
    this.closed = true;
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.pass;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.pass = this.runPass().finally(() => {
        this.pass = undefined;
        this.schedule(this.options.intervalMs);
      });
    }, delayMs);
  }
}
