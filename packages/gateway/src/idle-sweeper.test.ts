// Pins the idle sweeper on a fake clock: every 30 s it sweeps each target at the clock's time,
// a failing sweep is logged as "idle sweep failed" and the next one still runs, stop() ends it
// for good, and the real clock's timer is unref'd.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdleSweeper } from "./idle-sweeper.js";
import type { Sweepable } from "./idle-sweeper.js";
import { captureLogger } from "./test-harness.js";
import { FakeClock } from "./testing/index.js";

function recording(): Sweepable & { at: number[] } {
  const at: number[] = [];
  return { at, sweep: (now) => (at.push(now), 0) };
}

describe("IdleSweeper", () => {
  it("sweeps every target every 30 s on the gateway's clock, until stopped", async () => {
    const clock = new FakeClock(0);
    const a = recording();
    const b = recording();
    const sweeper = new IdleSweeper({ targets: () => ({ a, b, none: undefined }), clock, logger: captureLogger().logger });
    sweeper.start();
    await clock.advance(29_999);
    assert.deepEqual(a.at, []);
    await clock.advance(1);
    await clock.advance(30_000);
    assert.deepEqual(a.at, [30_000, 60_000]);
    assert.deepEqual(b.at, [30_000, 60_000]);
    sweeper.stop();
    assert.equal(clock.pendingTimers, 0);
    sweeper.start();
    await clock.advance(60_000);
    assert.deepEqual(a.at, [30_000, 60_000], "stopped for good");
  });

  it("logs a failing sweep as 'idle sweep failed' and keeps sweeping", async () => {
    const clock = new FakeClock(0);
    const { logger, lines } = captureLogger();
    let calls = 0;
    const failing: Sweepable = {
      sweep: () => {
        calls += 1;
        if (calls === 1) throw new Error("boom");
        return 1;
      },
    };
    const sweeper = new IdleSweeper({ targets: () => ({ failing }), clock, logger });
    sweeper.start();
    await clock.advance(60_000);
    sweeper.stop();
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message: string }; dropped?: unknown });
    assert.deepEqual(logged.map((l) => [l.level, l.msg]), [[50, "idle sweep failed"], [20, "idle sweep"]]);
    assert.equal(logged[0]?.err?.message, "boom");
    assert.deepEqual(logged[1]?.dropped, { failing: 1 });
  });

  it("unrefs the real clock's timer, so it alone does not keep the process alive", () => {
    let unrefs = 0;
    const handle = { unref: () => (unrefs += 1) };
    const cleared: unknown[] = [];
    const clock = { now: () => 0, setTimeout: () => handle, clearTimeout: (h: unknown) => cleared.push(h) };
    const sweeper = new IdleSweeper({ targets: () => ({}), clock, logger: captureLogger().logger });
    sweeper.start();
    sweeper.stop();
    assert.equal(unrefs, 1);
    assert.deepEqual(cleared, [handle]);
  });
});
