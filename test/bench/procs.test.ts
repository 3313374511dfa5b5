// The benchmark's reading of /proc/stat: steal is reported on its own, never as busy time.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { cpuUse, machineCpuTicks, type CpuSnapshot } from "./procs.js";

describe("machineCpuTicks", () => {
  it("separates steal from busy time and does not count guest time twice", () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    assert.deepEqual(machineCpuTicks("cpu  100 5 30 800 10 0 5 50 20 0"), { busy: 140, steal: 50, total: 1000 });
  });

  it("reads a line without the steal and guest columns (old kernels)", () => {
    assert.deepEqual(machineCpuTicks("cpu  100 0 50 850"), { busy: 150, steal: 0, total: 1000 });
  });
});

describe("cpuUse", () => {
  it("reports stolen cores apart from busy ones and from other processes", () => {
    const cores = availableParallelism();
    const a: CpuSnapshot = { atMs: 0, seconds: { gateway: 1 }, machine: { busy: 1_000, steal: 100, total: 10_000 } };
    // 1 s later: the gateway used 0.5 s; of 1,000 new jiffies 400 were busy and 100 stolen.
    const b: CpuSnapshot = { atMs: 1_000, seconds: { gateway: 1.5 }, machine: { busy: 1_400, steal: 200, total: 11_000 } };
    const use = cpuUse(a, b);
    assert.equal(use.machineBusy, 0.4);
    assert.equal(use.stolenCores, Math.round(0.1 * cores * 100) / 100);
    assert.equal(use.cores.gateway, 0.5);
    assert.equal(use.cores.other, Math.round(Math.max(0, 0.4 * cores - 0.5) * 100) / 100);
  });
});
