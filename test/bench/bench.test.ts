// Keeps the benchmark from rotting: runs it once in the tiny configuration (a few seconds) as
// its own process, exactly as `npm run bench -- --tiny` would, into a temporary directory. It
// asserts no timing at all — only that the run completes, that the JSON has every field as a
// finite number, that no record was lost and that the RPCs-per-request figure is sane.
//
// Under `npm test` the run clones the runner's template database on the runner's server; run
// alone it uses DATABASE_URL's server or an embedded Postgres. Ports are ephemeral.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";

const BENCH = join(import.meta.dirname, "bench.ts");
const REPO = join(import.meta.dirname, "..", "..");
const RUN_TIMEOUT_MS = 240_000;

/** Every leaf under `value` must be a finite number; returns the paths checked. */
function assertFiniteNumbers(value: unknown, path: string, out: string[] = []): string[] {
  if (typeof value === "number") {
    assert.ok(Number.isFinite(value), `${path} is ${value}`);
    out.push(path);
  } else if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value);
    assert.ok(entries.length > 0, `${path} is empty`);
    for (const [k, v] of entries) assertFiniteNumbers(v, `${path}.${k}`, out);
  } else {
    assert.fail(`${path} is not a number: ${JSON.stringify(value)}`);
  }
  return out;
}

