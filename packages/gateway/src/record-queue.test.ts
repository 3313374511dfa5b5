// Pins the follow-up record queue: per-interception order (ended last), retries of transient
// failures until delivered exactly once, permanent drops, overflow drops, bounded concurrency,
// and the flush deadline — all on a fake clock.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { RecordQueue, createGatewayMetrics } from "./index.js";
import type { FailureClass, QueuedRecord, RecordKind } from "./index.js";
import { FakeClock, flushMicrotasks } from "./testing/index.js";

interface TestRecord extends QueuedRecord {
  readonly label: string;
}

const silent = pino({ level: "silent" });

class TransientError extends Error {}
class PermanentError extends Error {}

function rec(interceptionId: string, kind: RecordKind, label = `${interceptionId}:${kind}`): TestRecord {
  return { interceptionId, kind, label };
}

/** A scriptable sender: fails per label as told, can hold deliveries, logs what it delivered. */
function sender(): {
  send: (r: TestRecord) => Promise<void>;
  delivered: string[];
  attempts: string[];
  failTimes: Map<string, { times: number; permanent: boolean }>;
  inFlight: () => number;
  maxInFlight: () => number;
  hold: () => () => void;
} {
  const delivered: string[] = [];
  const attempts: string[] = [];
  const failTimes = new Map<string, { times: number; permanent: boolean }>();
  let active = 0;
  let max = 0;
  let gate: Promise<void> | undefined;
  return {
    delivered,
    attempts,
    failTimes,
    inFlight: () => active,
    maxInFlight: () => max,
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
    send: async (r) => {
      attempts.push(r.label);
      active += 1;
      max = Math.max(max, active);
      try {
        if (gate !== undefined) await gate;
        const f = failTimes.get(r.label);
        if (f !== undefined && f.times > 0) {
          f.times -= 1;
          throw f.permanent ? new PermanentError(r.label) : new TransientError(r.label);
        }
        delivered.push(r.label);
      } finally {
        active -= 1;
      }
    },
  };
}

const classify = (err: unknown): FailureClass => (err instanceof PermanentError ? "permanent" : "transient");

async function counter(metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, labels: Record<string, string>): Promise<number> {
  const data = await metric.get();
  return data.values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((sum, v) => sum + v.value, 0);
}

