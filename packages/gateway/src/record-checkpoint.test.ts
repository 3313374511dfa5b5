// Pins the record checkpoint on a fake clock and queue with a real spool directory: nothing is
// written while records wait less than the interval; then every waiting record is, each interval,
// and the previous checkpoint goes only once the new one is on disk (a failed write keeps it); a
// checkpoint stays while any record it holds waits — judged by the queue's order, so a clock
// stepped back cannot discard it early — and goes once they are all delivered; stop() waits for
// a write under way and leaves no timer.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { RecordCheckpoint } from "./record-checkpoint.js";
import { RecordSpool, createGatewayMetrics, endedRecord } from "./index.js";
import type { GatewayRecord, QueueSnapshot } from "./index.js";
import { FakeClock } from "./testing/index.js";

const INTERVAL = 1_000;
const silent = pino({ level: "silent" });

/** The queue as the checkpoint sees it: records with their seq and when they were queued. */
class FakeQueue {
  items: { record: GatewayRecord; seq: number; queuedAt: number }[] = [];
  private lastSeq = 0;
  add(queuedAt: number): GatewayRecord {
    const record = endedRecord(randomUUID(), "", queuedAt, undefined);
    this.items.push({ record, seq: ++this.lastSeq, queuedAt });
    return record;
  }
  deliver(record: GatewayRecord): void {
    this.items = this.items.filter((i) => i.record !== record);
  }
  snapshot(): QueueSnapshot<GatewayRecord> {
    return { records: this.items.map((i) => i.record), lastSeq: this.lastSeq };
  }
  oldestUndelivered(): { seq: number; queuedAt: number } | undefined {
    const [first] = this.items;
    return first === undefined ? undefined : { seq: first.seq, queuedAt: first.queuedAt };
  }
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "weir-checkpoint-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function setup(name: string, failWrites?: () => boolean) {
  const spool = new RecordSpool(join(root, name));
  await spool.prepare();
  const clock = new FakeClock();
  const queue = new FakeQueue();
  const metrics = createGatewayMetrics();
  const writer = {
    dir: spool.dir,
    write: (records: readonly GatewayRecord[], options?: { allOrNothing?: boolean }) => (failWrites?.() ? Promise.reject(new Error("disk full")) : spool.write(records, options)),
    remove: (path: string) => spool.remove(path),
  };
  const checkpoint = new RecordCheckpoint({ spool: writer, queue, intervalMs: INTERVAL, clock, logger: silent, metrics });
  checkpoint.start();
  /** Fires the next tick and waits until its file work is done. */
  const tick = async (): Promise<void> => {
    await clock.advance(INTERVAL);
    await until(async () => clock.pendingTimers === 1);
  };
  /** The ids in the checkpoint on disk now, file by file. */
  const onDisk = async (): Promise<string[][]> => Promise.all((await spool.list()).map(async (f) => (await spool.read(f)).map((r) => r.id)));
  return { spool, clock, queue, metrics, checkpoint, tick, onDisk };
}

/** Real-time polling: the checkpoint's file work is real I/O. */
async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error("timed out");
}

describe("RecordCheckpoint", () => {
  it("writes every waiting record once one has waited the interval, and replaces the previous checkpoint each interval", async () => {
    const { clock, queue, metrics, checkpoint, tick, onDisk } = await setup("replace");
    const t0 = clock.now();
    const r1 = queue.add(t0 + 1);
    await tick();
    assert.deepEqual(await onDisk(), [], "r1 has waited less than the interval");
    const r2 = queue.add(t0 + 1_500);
    await tick();
    assert.deepEqual(await onDisk(), [[r1.id, r2.id]]);
    const r3 = queue.add(t0 + 2_500);
    await tick();
    assert.deepEqual(await onDisk(), [[r1.id, r2.id, r3.id]], "one checkpoint on disk: the new one replaced the old");
    assert.equal((await metrics.recordCheckpointsTotal.get()).values[0]?.value, 2);
    await checkpoint.stop();
  });

  it("keeps a checkpoint while any record it holds waits — also when the clock stepped back — and removes it once all are delivered", async () => {
    const { clock, queue, checkpoint, tick, onDisk } = await setup("obsolete");
    const t0 = clock.now();
    const r1 = queue.add(t0 + 1);
    // Queued before the system clock stepped back 10 s: stamped later than the checkpoint's time.
    const r2 = queue.add(t0 + 11_000);
    await tick();
    await tick();
    assert.deepEqual(await onDisk(), [[r1.id, r2.id]]);
    queue.deliver(r1);
    await tick();
    assert.deepEqual(await onDisk(), [[r1.id, r2.id]], "r2 still waits: the checkpoint stays");
    queue.deliver(r2);
    const r4 = queue.add(clock.now() + 1);
    await tick();
    assert.deepEqual(await onDisk(), [], "all it held are delivered; r4 has not waited the interval yet");
    await tick();
    assert.deepEqual(await onDisk(), [[r4.id]]);
    await checkpoint.stop();
  });

  it("keeps the previous checkpoint when a write fails, and says which records the one on disk holds", async () => {
    let fail = false;
    const { clock, queue, checkpoint, tick, onDisk } = await setup("failing", () => fail);
    assert.equal(checkpoint.holds(1), false, "no checkpoint yet");
    const r1 = queue.add(clock.now());
    await tick();
    assert.deepEqual(await onDisk(), [[r1.id]]);
    fail = true;
    const r2 = queue.add(clock.now());
    await tick();
    assert.deepEqual(await onDisk(), [[r1.id]], "the old checkpoint still covers r1");
    // What a shutdown whose spool write fails counts on (the gateway's dropped records).
    assert.deepEqual([checkpoint.holds(1), checkpoint.holds(2)], [true, false]);
    fail = false;
    await tick();
    assert.deepEqual(await onDisk(), [[r1.id, r2.id]]);
    assert.deepEqual([checkpoint.holds(1), checkpoint.holds(2)], [true, true]);
    await checkpoint.stop();
    await checkpoint.discard();
    assert.equal(checkpoint.holds(1), false, "discarded: it holds nothing");
  });

  it("stop() leaves no timer, and discard() removes the files", async () => {
    const { clock, queue, checkpoint, tick, onDisk } = await setup("stop");
    queue.add(clock.now());
    await tick();
    assert.equal((await onDisk()).length, 1);
    await checkpoint.stop();
    assert.equal(clock.pendingTimers, 0);
    await clock.advance(5 * INTERVAL);
    assert.equal((await onDisk()).length, 1, "stopping keeps the files: shutdown decides");
    await checkpoint.discard();
    assert.deepEqual(await onDisk(), []);
  });
});