describe("benchmark (tiny)", { timeout: RUN_TIMEOUT_MS + 30_000 }, () => {
  let outDir: string;
  let run: { code: number | null; signal: NodeJS.Signals | null; output: string };

  before(async () => {
    outDir = await mkdtemp(join(tmpdir(), "weir-bench-"));
    const child = spawn(process.execPath, ["--import", "tsx", BENCH, "--tiny", "--out-dir", outDir], {
      cwd: REPO,
      env: { ...process.env, NODE_TEST_CONTEXT: undefined },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
    // SIGINT lets the benchmark stop its own children; SIGKILL if it does not.
    const timer = setTimeout(() => {
      child.kill("SIGINT");
      setTimeout(() => child.kill("SIGKILL"), 30_000).unref();
    }, RUN_TIMEOUT_MS);
    run = await new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal, output })));
    clearTimeout(timer);
  });

  after(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it("completes and writes latest.json and latest.md", async () => {
    assert.equal(run.code, 0, `bench exited with ${run.code ?? run.signal}:\n${run.output}`);
    const md = await readFile(join(outDir, "latest.md"), "utf8");
    assert.match(md, /## Targets/);
    assert.match(md, /^\| Process-hop floor \(c=1\) \| a relay process that only copies bytes \(no HTTP\) adds -?\d+\.\d{3} ms p50 \/ -?\d+\.\d{3} ms p99 /m);
    // The numbers say how durable the database that produced them was.
    assert.match(md, /^\| Postgres \| [^|\n]*; fsync (on|off), synchronous_commit \w+, full_page_writes (on|off)[^|\n]*\|$/m);
    // Every target with a bare-proxy figure says whether the floor meets it too.
    assert.match(md, /\| Measurement \| Target \| Measured \| Result \| Bare proxy \(floor\) in this run \|/);
    for (const row of ["Added latency p50, concurrency 1", "Added latency p99, concurrency 1", "Throughput at concurrency", "Added TTFB p99", "Largest inter-event gap"]) {
      assert.match(md, new RegExp(`^\\| ${row}[^\\n]*\\| (PASS|\\*\\*FAIL\\*\\*) \\| [^|\\n]+: (meets|misses) it \\|$`, "m"), row);
    }
    assert.match(md, /^\| Records lost \| 0 \| [^\n]* \| — \|$/m);
    assert.match(md, /\| Bare proxy \| Bare added \/ ratio \|/);
    assert.match(md, /## CPU per request at c=\d+/);
    assert.match(md, /## Throughput rounds at c=\d+/);
  });

  it("reports every metric as a finite number", async () => {
    const report = JSON.parse(await readFile(join(outDir, "latest.json"), "utf8"));
    const paths = assertFiniteNumbers(report.metrics, "metrics");
    for (const required of [
      "metrics.hopFloor.addedP50Ms",
      "metrics.hopFloor.addedP99Ms",
      "metrics.hopFloor.relay.p99",
      "metrics.latency.addedP50Ms",
      "metrics.latency.addedP99Ms",
      "metrics.ttfb.addedP50Ms",
      "metrics.ttfb.addedP99Ms",
      "metrics.throughput.direct.rps",
      "metrics.throughput.gateway.rps",
      "metrics.throughput.ratio",
      "metrics.latency.bareAddedP50Ms",
      "metrics.latency.bareAddedP99Ms",
      "metrics.ttfb.bareAddedP50Ms",
      "metrics.ttfb.bareAddedP99Ms",
      "metrics.throughput.bareProxy.rps",
      "metrics.throughput.bareRatio",
      "metrics.throughput.rounds.1.ratio",
      "metrics.throughput.rounds.1.gatewayRps",
      "metrics.throughput.cpuPerRequest.gateway.micros.gateway",
      "metrics.throughput.cpuPerRequest.gateway.micros.controlPlane",
      "metrics.throughput.cpuPerRequest.gateway.machineMicros",
      "metrics.throughput.cpuPerRequest.direct.machineMicros",
      "metrics.throughput.cpuPerRequest.bareProxy.micros.bareProxy",
      "metrics.streams.gateway.maxGapMs",
      "metrics.streams.gateway.p99GapMs",
      "metrics.streams.direct.maxGapMs",
      "metrics.streams.bareProxy.maxGapMs",
      "metrics.controlPlane.rpcsPerLlmRequest",
      "metrics.records.persistedRowsPerSec",
      "metrics.records.lost",
      "metrics.memory.gatewayPeakRssMiB",
      "metrics.memory.controlPlanePeakRssMiB",
    ]) {
      assert.ok(paths.includes(required), `missing ${required}`);
    }
    assert.equal(report.metrics.hopFloor.direct.count, report.config.hopRoundTrips, "every direct round trip timed");
    assert.equal(report.metrics.hopFloor.relay.count, report.config.hopRoundTrips, "every relayed round trip timed");
    assert.ok(report.metrics.latency.gateway.count > 0, "no gateway latency samples");
    assert.ok(report.metrics.throughput.gateway.ok > 0, "no gateway answers in the throughput phase");
    assert.ok(report.metrics.latency.bareProxy.count > 0, "no bare-proxy latency samples");
    assert.ok(report.metrics.ttfb.bareProxy.count > 0, "no bare-proxy first-byte samples");
    assert.ok(report.metrics.throughput.bareProxy.ok > 0, "no bare-proxy answers in the throughput phase");
    // Every stream of every run arrived whole, through the bare proxy too.
    for (const target of ["direct", "bareProxy", "gateway"]) {
      const streams = report.metrics.streams[target];
      assert.equal(streams.complete, streams.streams, `${target}: ${streams.complete} of ${streams.streams} streams complete`);
    }
    // Each run's requests are counted against the process that served them.
    assert.equal(report.metrics.throughput.cpuPerRequest.gateway.requests, report.metrics.throughput.gateway.ok);
    assert.ok(report.metrics.throughput.cpuPerRequest.gateway.micros.gateway > 0, "the gateway used no CPU in its throughput run");
    assert.ok(report.metrics.records.audit.expectedInterceptions > 0, "nothing to audit");
    assert.ok(Array.isArray(report.checks) && report.checks.length === 7, "seven target checks");
    assert.equal(typeof report.machine.cpuModel, "string");
  });

  it("loses no record", async () => {
    const report = JSON.parse(await readFile(join(outDir, "latest.json"), "utf8"));
    assert.equal(report.metrics.records.lost, 0, JSON.stringify(report.metrics.records.audit));
  });

  it("reports control-plane RPCs per LLM request as a finite number ≥ 0", async () => {
    const report = JSON.parse(await readFile(join(outDir, "latest.json"), "utf8"));
    const v = report.metrics.controlPlane.rpcsPerLlmRequest;
    assert.ok(Number.isFinite(v) && v >= 0, `rpcsPerLlmRequest = ${v}`);
  });
});
