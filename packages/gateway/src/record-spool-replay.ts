// Delivers what an earlier run left in the record spool (record-spool.ts), once the control
// plane answers: file by file, oldest first, each file's records queued behind live traffic a
// slice at a time (so a big file does not take the queue's room from new requests), and the file
// removed only when every record was stored (or refused for good, record by record). Replay is
// harmless to repeat on API 1.1 — every record keeps the id it was made with, so the control
// plane stores it once — which is what makes a crash mid-replay, or two replicas sharing one
// directory, safe: the file is simply replayed again.
//
// A batch refused as a whole (the gateway key deleted, say) ends the replay and keeps the file:
// such a refusal says nothing about the records. At shutdown, stop() lets the slice in replay
// finish within the flush deadline and queues no more; finished() then names the file and the
// records not yet queued, which go into the new spool file with whatever the deadline took back,
// so that the old file is superseded.

import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import { sleep } from "./clock.js";
import type { GatewayMetrics } from "./metrics.js";
import type { RecordQueue } from "./record-queue.js";
import type { RecordSpool } from "./record-spool.js";
import { SpoolFileError, isFileGone } from "./record-spool.js";
import type { GatewayRecord } from "./records.js";

/** How often readiness is looked at while the control plane does not answer. */
const READY_POLL_MS = 100;

export interface SpoolReplayOptions {
  readonly spool: RecordSpool;
  readonly queue: Pick<RecordQueue<GatewayRecord>, "replay">;
  /** Records queued at once; the next slice waits until these settled. */
  readonly sliceRecords: number;
  /** Whether the control plane answers now: until it does, spooled records stay on disk, not in the queue's room. */
  readonly controlPlaneReady: () => boolean;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly metrics?: Pick<GatewayMetrics, "recordsReplayedTotal">;
}

/** A file whose replay shutdown cut short: its records not yet queued (those queued were stored or taken back). */
export interface InterruptedReplay {
  readonly file: string;
  readonly unqueued: readonly GatewayRecord[];
}

export class SpoolReplay {
  private readonly stopping = new AbortController();
  private running: Promise<InterruptedReplay | undefined> | undefined;

  constructor(private readonly options: SpoolReplayOptions) {}

  /** Starts replaying the files the spool holds now, in the background. */
  start(): void {
    this.running ??= this.run().catch((err: unknown) => {
      this.options.logger.error({ err, dir: this.options.spool.dir }, "record spool replay stopped; the files left are replayed at the next start");
      return undefined;
    });
  }

  /** No further slice or file is started; the slice in replay goes on (see finished). */
  stop(): void {
    this.stopping.abort(new Error("gateway shutting down"));
  }

  /** Resolves when replay has ended: with the file it was in the middle of, if shutdown cut it short. */
  finished(): Promise<InterruptedReplay | undefined> {
    return this.running ?? Promise.resolve(undefined);
  }

  private async run(): Promise<InterruptedReplay | undefined> {
    const { spool, queue, logger, metrics } = this.options;
    const slice = Math.max(1, this.options.sliceRecords);
    const files = await spool.list();
    if (files.length === 0) return undefined;
    logger.info({ dir: spool.dir, files: files.length }, "replaying spooled records");
    for (const file of files) {
      if (!(await this.controlPlaneAnswers())) return undefined;
      const records = await this.read(file);
      if (records === undefined) continue;
      if (this.stopping.signal.aborted) return undefined;
      metrics?.recordsReplayedTotal.inc(records.length);
      for (let i = 0; i < records.length; i += slice) {
        if (i > 0 && this.stopping.signal.aborted) return { file, unqueued: records.slice(i) };
        const outcome = await queue.replay(records.slice(i, i + slice));
        if (outcome === "taken_back") return { file, unqueued: records.slice(i + slice) };
        if (outcome === "refused") {
          logger.error({ file }, "the control plane refused spooled records as a whole; the file is kept and replayed at the next start");
          return undefined;
        }
      }
      await spool.remove(file);
      logger.info({ file, records: records.length }, "spooled records delivered; spool file removed");
    }
    return undefined;
  }

  /** A file's records; undefined when it is gone (another replica took it), set aside, or unreadable (kept). */
  private async read(file: string): Promise<GatewayRecord[] | undefined> {
    const { spool, logger } = this.options;
    try {
      return await spool.read(file);
    } catch (err) {
      if (isFileGone(err)) return undefined;
      if (!(err instanceof SpoolFileError)) {
        logger.error({ err, file }, "spool file could not be read; it is kept and replayed at the next start");
        return undefined;
      }
      try {
        const moved = await spool.quarantine(file);
        logger.error({ err, file: moved }, "spool file set aside: it is not whole, and is not replayed");
      } catch (renameErr) {
        if (!isFileGone(renameErr)) throw renameErr;
      }
      return undefined;
    }
  }

  /** Waits until the control plane answers; false when stopped first. */
  private async controlPlaneAnswers(): Promise<boolean> {
    while (!this.options.controlPlaneReady()) {
      try {
        await sleep(this.options.clock, READY_POLL_MS, this.stopping.signal);
      } catch {
        return false;
      }
    }
    return !this.stopping.signal.aborted;
  }
}
