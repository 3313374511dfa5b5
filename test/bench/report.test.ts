// The benchmark report's derived figures, computed from fixed inputs.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { combineRuns } from "./load.js";
import type { ThroughputResult } from "./load.js";
import { cpuPerRequest, hopFloorDescription, postgresDescription, roundOrder } from "./report.js";
import { median } from "./stats.js";

describe("cpuPerRequest", () => {
  it("adds the phases' CPU time and divides it by the requests answered", () => {
    const phase = { wallSeconds: 10, cores: { gateway: 0.8, postgres: 0.2 }, machineBusy: 0.9, stolenCores: 0.05 };
    const drain = { wallSeconds: 0.5, cores: { gateway: 0.1, postgres: 0.4 }, machineBusy: 0.25, stolenCores: 0 };
    const per = cpuPerRequest([phase, drain], 20_000, 2);
    // gateway: (0.8 × 10 + 0.1 × 0.5) s ÷ 20,000 = 402.5 µs; postgres: (2 + 0.2) s ÷ 20,000 = 110 µs
    assert.deepEqual(per, { requests: 20_000, micros: { gateway: 403, postgres: 110 }, machineMicros: 913 });
  });

  it("does not divide by zero when nothing was answered", () => {
    const per = cpuPerRequest([{ wallSeconds: 1, cores: { gateway: 0.5 }, machineBusy: 0.5, stolenCores: 0 }], 0, 2);
    assert.deepEqual(per, { requests: 0, micros: { gateway: 500_000 }, machineMicros: 1_000_000 });
  });
});

describe("throughput rounds", () => {
  it("rotate the order one step per round", () => {
    assert.deepEqual(roundOrder(1), ["direct", "bare proxy", "gateway"]);
    assert.deepEqual(roundOrder(2), ["bare proxy", "gateway", "direct"]);
    assert.deepEqual(roundOrder(3), ["gateway", "direct", "bare proxy"]);
    assert.deepEqual(roundOrder(4), roundOrder(1));
  });

  it("take the median ratio: the middle one, or the mean of the two middle ones", () => {
    assert.equal(median([0.3, 0.1, 0.2]), 0.2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([]), 0);
  });

  it("combine runs: counts and seconds add up, rps is over all of them, percentiles are the runs' median", () => {
    const run = (ok: number, seconds: number, p99: number, loopMax: number): ThroughputResult => ({
      rps: ok / seconds,
      seconds,
      ok,
      sent: ok + 1,
      non2xx: 1,
      errors: 0,
      timeouts: 0,
      latencyP50Ms: p99 / 2,
      latencyP99Ms: p99,
      benchLoopDelayP99Ms: 1,
      benchLoopDelayMaxMs: loopMax,
    });
    assert.deepEqual(combineRuns([run(1000, 5, 40, 9), run(3000, 5, 20, 30), run(2000, 5, 30, 12)]), {
      rps: 400,
      seconds: 15,
      ok: 6000,
      sent: 6003,
      non2xx: 3,
      errors: 0,
      timeouts: 0,
      latencyP50Ms: 15,
      latencyP99Ms: 30,
      benchLoopDelayP99Ms: 1,
      benchLoopDelayMaxMs: 30,
    });
  });
});

describe("postgresDescription", () => {
  it("says when the server's commits are not durable", () => {
    const machine = { postgres: "18.4", postgresSource: "embedded" as const, postgresDurability: { fsync: "off", synchronousCommit: "off", fullPageWrites: "off" } };
    assert.equal(
      postgresDescription(machine),
      "18.4 (embedded; fresh database; fsync off, synchronous_commit off, full_page_writes off: not durable, a durable server pays for WAL flushes too)",
    );
  });

  it("lists a durable server's settings without the caveat", () => {
    const machine = { postgres: "15.20", postgresSource: "DATABASE_URL" as const, postgresDurability: { fsync: "on", synchronousCommit: "on", fullPageWrites: "on" } };
    assert.equal(postgresDescription(machine), "15.20 (DATABASE_URL; fresh database; fsync on, synchronous_commit on, full_page_writes on)");
  });
});

describe("hopFloorDescription", () => {
  it("gives what the relay adds, and both paths' own figures", () => {
    const summary = (p50: number, p99: number) => ({ count: 20_000, mean: p50, p50, p90: p50, p99, max: p99, min: p50 });
    const hop = { roundTrips: 20_000, direct: summary(0.084, 0.344), relay: summary(0.182, 0.825), addedP50Ms: 0.098, addedP99Ms: 0.481 };
    assert.equal(
      hopFloorDescription(hop),
      "a relay process that only copies bytes (no HTTP) adds 0.098 ms p50 / 0.481 ms p99 to a 64-byte TCP round trip " +
        "(direct 0.084 / 0.344 ms, relayed 0.182 / 0.825 ms; 20,000 each): the least any proxy adds here before its own work",
    );
  });
});
