// Pins the record queue's batching: a batch leaves when full (records or bytes) or when its
// oldest record has lingered, with a bounded number in flight; one interception's records go in
// order and never in two batches at once; a failed batch is retried unchanged after backoff (so
// a retry after the answer was lost stores nothing twice); per-record rejections, permanent
// failures and overflow are dropped and counted; flush and close — all on a fake clock.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { RecordQueue, createGatewayMetrics } from "./index.js";
import type { BatchLimits, FailureClass, QueuedRecord, RecordKind } from "./index.js";
import { FakeClock, flushMicrotasks } from "./testing/index.js";

interface TestRecord extends QueuedRecord {
  readonly label: string;
}

const silent = pino({ level: "silent" });

class TransientError extends Error {}
class PermanentError extends Error {}

let nextId = 0;
function rec(interceptionId: string, kind: RecordKind, sizeBytes = 0): TestRecord {
  return { id: `id-${++nextId}`, interceptionId, kind, sizeBytes, label: `${interceptionId}:${kind}` };
}

/** What a call does: succeed, fail before storing, or store and then lose the answer. */
type Plan = "ok" | "fail" | "fail_after_store" | "permanent";

/**
 * A scriptable control plane: stores records by id (idempotent, like RecordBatch), can reject
 * records by label, follow a plan per call, and hold calls.
 */
function controlPlane(): {
  send: (records: readonly TestRecord[]) => Promise<ReadonlyMap<string, string>>;
  /** Labels in the order they were stored, each at most once. */
  stored: string[];
  /** Labels of each call. */
  calls: string[][];
  plans: Plan[];
  reject: Set<string>;
  inFlight: () => number;
  maxInFlight: () => number;
  hold: () => () => void;
} {
  const storedIds = new Set<string>();
  const stored: string[] = [];
  const calls: string[][] = [];
  const plans: Plan[] = [];
  const reject = new Set<string>();
  let active = 0;
  let max = 0;
  let gate: Promise<void> | undefined;
  return {
    stored,
    calls,
    plans,
    reject,
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
    send: async (records) => {
      calls.push(records.map((r) => r.label));
      active += 1;
      max = Math.max(max, active);
      try {
        if (gate !== undefined) await gate;
        const plan = plans.shift() ?? "ok";
        if (plan === "fail") throw new TransientError("control plane unavailable");
        if (plan === "permanent") throw new PermanentError("gateway refused");
        const rejected = new Map<string, string>();
        for (const r of records) {
          if (reject.has(r.label)) rejected.set(r.id, "refused");
          else if (!storedIds.has(r.id)) {
            storedIds.add(r.id);
            stored.push(r.label);
          }
        }
        if (plan === "fail_after_store") throw new TransientError("answer lost");
        return rejected;
      } finally {
        active -= 1;
      }
    },
  };
}

const classify = (err: unknown): FailureClass => (err instanceof PermanentError ? "permanent" : "transient");
const limits = (over: Partial<BatchLimits> = {}): BatchLimits => ({ maxRecords: 256, maxInFlight: 2, lingerMs: 20, maxBytes: 1 << 20, ...over });

