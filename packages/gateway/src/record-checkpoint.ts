// Checkpoints of the record queue in the record spool (record-spool.ts), for crashes: the
// shutdown spool covers a replica that is told to stop, not one that is killed (kill -9, the
// out-of-memory killer, a lost node). Normally records wait on the control plane for well under
// a second and nothing is written. Once the longest-waiting record has waited intervalMs (the
// control plane is down, or not keeping up), every record the queue holds is written to new
// spool files every intervalMs, and the previous checkpoint's files removed: a crash then loses
// only the records queued since the last checkpoint (the README gives the bound), and the next
// replica on the directory delivers the rest like any spool file (each record stored once, by
// its id, whatever else delivered it).
//
// A checkpoint is obsolete once every record it holds has settled: when nothing still queued was
// queued before it was taken (by the queue's own sequence, which a clock stepping back cannot
// confuse). It is then removed; at shutdown the gateway removes it once the final spool file is
// written (or the queue drained). Replayed records are left out: their spool file stays until
// they are stored.
//
// Each checkpoint writes every waiting record again: simple, and bounded by the queue, but a
// queue of large prompts makes it heavy; --record-checkpoint-interval trades that against what a
// crash may lose.

import type { Logger } from "pino";
import type { Clock, TimerHandle } from "./clock.js";
import type { GatewayMetrics } from "./metrics.js";
import type { RecordQueue } from "./record-queue.js";
import type { RecordSpool } from "./record-spool.js";
import type { GatewayRecord } from "./records.js";

export interface RecordCheckpointOptions {
  readonly spool: Pick<RecordSpool, "dir" | "write" | "remove">;
  readonly queue: Pick<RecordQueue<GatewayRecord>, "snapshot" | "oldestUndelivered">;
  /** How long a record may wait before the queue is checkpointed, and how often it is then. */
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics?: Pick<GatewayMetrics, "recordCheckpointsTotal">;
}

export class RecordCheckpoint {
  /** The files of the checkpoint on disk now; empty when there is none. */
  private files: string[] = [];
  /** The queue's last seq when that checkpoint was taken: it holds every waiting record up to it. */
  private lastSeq = 0;
  private timer: TimerHandle | undefined;
  private step: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: RecordCheckpointOptions) {}

  /** Looks at the queue every intervalMs from now on. */
  start(): void {
    this.arm();
  }

  /** No further checkpoint; resolves once a write under way has ended. The files stay (see discard). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.step;
  }

  /**
   * Whether the checkpoint on disk holds the record queued as `seq` (a record replayed from a
   * spool file aside: checkpoints leave those out). Only for a record still undelivered: the
   * checkpoint held every such record queued up to its lastSeq.
   */
  holds(seq: number): boolean {
    return this.files.length > 0 && seq <= this.lastSeq;
  }

  /** Removes the checkpoint's files: their records are stored, or in newer spool files. */
  async discard(): Promise<void> {
    const files = this.files;
    this.files = [];
    await this.remove(files);
  }

  /** Removes files; one that cannot be is logged and left (replayed again later: harmless). */
  private async remove(files: readonly string[]): Promise<void> {
    for (const file of files) {
      await this.options.spool.remove(file).catch((err: unknown) => this.options.logger.warn({ err, file }, "could not remove an old record checkpoint; its records are replayed again"));
    }
  }

  private arm(): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.step = this.look()
        .catch((err: unknown) => this.options.logger.error({ err, dir: this.options.spool.dir }, "record checkpoint failed; the previous one, if any, is kept"))
        .finally(() => {
          this.step = undefined;
          this.arm();
        });
    }, this.options.intervalMs);
  }

  private async look(): Promise<void> {
    const { queue, clock, logger, intervalMs } = this.options;
    const oldest = queue.oldestUndelivered();
    if (this.files.length > 0 && (oldest === undefined || oldest.seq > this.lastSeq)) {
      const files = this.files.length;
      await this.discard();
      logger.info({ files }, "checkpointed records delivered; checkpoint removed");
    }
    const now = clock.now();
    if (oldest === undefined || now - oldest.queuedAt < intervalMs || this.stopped) return;
    const { records, lastSeq } = queue.snapshot();
    const previous = this.files;
    // The previous checkpoint goes only once this one is durable.
    this.files = await this.options.spool.write(records, { allOrNothing: true });
    this.lastSeq = lastSeq;
    this.options.metrics?.recordCheckpointsTotal.inc();
    await this.remove(previous);
    const fields = { records: records.length, files: this.files, waited_ms: now - oldest.queuedAt };
    if (previous.length === 0) logger.warn(fields, "records are waiting on the control plane; checkpointing them to the record spool until they are delivered");
    else logger.debug(fields, "records checkpointed");
  }
}