describe("RecordQueue", () => {
  it("delivers one interception's records in order, ended last", async () => {
    const s = sender();
    const q = new RecordQueue<TestRecord>({ send: s.send, classify, logger: silent, clock: new FakeClock() });
    for (const kind of ["prompt_usage", "token_usage", "tool_usage", "model_thought", "interception_ended"] as const) q.enqueue(rec("i1", kind));
    assert.equal(await q.flush(1_000), true);
    assert.deepEqual(s.delivered, ["i1:prompt_usage", "i1:token_usage", "i1:tool_usage", "i1:model_thought", "i1:interception_ended"]);
    assert.equal(q.size, 0);
  });

  it("retries a transient failure with backoff until delivered, exactly once, before the interception's end", async () => {
    const clock = new FakeClock();
    const metrics = createGatewayMetrics();
    const s = sender();
    s.failTimes.set("i1:token_usage", { times: 3, permanent: false });
    const q = new RecordQueue<TestRecord>({ send: s.send, classify, logger: silent, clock, metrics, backoff: { random: () => 0.5 } });
    q.enqueue(rec("i1", "token_usage"));
    q.enqueue(rec("i1", "interception_ended"));
    await flushMicrotasks();
    assert.deepEqual(s.delivered, []);
    assert.deepEqual(clock.pendingDelays(), [50]);
    await clock.advance(50);
    assert.deepEqual(clock.pendingDelays(), [100]);
    await clock.advance(100);
    assert.deepEqual(clock.pendingDelays(), [200]);
    await clock.advance(200);
    assert.deepEqual(s.delivered, ["i1:token_usage", "i1:interception_ended"]);
    assert.deepEqual(s.attempts, ["i1:token_usage", "i1:token_usage", "i1:token_usage", "i1:token_usage", "i1:interception_ended"]);
    assert.equal(await counter(metrics.recordsRetriedTotal, { type: "token_usage" }), 3);
    assert.equal(await counter(metrics.recordsSentTotal, {}), 2);
    assert.equal(await counter(metrics.recordsDroppedTotal, {}), 0);
  });

  it("drops a permanently failing record, counts it, and still delivers the rest", async () => {
    const metrics = createGatewayMetrics();
    const s = sender();
    s.failTimes.set("i1:tool_usage", { times: 1, permanent: true });
    const q = new RecordQueue<TestRecord>({ send: s.send, classify, logger: silent, clock: new FakeClock(), metrics });
    q.enqueue(rec("i1", "tool_usage"));
    q.enqueue(rec("i1", "interception_ended"));
    assert.equal(await q.flush(1_000), true);
    assert.deepEqual(s.delivered, ["i1:interception_ended"]);
    assert.equal(await counter(metrics.recordsDroppedTotal, { type: "tool_usage", reason: "permanent" }), 1);
  });

  it("drops and counts records beyond maxSize without blocking the caller", async () => {
    const metrics = createGatewayMetrics();
    const s = sender();
    const release = s.hold();
    const q = new RecordQueue<TestRecord>({ send: s.send, classify, logger: silent, clock: new FakeClock(), metrics, maxSize: 3 });
    const accepted = ["a", "b", "c", "d", "e"].map((id) => q.enqueue(rec(id, "interception_ended")));
    assert.deepEqual(accepted, [true, true, true, false, false]);
    assert.equal(q.size, 3);
    assert.equal(await counter(metrics.recordsDroppedTotal, { reason: "overflow" }), 2);
    release();
    assert.equal(await q.flush(1_000), true);
    assert.deepEqual(s.delivered.sort(), ["a:interception_ended", "b:interception_ended", "c:interception_ended"]);
  });

  it("keeps at most `concurrency` deliveries in flight across interceptions", async () => {
    const s = sender();
    const release = s.hold();
    const q = new RecordQueue<TestRecord>({ send: s.send, classify, logger: silent, clock: new FakeClock(), concurrency: 2 });
    for (const id of ["a", "b", "c", "d"]) q.enqueue(rec(id, "interception_ended"));
    await flushMicrotasks();
    assert.equal(s.inFlight(), 2);
    release();
    assert.equal(await q.flush(1_000), true);
    assert.equal(s.maxInFlight(), 2);
    assert.equal(s.delivered.length, 4);
  });

  it("sends one record of an interception at a time", async () => {
    const s = sender();
    const release = s.hold();
    const q = new RecordQueue<TestRecord>({ send: s.send, classify, logger: silent, clock: new FakeClock(), concurrency: 4 });
    q.enqueue(rec("a", "prompt_usage"));
    q.enqueue(rec("a", "token_usage"));
    q.enqueue(rec("a", "interception_ended"));
    await flushMicrotasks();
    assert.equal(s.inFlight(), 1);
    release();
    await q.flush(1_000);
    assert.equal(s.maxInFlight(), 1);
  });

  it("retries at once when flushed, and drops (counted) what is still undelivered at the deadline", async () => {
    const clock = new FakeClock();
    const metrics = createGatewayMetrics();
    const s = sender();
    s.failTimes.set("a:token_usage", { times: 1_000, permanent: false });
    const q = new RecordQueue<TestRecord>({ send: s.send, classify, logger: silent, clock, metrics, backoff: { random: () => 0.5 } });
    q.enqueue(rec("a", "token_usage"));
    q.enqueue(rec("a", "interception_ended"));
    q.enqueue(rec("b", "interception_ended"));
    await flushMicrotasks();
    const attemptsBefore = s.attempts.filter((a) => a === "a:token_usage").length;
    const flushed = q.flush(500);
    await flushMicrotasks();
    // The lane waiting out its backoff was retried immediately.
    assert.equal(s.attempts.filter((a) => a === "a:token_usage").length, attemptsBefore + 1);
    await clock.advance(500);
    assert.equal(await flushed, false);
    assert.equal(q.size, 0);
    assert.deepEqual(s.delivered, ["b:interception_ended"]);
    assert.equal(await counter(metrics.recordsDroppedTotal, { reason: "shutdown" }), 2);
    assert.equal(clock.pendingTimers, 0);
  });

  it("refuses records after close", () => {
    const q = new RecordQueue<TestRecord>({ send: async () => undefined, classify, logger: silent, clock: new FakeClock() });
    q.close();
    assert.equal(q.enqueue(rec("a", "interception_ended")), false);
  });
});