async function counter(metric: { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, labels: Record<string, string>): Promise<number> {
  const data = await metric.get();
  return data.values.filter((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val)).reduce((sum, v) => sum + v.value, 0);
}

const LIFECYCLE = ["interception", "prompt_usage", "token_usage", "tool_usage", "model_thought", "interception_ended"] as const;

describe("RecordQueue batching", () => {
  // Property: one call carries an interception's whole life, in order, start first, end last.
  it("sends one interception's records in one batch, in order", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, limits: limits() });
    for (const kind of LIFECYCLE) q.enqueue(rec("i1", kind));
    await clock.advance(20);
    assert.deepEqual(cp.calls, [LIFECYCLE.map((k) => `i1:${k}`)]);
    assert.equal(q.size, 0);
  });

  // Property: size and time both trigger a flush: N records go at once, fewer wait lingerMs.
  it("flushes at maxRecords at once, and otherwise after lingerMs", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, limits: limits({ maxRecords: 3 }) });
    for (const id of ["a", "b", "c"]) q.enqueue(rec(id, "interception"));
    await flushMicrotasks();
    assert.deepEqual(cp.calls, [["a:interception", "b:interception", "c:interception"]], "a full batch leaves without lingering");
    q.enqueue(rec("d", "interception"));
    q.enqueue(rec("e", "interception"));
    await clock.advance(19);
    assert.equal(cp.calls.length, 1, "a partial batch waits");
    await clock.advance(1);
    assert.deepEqual(cp.calls[1], ["d:interception", "e:interception"]);
  });

  it("keeps batches under maxBytes; a record bigger than that goes alone", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, limits: limits({ maxBytes: 1_000, maxInFlight: 1 }) });
    q.enqueue(rec("a", "interception", 400));
    q.enqueue(rec("b", "interception", 400));
    q.enqueue(rec("c", "interception", 400));
    q.enqueue(rec("d", "interception", 5_000));
    q.enqueue(rec("e", "interception", 100));
    await clock.advance(20);
    await clock.advance(0);
    await clock.advance(0);
    // c does not fit beside a and b (so they leave at once); d does not fit beside c but the
    // small e does; d goes alone.
    assert.deepEqual(cp.calls, [["a:interception", "b:interception"], ["c:interception", "e:interception"], ["d:interception"]]);
  });

  // Property: at most maxInFlight calls, and an interception never has records in two calls.
  it("keeps at most maxInFlight batches on the wire, one interception in one of them", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    const release = cp.hold();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, limits: limits({ maxRecords: 2 }) });
    q.enqueue(rec("a", "interception"));
    q.enqueue(rec("b", "interception"));
    q.enqueue(rec("a", "token_usage"));
    q.enqueue(rec("c", "interception"));
    q.enqueue(rec("a", "interception_ended"));
    q.enqueue(rec("d", "interception"));
    await clock.advance(20);
    // a's later records wait for a's batch; c and d make the second batch.
    assert.deepEqual(cp.calls, [["a:interception", "b:interception"], ["c:interception", "d:interception"]]);
    assert.equal(cp.inFlight(), 2);
    release();
    assert.equal(await q.flush(1_000), 0);
    assert.deepEqual(cp.calls.at(-1), ["a:token_usage", "a:interception_ended"]);
    assert.equal(cp.maxInFlight(), 2);
  });

  // Property (at-least-once delivery, exactly-once storage): a batch whose answer was lost, or
  // that failed, is sent again unchanged after backoff, and nothing is stored twice.
  it("retries a failed batch unchanged after backoff, storing every record exactly once", async () => {
    const clock = new FakeClock();
    const metrics = createGatewayMetrics();
    const cp = controlPlane();
    cp.plans.push("fail", "fail_after_store", "fail");
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, metrics, backoff: { random: () => 0.5 }, limits: limits() });
    for (const kind of LIFECYCLE) q.enqueue(rec("i1", kind));
    await clock.advance(20);
    assert.deepEqual(clock.pendingDelays(), [50]);
    await clock.advance(50);
    assert.deepEqual(clock.pendingDelays(), [100]);
    await clock.advance(100);
    assert.deepEqual(clock.pendingDelays(), [200]);
    await clock.advance(200);
    assert.equal(cp.calls.length, 4);
    for (const call of cp.calls) assert.deepEqual(call, cp.calls[0], "every attempt carries the same records");
    assert.deepEqual(cp.stored, LIFECYCLE.map((k) => `i1:${k}`));
    assert.equal(q.size, 0);
    assert.equal(await counter(metrics.recordsRetriedTotal, { type: "token_usage" }), 3);
    assert.equal(await counter(metrics.recordsSentTotal, {}), 6);
    assert.equal(await counter(metrics.recordBatchesTotal, { outcome: "failed" }), 3);
    assert.equal(await counter(metrics.recordsDroppedTotal, {}), 0);
  });

  // Property: a whole queue dropped at once is one line, not one per interception and type.
  it("logs drops one line per interception and type, or one summary line for many interceptions", () => {
    const capture = () => {
      const lines: { msg: string; [field: string]: unknown }[] = [];
      const logger = pino({ level: "error" }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg: string }) });
      const q = new RecordQueue<TestRecord>({ send: controlPlane().send, classify, logger, clock: new FakeClock(), limits: limits() });
      return { q, lines };
    };
    const records = (n: number) => Array.from({ length: n }, (_, i) => [rec(`i${i}`, "interception"), rec(`i${i}`, "token_usage"), rec(`i${i}`, "token_usage")]).flat();

    const few = capture();
    few.q.discard(records(2), "shutdown");
    assert.deepEqual(
      few.lines.map((l) => [l.msg, l.interception_id, l.record_type, l.count]),
      [
        ["dropping interception start", "i0", "interception", 1],
        ["dropping follow-up record", "i0", "token_usage", 2],
        ["dropping interception start", "i1", "interception", 1],
        ["dropping follow-up record", "i1", "token_usage", 2],
      ],
    );

    const many = capture();
    many.q.discard(records(80), "shutdown");
    assert.deepEqual(many.lines.map((l) => [l.msg, l.reason, l.records, l.interceptions, l.record_types, l.first_interception_ids]), [
      ["dropping records", "shutdown", 240, 80, { interception: 80, token_usage: 160 }, Array.from({ length: 10 }, (_, i) => `i${i}`)],
    ]);
  });

  // Property: an outage logs one stack per error, not one per retry.
  it("logs a failure new to a run with its stack, a repeated one with the message", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    cp.plans.push("fail", "fail", "fail_after_store", "fail", "fail");
    const lines: { attempt: number; err: unknown }[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(JSON.parse(line) as { attempt: number; err: unknown }) });
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger, clock, backoff: { random: () => 0.5 }, limits: limits() });
    q.enqueue(rec("i1", "interception"));
    for (const ms of [20, 50, 100, 200, 400, 800]) await clock.advance(ms);
    assert.deepEqual(
      lines.map((l) => [l.attempt, typeof l.err === "string" ? l.err : (l.err as { stack?: string }).stack?.split("\n")[0]]),
      [
        [1, "Error: control plane unavailable"],
        [2, "control plane unavailable"],
        [3, "Error: answer lost"],
        [4, "Error: control plane unavailable"],
        [5, "control plane unavailable"],
      ],
    );
    assert.equal(q.size, 0);
  });

  // Property: a retried batch keeps its place: later records of its interceptions still follow it.
  it("puts a failed batch back ahead of what was queued meanwhile", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    cp.plans.push("fail");
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, backoff: { random: () => 0.5 }, limits: limits({ maxInFlight: 1 }) });
    q.enqueue(rec("i1", "interception"));
    await clock.advance(20);
    q.enqueue(rec("i1", "interception_ended"));
    await clock.advance(50);
    assert.deepEqual(cp.calls, [["i1:interception"], ["i1:interception", "i1:interception_ended"]]);
    assert.deepEqual(cp.stored, ["i1:interception", "i1:interception_ended"]);
  });

  it("drops and counts records the control plane refused, and keeps the rest", async () => {
    const clock = new FakeClock();
    const metrics = createGatewayMetrics();
    const cp = controlPlane();
    cp.reject.add("i1:tool_usage");
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, metrics, limits: limits() });
    for (const kind of LIFECYCLE) q.enqueue(rec("i1", kind));
    assert.equal(await q.flush(1_000), 0);
    assert.deepEqual(cp.stored, ["i1:interception", "i1:prompt_usage", "i1:token_usage", "i1:model_thought", "i1:interception_ended"]);
    assert.equal(await counter(metrics.recordsDroppedTotal, { type: "tool_usage", reason: "permanent" }), 1);
    assert.equal(await counter(metrics.recordsSentTotal, {}), 5);
    assert.equal(await counter(metrics.recordsSentTotal, { type: "interception" }), 1);
    assert.equal(await counter(metrics.recordsSentTotal, { type: "tool_usage" }), 0);
  });

  it("drops a batch refused as a whole", async () => {
    const clock = new FakeClock();
    const metrics = createGatewayMetrics();
    const cp = controlPlane();
    cp.plans.push("permanent");
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, metrics, limits: limits() });
    q.enqueue(rec("i1", "interception"));
    q.enqueue(rec("i1", "interception_ended"));
    assert.equal(await q.flush(1_000), 0);
    assert.deepEqual(cp.stored, []);
    assert.equal(await counter(metrics.recordsDroppedTotal, { reason: "permanent" }), 2);
  });

  // Property: the bound is admission control — new interceptions are refused once maxSize
  // records are undelivered, while records of admitted interceptions are never dropped.
  it("refuses new interceptions beyond maxSize but keeps every follow-up record", async () => {
    const metrics = createGatewayMetrics();
    const cp = controlPlane();
    const release = cp.hold();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock: new FakeClock(), metrics, maxSize: 3, limits: limits({ maxRecords: 1 }) });
    const admitted = ["a", "b", "c", "d", "e"].map((id) => q.admit(id) && q.enqueue(rec(id, "interception")));
    assert.deepEqual(admitted, [true, true, true, false, false]);
    assert.equal(q.hasRoom(), false);
    // Follow-ups of admitted interceptions go in although the queue is at its bound.
    assert.deepEqual(["a", "b", "c"].map((id) => q.enqueue(rec(id, "interception_ended"))), [true, true, true]);
    assert.equal(q.size, 6);
    assert.equal(await counter(metrics.recordsDroppedTotal, { reason: "overflow" }), 2);
    release();
    assert.equal(await q.flush(1_000), 0);
    assert.deepEqual(cp.stored.sort(), ["a:interception", "a:interception_ended", "b:interception", "b:interception_ended", "c:interception", "c:interception_ended"]);
    assert.equal(q.hasRoom(), true);
  });

  // Property: the 1.0 fallback is the same queue sending one record per call, `concurrency` at once.
  it("follows limits that change at run time (one record per call against 1.0)", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    let current = limits();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, limits: () => current });
    current = { maxRecords: 1, maxInFlight: 4, lingerMs: 0, maxBytes: Number.POSITIVE_INFINITY };
    for (const kind of ["interception", "token_usage", "interception_ended"] as const) q.enqueue(rec("a", kind));
    q.enqueue(rec("b", "interception"));
    await flushMicrotasks();
    assert.deepEqual(cp.calls, [["a:interception"], ["b:interception"], ["a:token_usage"], ["a:interception_ended"]]);
  });

  it("flush sends at once, cuts a backoff pause short, and drops (counted) what is undelivered at the deadline", async () => {
    const clock = new FakeClock();
    const metrics = createGatewayMetrics();
    const cp = controlPlane();
    cp.plans.push(...Array<Plan>(1_000).fill("fail"));
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, metrics, backoff: { random: () => 0.5 }, limits: limits() });
    q.enqueue(rec("a", "token_usage"));
    q.enqueue(rec("a", "interception_ended"));
    await clock.advance(20);
    assert.equal(cp.calls.length, 1);
    const flushed = q.flush(500);
    await flushMicrotasks();
    assert.equal(cp.calls.length, 2, "the pause was cut short");
    await clock.advance(500);
    assert.equal(await flushed, 2, "both records were dropped");
    assert.equal(q.size, 0);
    assert.equal(await counter(metrics.recordsDroppedTotal, { reason: "shutdown" }), 2);
    assert.equal(clock.pendingTimers, 0);
  });

  // Property: a short interception travels whole — its start waits for its end and goes out
  // with it, start first — while a long one's start leaves alone when its hold expires.
  it("holds an interception start until its end, at most holdStartMs", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, limits: limits({ holdStartMs: 100 }) });
    q.enqueue(rec("short", "interception"));
    q.enqueue(rec("long", "interception"));
    assert.equal(q.size, 2, "held records count against the bound");
    await clock.advance(50);
    assert.deepEqual(cp.calls, [], "no start leaves while it is held");
    for (const kind of LIFECYCLE.slice(1)) q.enqueue(rec("short", kind));
    await clock.advance(20);
    assert.deepEqual(cp.calls, [LIFECYCLE.map((k) => `short:${k}`)], "the short one went whole, after lingering");
    await clock.advance(30);
    assert.deepEqual(cp.calls[1], ["long:interception"], "the long one's start left when its hold expired");
    q.enqueue(rec("long", "token_usage"));
    q.enqueue(rec("long", "interception_ended"));
    await clock.advance(20);
    assert.deepEqual(cp.calls[2], ["long:token_usage", "long:interception_ended"]);
    assert.equal(q.size, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  // Property: records that follow a held start wait with it (they must never overtake it).
  it("keeps a held interception's later records behind its start", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, limits: limits({ holdStartMs: 100, maxRecords: 2 }) });
    q.enqueue(rec("a", "interception"));
    q.enqueue(rec("a", "prompt_usage"));
    q.enqueue(rec("b", "token_usage"));
    q.enqueue(rec("b", "interception_ended"));
    await flushMicrotasks();
    assert.deepEqual(cp.calls, [["b:token_usage", "b:interception_ended"]], "a full batch of others leaves; a's prompt does not");
    await clock.advance(100);
    await clock.advance(20);
    assert.deepEqual(cp.calls[1], ["a:interception", "a:prompt_usage"]);
  });

  // Property: shutdown does not wait out holds, and close drops (and counts) held records.
  it("flush sends held starts at once; close drops them, counted", async () => {
    const clock = new FakeClock();
    const metrics = createGatewayMetrics();
    const cp = controlPlane();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, metrics, limits: limits({ holdStartMs: 60_000 }) });
    q.enqueue(rec("a", "interception"));
    assert.equal(await q.flush(1_000), 0);
    assert.deepEqual(cp.calls, [["a:interception"]]);
    q.enqueue(rec("b", "interception"));
    q.enqueue(rec("b", "prompt_usage"));
    q.close();
    assert.equal(q.size, 0);
    assert.equal(await counter(metrics.recordsDroppedTotal, { reason: "shutdown" }), 2);
    assert.equal(clock.pendingTimers, 0);
  });

  it("refuses records after close", () => {
    const q = new RecordQueue<TestRecord>({ send: async () => new Map(), classify, logger: silent, clock: new FakeClock() });
    q.close();
    assert.equal(q.enqueue(rec("a", "interception_ended")), false);
  });

  // Property: at the deadline, flushOrTakeBack hands back exactly what was not delivered —
  // in flight, pending and held — each interception's records in order, and counts none as
  // dropped; the queue is empty and quiet afterwards.
  it("flushOrTakeBack returns what is undelivered at the deadline, in each interception's order, without dropping it", async () => {
    const clock = new FakeClock();
    const metrics = createGatewayMetrics();
    const cp = controlPlane();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, metrics, limits: limits({ maxRecords: 2, maxInFlight: 1, holdStartMs: 60_000 }) });
    const release = cp.hold();
    q.enqueue(rec("a", "token_usage"));
    q.enqueue(rec("a", "prompt_usage"));
    await flushMicrotasks();
    assert.deepEqual(cp.calls, [["a:token_usage", "a:prompt_usage"]], "a full batch is on the wire, held there");
    q.enqueue(rec("a", "interception_ended"));
    q.enqueue(rec("b", "model_thought"));
    q.enqueue(rec("c", "interception"));
    q.enqueue(rec("c", "prompt_usage"));
    const taken = q.flushOrTakeBack(1_000);
    await clock.advance(1_000);
    const records = (await taken).map((t) => t.record.label);
    assert.deepEqual(records, ["a:token_usage", "a:prompt_usage", "a:interception_ended", "b:model_thought", "c:interception", "c:prompt_usage"]);
    // Each with its place in the queue's order (in flight first, as taken), none replayed.
    assert.deepEqual((await taken).map((t) => [t.seq, t.replayed]), [[1, false], [2, false], [3, false], [4, false], [5, false], [6, false]]);
    assert.equal(q.size, 0);
    assert.equal(await counter(metrics.recordsDroppedTotal, {}), 0, "nothing was counted as dropped");
    release();
    await flushMicrotasks();
    assert.deepEqual(cp.stored, ["a:token_usage", "a:prompt_usage"], "the batch in flight may still land: harmless, its ids are kept");
    assert.equal(cp.calls.length, 1, "nothing more was sent");
    assert.equal(clock.pendingTimers, 0);
    q.discard((await taken).map((t) => t.record), "shutdown");
    assert.equal(await counter(metrics.recordsDroppedTotal, { reason: "shutdown" }), 6, "discard counts them when the caller cannot keep them");
  });

  it("flushOrTakeBack returns nothing when the queue drains in time", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, limits: limits() });
    q.enqueue(rec("a", "interception_ended"));
    assert.deepEqual(await q.flushOrTakeBack(1_000), []);
    assert.deepEqual(cp.stored, ["a:interception_ended"]);
  });

  // Property: a replay settles only once every one of its records is stored or refused for
  // good — through retries — and reports false the moment its records are taken back.
  it("replay resolves true once every record settled, through retries and refusals", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    cp.plans.push("fail_after_store");
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, backoff: { random: () => 0.5 }, limits: limits({ maxRecords: 2, maxInFlight: 1 }) });
    const replayed = [rec("r", "interception"), rec("r", "prompt_usage"), rec("r", "interception_ended"), rec("s", "token_usage")];
    cp.reject.add("s:token_usage");
    let settled: string | undefined;
    void q.replay(replayed).then((v) => (settled = v));
    q.enqueue(rec("live", "token_usage"));
    await flushMicrotasks();
    assert.equal(settled, undefined, "the first batch failed after storing: not settled");
    await clock.advance(10_000);
    await clock.advance(100);
    assert.equal(settled, "stored");
    assert.deepEqual(cp.stored, ["r:interception", "r:prompt_usage", "r:interception_ended", "live:token_usage"], "stored once each, in order; the refused one is settled too");
    assert.equal(q.size, 0);
  });

  it("replay ends taken_back when its records are taken back, refused once closed", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    cp.plans.push(...Array<Plan>(1_000).fill("fail"));
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, backoff: { random: () => 0.5 }, limits: limits() });
    q.enqueue(rec("live", "token_usage"));
    const replay = q.replay([rec("r", "interception"), rec("r", "interception_ended")]);
    const taken = q.flushOrTakeBack(500);
    await clock.advance(500);
    assert.deepEqual(
      (await taken).map((t) => [t.record.label, t.replayed]),
      [["live:token_usage", false], ["r:interception", true], ["r:interception_ended", true]],
      "replayed records say so: their spool file still holds them",
    );
    assert.equal(await replay, "taken_back");
    q.close();
    assert.equal(await q.replay([rec("t", "interception_ended")]), "refused");
    assert.equal(await q.replay([]), "refused", "closed: nothing is taken");
  });

  // Property: a take-back returns only what is still undelivered — a replay whose first batch
  // was stored gives back its second batch alone, and ends taken_back.
  it("a replay cut short at the deadline gives back only its undelivered records", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    cp.plans.push("ok", ...Array<Plan>(1_000).fill("fail"));
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, backoff: { random: () => 0.5 }, limits: limits({ maxRecords: 2, maxInFlight: 1 }) });
    const replay = q.replay([rec("r", "interception"), rec("r", "prompt_usage"), rec("r", "token_usage"), rec("r", "interception_ended")]);
    await flushMicrotasks();
    assert.deepEqual(cp.stored, ["r:interception", "r:prompt_usage"]);
    const taken = q.flushOrTakeBack(500);
    await clock.advance(500);
    assert.deepEqual((await taken).map((t) => t.record.label), ["r:token_usage", "r:interception_ended"]);
    assert.equal(await replay, "taken_back");
  });

  // Property: a batch refused as a whole says nothing about its records: the replay ends
  // refused (so its file is kept), while records refused one by one count as settled.
  it("a replayed batch refused as a whole ends the replay refused", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    cp.plans.push("permanent");
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, limits: limits() });
    const replay = q.replay([rec("r", "interception"), rec("r", "interception_ended")]);
    await clock.advance(20);
    assert.equal(await replay, "refused");
    assert.deepEqual(cp.stored, []);
  });

  // Property: a checkpoint sees every undelivered record — in flight, pending, held — in the
  // order a take-back would give, replayed ones aside, without taking anything; the oldest is
  // told by the queue's own order, so a clock stepping back cannot make a later record look older.
  it("snapshot lists every undelivered record but replayed ones and leaves them queued; oldestUndelivered follows queue order", async () => {
    const clock = new FakeClock();
    const cp = controlPlane();
    const q = new RecordQueue<TestRecord>({ send: cp.send, classify, logger: silent, clock, limits: limits({ maxRecords: 2, maxInFlight: 1, holdStartMs: 60_000 }) });
    assert.equal(q.oldestUndelivered(), undefined);
    const release = cp.hold();
    const start = clock.now();
    q.enqueue(rec("a", "token_usage"));
    q.enqueue(rec("a", "prompt_usage"));
    await flushMicrotasks();
    await clock.advance(5);
    q.enqueue(rec("b", "model_thought"));
    q.enqueue(rec("c", "interception"));
    void q.replay([rec("r", "interception_ended")]);
    const snapshot = q.snapshot();
    assert.deepEqual(snapshot.records.map((r) => r.label), ["a:token_usage", "a:prompt_usage", "b:model_thought", "c:interception"]);
    assert.equal(snapshot.lastSeq, 5, "five records queued so far, the replayed one included");
    assert.equal(q.size, 5, "nothing taken");
    assert.deepEqual(q.oldestUndelivered(), { seq: 1, queuedAt: start });
    release();
    await flushMicrotasks();
    // The next full batch (b and the replayed end) went too; c's start is held for its end.
    assert.deepEqual(q.oldestUndelivered(), { seq: 4, queuedAt: start + 5 }, "the delivered ones no longer count");
    q.close();
  });
});

