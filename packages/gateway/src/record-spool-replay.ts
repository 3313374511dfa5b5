// Delivers what an earlier run left in the record spool (record-spool.ts), once the control
// plane answers: file by file, oldest first, each file's records queued behind live traffic and
// the file removed only when every one of them was stored (or refused for good). Replay is
// harmless to repeat — every record keeps the id it was made with, so the control plane stores
// it once — which is what makes a crash mid-replay, or two replicas sharing one directory,
// safe: the file is simply replayed again.
//
// At shutdown, stop() lets the file in replay finish within the flush deadline; when the
// deadline takes its records back with the rest of the queue, they go into the new spool file
// and the old file is superseded (finished() names it, for the gateway to remove).

import type { Logger } from "pino";
import type { Clock } from "./clock.js";
import { sleep } from "./clock.js";
import type { GatewayMetrics } from "./metrics.js";
import type { RecordQueue } from "./record-queue.js";
import type { RecordSpool } from "./record-spool.js";
import { SpoolFileError } from "./record-spool.js";
import type { GatewayRecord } from "./records.js";

/** How often readiness is looked at while the control plane does not answer. */
const READY_POLL_MS = 100;

export interface SpoolReplayOptions {
  readonly spool: RecordSpool;
  readonly queue: Pick<RecordQueue<GatewayRecord>, "replay">;
  /** Whether the control plane answers now: until it does, spooled records stay on disk, not in the queue's room. */
  readonly controlPlaneReady: () => boolean;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly metrics?: Pick<GatewayMetrics, "recordsReplayedTotal">;
}

export class SpoolReplay {
  private readonly stopping = new AbortController();
  private running: Promise<string | undefined> | undefined;

  constructor(private readonly options: SpoolReplayOptions) {}

  /** Starts replaying the files the spool holds now, in the background. */
  start(): void {
    this.running ??= this.run().catch((err: unknown) => {
      this.options.logger.error({ err, dir: this.options.spool.dir }, "record spool replay stopped; the files left are replayed at the next start");
      return undefined;
    });
  }

  /** No further file is started; the one in replay goes on (see finished). */
  stop(): void {
    this.stopping.abort(new Error("gateway shutting down"));
  }

  /**
   * Resolves when replay has ended, with the file whose records the queue gave up mid-replay
   * (taken back at the shutdown deadline), if any.
   */
  finished(): Promise<string | undefined> {
    return this.running ?? Promise.resolve(undefined);
  }

  private async run(): Promise<string | undefined> {
    const { spool, queue, logger, metrics } = this.options;
    const files = await spool.list();
    if (files.length === 0) return undefined;
    logger.info({ dir: spool.dir, files: files.length }, "replaying spooled records");
    for (const file of files) {
      if (!(await this.controlPlaneAnswers())) return undefined;
      let records: GatewayRecord[];
      try {
        records = await spool.read(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // another replica delivered it
        if (!(err instanceof SpoolFileError)) throw err;
        const moved = await spool.quarantine(file);
        logger.error({ err, file: moved }, "spool file set aside: it is not whole, and is not replayed");
        continue;
      }
      if (this.stopping.signal.aborted) return undefined;
      metrics?.recordsReplayedTotal.inc(records.length);
      if (!(await queue.replay(records))) return file;
      await spool.remove(file);
      logger.info({ file, records: records.length }, "spooled records delivered; spool file removed");
    }
    return undefined;
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
