// The benchmark report's derived figures, computed from fixed inputs.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { cpuPerRequest } from "./report.js";

describe("cpuPerRequest", () => {
  it("adds the phases' CPU time and divides it by the requests answered", () => {
    const phase = { wallSeconds: 10, cores: { gateway: 0.8, postgres: 0.2 }, machineBusy: 0.9 };
    const drain = { wallSeconds: 0.5, cores: { gateway: 0.1, postgres: 0.4 }, machineBusy: 0.25 };
    const per = cpuPerRequest([phase, drain], 20_000, 2);
    // gateway: (0.8 × 10 + 0.1 × 0.5) s ÷ 20,000 = 402.5 µs; postgres: (2 + 0.2) s ÷ 20,000 = 110 µs
    assert.deepEqual(per, { requests: 20_000, micros: { gateway: 403, postgres: 110 }, machineMicros: 913 });
  });

  it("does not divide by zero when nothing was answered", () => {
    const per = cpuPerRequest([{ wallSeconds: 1, cores: { gateway: 0.5 }, machineBusy: 0.5 }], 0, 2);
    assert.deepEqual(per, { requests: 0, micros: { gateway: 500_000 }, machineMicros: 1_000_000 });
  });
});
