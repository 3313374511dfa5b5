// The benchmark's output: machine description, the JSON document (latest.json) and the
// markdown table (latest.md) with the targets next to the measurements.
import type { TargetName, ThroughputResult } from "./load.js";
import { readFileSync } from "node:fs";
import os from "node:os";
import type { BenchConfig } from "./config.js";
import type { ProfileSummary } from "./cpu-profile.js";
import type { HopFloor } from "./hop-floor.js";
import type { CpuUse } from "./procs.js";
import type { RecordAudit } from "./records.js";
import type { Summary } from "./stats.js";

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  readonly date: string;
  readonly postgres: string;
  readonly postgresSource: "DATABASE_URL" | "test runner server" | "embedded";
  /** The server's durability settings: with fsync off, what the run writes costs less than on a durable server. */
  readonly postgresDurability: PostgresDurability;
  /** Cores busy with other work on the machine in the 2 s before the run started. */
  readonly backgroundLoadCores: number;
}

export interface PostgresDurability {
  readonly fsync: string;
  readonly synchronousCommit: string;
  readonly fullPageWrites: string;
}

/** The machine table's process-hop row: what one more process in a TCP path costs here. */
export function hopFloorDescription(h: HopFloor): string {
  const ms = (v: number): string => v.toFixed(3);
  return (
    `a relay process that only copies bytes (no HTTP) adds ${ms(h.addedP50Ms)} ms p50 / ${ms(h.addedP99Ms)} ms p99 to a 64-byte TCP round trip ` +
    `(direct ${ms(h.direct.p50)} / ${ms(h.direct.p99)} ms, relayed ${ms(h.relay.p50)} / ${ms(h.relay.p99)} ms; ${h.roundTrips.toLocaleString("en-US")} each): ` +
    `the least any proxy adds here before its own work`
  );
}

/** The Postgres row of the machine table: version, where it came from and how durable its commits are. */
export function postgresDescription(m: Pick<MachineInfo, "postgres" | "postgresSource" | "postgresDurability">): string {
  const d = m.postgresDurability;
  const settings = `fsync ${d.fsync}, synchronous_commit ${d.synchronousCommit}, full_page_writes ${d.fullPageWrites}`;
  // The embedded test server trades durability for speed; say so next to the numbers it produced.
  const caveat = d.fsync === "off" ? ": not durable, a durable server pays for WAL flushes too" : "";
  return `${m.postgres} (${m.postgresSource}; fresh database; ${settings}${caveat})`;
}

export function machineInfo(
  postgres: string,
  postgresSource: MachineInfo["postgresSource"],
  postgresDurability: PostgresDurability,
  backgroundLoadCores: number,
): MachineInfo {
  let cpuModel = "unknown";
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
  } catch {
    cpuModel = os.cpus()[0]?.model ?? "unknown";
  }
  return {
    cpuModel,
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
    postgres,
    postgresSource,
    postgresDurability,
    backgroundLoadCores,
  };
}

/** One c=1 latency comparison: the same requests direct, through the gateway and through the bare proxy. */
export interface AddedLatency {
  readonly requestsPerTarget: number;
  readonly direct: Summary;
  readonly gateway: Summary;
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
  /** The floor: a Node.js proxy that only forwards (bare-proxy.mjs), and what it adds to direct. */
  readonly bareProxy: Summary;
  readonly bareAddedP50Ms: number;
  readonly bareAddedP99Ms: number;
  readonly errors: { readonly direct: number; readonly gateway: number; readonly bareProxy: number };
}

/** Everything measured; every leaf is a finite number. */
export interface Metrics {
  /** One more process in a TCP path (a relay that only copies bytes), at c=1: see hop-floor.ts. */
  readonly hopFloor: HopFloor;
  readonly latency: AddedLatency;
  readonly ttfb: AddedLatency;
  readonly throughput: {
    readonly connections: number;
    readonly direct: ThroughputFigures;
    readonly gateway: ThroughputFigures;
    /** gateway req/s ÷ direct req/s: the median over rounds of each round's ratio */
    readonly ratio: number;
    readonly bareProxy: ThroughputFigures;
    /** bare proxy req/s ÷ direct req/s, likewise (the floor; no target is judged against it) */
    readonly bareRatio: number;
    /** Each round's figures, by round number ("1", "2", …); round i runs the targets in THROUGHPUT_ORDER rotated by i − 1. */
    readonly rounds: Readonly<Record<string, ThroughputRoundFigures>>;
    /**
     * CPU µs each process spent per answered request in each throughput run (for the gateway,
     * its phase plus the records drain after it: the recording work those requests caused).
     * Steadier than req/s on a shared, noisy machine: it says what a request costs, not how
     * much of the machine the run happened to get.
     */
    readonly cpuPerRequest: Readonly<Record<"direct" | "bareProxy" | "gateway", CpuPerRequest>>;
  };
  readonly streams: {
    readonly gateway: StreamFigures;
    readonly direct?: StreamFigures;
    /** The same streams through the bare proxy: the gap any Node.js proxy adds on this machine. */
    readonly bareProxy?: StreamFigures;
  };
  readonly controlPlane: {
    /** Δ weir_controlplane_rpc_requests_total (all labels) over the run. */
    readonly rpcs: number;
    /** LLM requests sent through the gateway over the same window. */
    readonly llmRequests: number;
    readonly rpcsPerLlmRequest: number;
    /** Δ weir_gateway_interceptions_total, as a cross-check of llmRequests. */
    readonly gatewayInterceptions: number;
  };
  readonly records: {
    /** Rows (interceptions + child tables) the throughput phase produced, per second of that phase. */
    readonly persistedRowsPerSec: number;
    /** The same rows over the phase plus the time they took to settle after it. */
    readonly persistedRowsPerSecInclDrain: number;
    readonly throughputPhaseRows: number;
    readonly throughputPhaseSeconds: number;
    /** Seconds after the throughput phase until the row counts stopped growing. */
    readonly drainSeconds: number;
    readonly lost: number;
    readonly audit: RecordAudit;
    /** weir_gateway_records_dropped_total at the end, and by reason. */
    readonly droppedByGateway: number;
    readonly droppedByReason: { readonly overflow: number; readonly permanent: number; readonly shutdown: number };
    /** Peak weir_gateway_record_queue_depth seen during the throughput phase (sampled each second). */
    readonly peakQueueDepth: number;
    /** 200 answers that carried no interception id (cannot be audited; should be 0). */
    readonly okWithoutInterceptionId: number;
  };
  readonly memory: {
    readonly gatewayPeakRssMiB: number;
    readonly controlPlanePeakRssMiB: number;
    readonly emulatorPeakRssMiB: number;
  };
  readonly cpu: Record<string, CpuUse>;
  /** Seconds spent waiting for the machine to quieten before each measured phase. */
  readonly quietWaitSeconds: Record<string, number>;
}

export interface ThroughputRoundFigures {
  readonly directRps: number;
  readonly bareProxyRps: number;
  readonly gatewayRps: number;
  readonly ratio: number;
  readonly bareRatio: number;
}

/** The throughput targets in round 1's order; each later round starts one further along. */
export const THROUGHPUT_ORDER: readonly TargetName[] = ["direct", "bare", "gateway"];

/** How the report names each target. */
export const TARGET_LABELS: Readonly<Record<TargetName, string>> = { direct: "direct", bare: "bare proxy", gateway: "gateway" };

/** The targets of round `n` (1-based), in the order they run. */
export function roundTargets(n: number): TargetName[] {
  return THROUGHPUT_ORDER.map((_, k) => THROUGHPUT_ORDER[(n - 1 + k) % THROUGHPUT_ORDER.length]!);
}

/** The order of round `n` (1-based), as the report names the targets. */
export function roundOrder(n: number): string[] {
  return roundTargets(n).map((t) => TARGET_LABELS[t]);
}

/** CPU µs per answered request: by process, and the whole machine (including the kernel and other processes). */
export interface CpuPerRequest {
  readonly requests: number;
  readonly micros: Readonly<Record<string, number>>;
  readonly machineMicros: number;
}

/** CPU µs per request over `uses` (one or more consecutive phases) that answered `requests`. */
export function cpuPerRequest(uses: readonly CpuUse[], requests: number, cores: number): CpuPerRequest {
  const micros: Record<string, number> = {};
  let machine = 0;
  const n = Math.max(1, requests);
  for (const use of uses) {
    for (const [name, c] of Object.entries(use.cores)) micros[name] = (micros[name] ?? 0) + (c * use.wallSeconds * 1e6) / n;
    machine += (use.machineBusy * cores * use.wallSeconds * 1e6) / n;
  }
  for (const name of Object.keys(micros)) micros[name] = Math.round(micros[name] ?? 0);
  return { requests, micros, machineMicros: Math.round(machine) };
}

/** One throughput run, as measured (see load.ts). */
export type ThroughputFigures = ThroughputResult;

export interface StreamFigures {
  readonly streams: number;
  readonly events: number;
  readonly delayMs: number;
  readonly complete: number;
  readonly failed: number;
  readonly maxConcurrent: number;
  readonly maxGapMs: number;
  readonly p99GapMs: number;
  readonly p50GapMs: number;
  /** Gaps ending after every stream had its first event (no start-up burst). */
  readonly steadyGaps: number;
  readonly steadyMaxGapMs: number;
  readonly steadyP99GapMs: number;
  readonly firstEventP50Ms: number;
  readonly firstEventP99Ms: number;
  readonly wallSeconds: number;
  readonly benchLoopDelayP99Ms: number;
  readonly benchLoopDelayMaxMs: number;
}

export interface Check {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly pass: boolean;
  /**
   * The bare proxy against the same target in the same run: whether any Node.js proxy can meet
   * it on this machine right now. Absent where the bare proxy has no such figure.
   */
  readonly floor?: { readonly measured: string; readonly pass: boolean };
}

export interface BenchReport {
  readonly schema: "weir-bench/1";
  /** The code measured (git commit, or WEIR_BENCH_REVISION). */
  readonly revision: string;
  readonly machine: MachineInfo;
  readonly config: Omit<BenchConfig, "outDir">;
  readonly metrics: Metrics;
  readonly checks: readonly Check[];
  readonly pass: boolean;
  readonly notes: readonly string[];
  readonly profiles?: readonly ProfileSummary[];
}

const ms = (v: number): string => `${v.toFixed(3)} ms`;
const num = (v: number, digits = 0): string => v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

const roundsText = (m: Metrics): string => {
  const n = Object.keys(m.throughput.rounds).length;
  return n === 1 ? "1 round" : `median of ${n} rounds`;
};

function roundsTable(m: Metrics): string[] {
  const lines = [
    "| Round | Order | Direct req/s | Bare proxy req/s | Gateway req/s | Gateway ÷ direct | Bare ÷ direct |",
    "|---|---|---:|---:|---:|---:|---:|",
  ];
  for (const [n, r] of Object.entries(m.throughput.rounds)) {
    lines.push(`| ${n} | ${roundOrder(Number(n)).join(", ")} | ${num(r.directRps)} | ${num(r.bareProxyRps)} | ${num(r.gatewayRps)} | ${r.ratio.toFixed(3)} | ${r.bareRatio.toFixed(3)} |`);
  }
  return lines;
}

const streamsMeasured = (s: StreamFigures): string => `${s.maxGapMs.toFixed(1)} ms (p99 ${s.p99GapMs.toFixed(1)} ms; ${num(s.complete)}/${num(s.streams)} complete)`;

/**
 * A target judged on the gateway's figure and, when the run has one, on the bare proxy's with the
 * same rule. `measured` overrides how the gateway's figure is shown.
 */
function check<T>(name: string, target: string, meets: (v: T) => boolean, format: (v: T) => string, gateway: T, bare: T | undefined, measured = format(gateway)): Check {
  return { name, target, measured, pass: meets(gateway), ...(bare === undefined ? {} : { floor: { measured: format(bare), pass: meets(bare) } }) };
}

export function evaluate(m: Metrics): Check[] {
  const s = m.streams.gateway;
  const { latency: lt, throughput: tp, ttfb: tf } = m;
  return [
    check("Added latency p50, concurrency 1 (blocking chat, gateway − direct)", "≤ 0.5 ms", (v) => v <= 0.5, ms, lt.addedP50Ms, lt.bareAddedP50Ms),
    check("Added latency p99, concurrency 1", "≤ 2 ms", (v) => v <= 2, ms, lt.addedP99Ms, lt.bareAddedP99Ms),
    check(
      `Throughput at concurrency ${tp.connections}, gateway ÷ direct`,
      "≥ 0.35",
      (v) => v >= 0.35,
      (v) => v.toFixed(3),
      tp.ratio,
      tp.bareRatio,
      `${tp.ratio.toFixed(3)} (${roundsText(m)}; ${num(tp.gateway.rps)} ÷ ${num(tp.direct.rps)} req/s over all of them)`,
    ),
    check("Added TTFB p99 (streaming chat, first body byte)", "≤ 1 ms", (v) => v <= 1, ms, tf.addedP99Ms, tf.bareAddedP99Ms),
    check(
      `Largest inter-event gap, ${num(s.streams)} concurrent streams × ${s.events} events ${s.delayMs} ms apart`,
      `≤ ${2 * s.delayMs} ms, every stream complete`,
      (x: StreamFigures) => x.maxGapMs <= 2 * x.delayMs && x.complete === x.streams,
      streamsMeasured,
      s,
      m.streams.bareProxy,
    ),
    {
      name: "Control-plane RPCs per LLM request",
      target: "≤ 0.2",
      measured: `${m.controlPlane.rpcsPerLlmRequest.toFixed(3)} (${num(m.controlPlane.rpcs)} RPCs ÷ ${num(m.controlPlane.llmRequests)} requests)`,
      pass: m.controlPlane.rpcsPerLlmRequest <= 0.2,
    },
    {
      name: "Records lost",
      target: "0",
      measured: `${num(m.records.lost)} of ${num(m.records.audit.expectedRecords)} (${num(m.records.audit.expectedInterceptions)} interceptions × 4)`,
      pass: m.records.lost === 0,
    },
  ];
}

const CPU_COLUMNS = ["gateway", "controlPlane", "emulator", "bareProxy", "postgres", "bench", "other"];

function cpuPerRequestTable(per: Metrics["throughput"]["cpuPerRequest"]): string[] {
  const lines = [
    "| Throughput run | Requests | Gateway | Control plane | Emulator | Bare proxy | Postgres | Bench (load generator) | Other processes | Whole machine |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const rows: [string, CpuPerRequest][] = [["direct", per.direct], ["bare proxy", per.bareProxy], ["gateway (+ records drain)", per.gateway]];
  for (const [name, x] of rows) {
    lines.push(`| ${name} | ${num(x.requests)} | ${CPU_COLUMNS.map((c) => num(x.micros[c] ?? 0)).join(" | ")} | ${num(x.machineMicros)} |`);
  }
  return lines;
}

function cpuTable(cpu: Record<string, CpuUse>): string[] {
  const cols = CPU_COLUMNS;
  const lines = [
    "| Phase | Wall s | Gateway | Control plane | Emulator | Bare proxy | Postgres | Bench (load generator) | Other processes | Machine busy | Stolen by the host |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const [phase, use] of Object.entries(cpu)) {
    const cells = cols.map((c) => (use.cores[c] ?? 0).toFixed(2)).join(" | ");
    lines.push(`| ${phase} | ${use.wallSeconds.toFixed(1)} | ${cells} | ${(use.machineBusy * 100).toFixed(0)} % | ${(use.stolenCores ?? 0).toFixed(2)} |`);
  }
  return lines;
}

export function markdown(r: BenchReport): string {
  const m = r.metrics;
  const c = r.config;
  const L: string[] = [];
  L.push(`# Weir gateway benchmark${c.tiny ? " (tiny)" : ""}`, "");
  L.push("| | |", "|---|---|");
  L.push(`| Date | ${r.machine.date} |`);
  L.push(`| Code | ${r.revision} |`);
  L.push(`| Machine | ${r.machine.cpuModel}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB RAM, ${r.machine.os} |`);
  L.push(`| Node | ${r.machine.node} |`);
  L.push(`| Postgres | ${postgresDescription(r.machine)} |`);
  L.push(`| Process-hop floor (c=1) | ${hopFloorDescription(m.hopFloor)} |`);
  L.push(`| Background load before the run | ${r.machine.backgroundLoadCores.toFixed(2)} cores busy with other work |`);
  L.push(
    `| Setup | emulator, control plane, 1 gateway and a bare proxy (a Node.js proxy that only forwards) as separate processes on 127.0.0.1; emulator zero latency, recording off; ` +
      `one load generator (this process: undici for c=1 and streams, autocannon for throughput); gateway authorizes and records every request |`,
  );
  L.push("");
  L.push("## Targets", "");
  L.push("| Measurement | Target | Measured | Result | Bare proxy (floor) in this run |", "|---|---|---|---|---|");
  for (const k of r.checks) {
    const floor = k.floor === undefined ? "—" : `${k.floor.measured}: ${k.floor.pass ? "meets it" : "misses it"}`;
    L.push(`| ${k.name} | ${k.target} | ${k.measured} | ${k.pass ? "PASS" : "**FAIL**"} | ${floor} |`);
  }
  L.push("");
  L.push("## Direct vs gateway", "");
  L.push(
    "| Measurement | Direct (emulator) | Gateway | Added / ratio | Bare proxy | Bare added / ratio |",
    "|---|---:|---:|---:|---:|---:|",
  );
  const lt = m.latency;
  const tf = m.ttfb;
  L.push(`| Blocking chat, c=1, p50 (n=${num(lt.direct.count)}/${num(lt.gateway.count)}/${num(lt.bareProxy.count)}) | ${ms(lt.direct.p50)} | ${ms(lt.gateway.p50)} | ${ms(lt.addedP50Ms)} | ${ms(lt.bareProxy.p50)} | ${ms(lt.bareAddedP50Ms)} |`);
  L.push(`| Blocking chat, c=1, p99 | ${ms(lt.direct.p99)} | ${ms(lt.gateway.p99)} | ${ms(lt.addedP99Ms)} | ${ms(lt.bareProxy.p99)} | ${ms(lt.bareAddedP99Ms)} |`);
  L.push(`| Blocking chat, c=1, mean | ${ms(lt.direct.mean)} | ${ms(lt.gateway.mean)} | ${ms(lt.gateway.mean - lt.direct.mean)} | ${ms(lt.bareProxy.mean)} | ${ms(lt.bareProxy.mean - lt.direct.mean)} |`);
  L.push(`| Streaming TTFB, c=1, p50 (n=${num(tf.direct.count)}/${num(tf.gateway.count)}/${num(tf.bareProxy.count)}) | ${ms(tf.direct.p50)} | ${ms(tf.gateway.p50)} | ${ms(tf.addedP50Ms)} | ${ms(tf.bareProxy.p50)} | ${ms(tf.bareAddedP50Ms)} |`);
  L.push(`| Streaming TTFB, c=1, p99 | ${ms(tf.direct.p99)} | ${ms(tf.gateway.p99)} | ${ms(tf.addedP99Ms)} | ${ms(tf.bareProxy.p99)} | ${ms(tf.bareAddedP99Ms)} |`);
  const td = m.throughput.direct;
  const tg = m.throughput.gateway;
  const tb = m.throughput.bareProxy;
  L.push(`| Requests/s, c=${m.throughput.connections}, ${td.seconds.toFixed(1)} s / ${tg.seconds.toFixed(1)} s / ${tb.seconds.toFixed(1)} s (ratio: ${roundsText(m)}) | ${num(td.rps)} | ${num(tg.rps)} | ${m.throughput.ratio.toFixed(3)} × | ${num(tb.rps)} | ${m.throughput.bareRatio.toFixed(3)} × |`);
  L.push(`| Latency at c=${m.throughput.connections}, p50 / p99 | ${td.latencyP50Ms} / ${td.latencyP99Ms} ms | ${tg.latencyP50Ms} / ${tg.latencyP99Ms} ms | | ${tb.latencyP50Ms} / ${tb.latencyP99Ms} ms | |`);
  L.push(`| Non-2xx / errors / timeouts at c=${m.throughput.connections} | ${td.non2xx} / ${td.errors} / ${td.timeouts} | ${tg.non2xx} / ${tg.errors} / ${tg.timeouts} | | ${tb.non2xx} / ${tb.errors} / ${tb.timeouts} | |`);
  const sg = m.streams.gateway;
  // One row per stream figure: each formatter is applied to direct, gateway and bare proxy ("—" for a skipped baseline).
  const streamRow = (label: string, f: (s: StreamFigures) => string): void => {
    const cell = (s: StreamFigures | undefined): string => (s ? f(s) : "—");
    L.push(`| ${label} | ${cell(m.streams.direct)} | ${f(sg)} | | ${cell(m.streams.bareProxy)} | |`);
  };
  streamRow(`${num(sg.streams)} streams: largest / p99 / p50 inter-event gap`, (s) => `${s.maxGapMs.toFixed(1)} / ${s.p99GapMs.toFixed(1)} / ${s.p50GapMs.toFixed(1)} ms`);
  streamRow("… only gaps after every stream had its first event (no start-up burst): largest / p99 (count)", (s) => `${s.steadyMaxGapMs.toFixed(1)} / ${s.steadyP99GapMs.toFixed(1)} ms (${num(s.steadyGaps)})`);
  streamRow(`${num(sg.streams)} streams: first event p50 / p99`, (s) => `${s.firstEventP50Ms.toFixed(1)} / ${s.firstEventP99Ms.toFixed(1)} ms`);
  streamRow(`${num(sg.streams)} streams: complete / most open at once`, (s) => `${num(s.complete)} / ${num(s.maxConcurrent)}`);
  streamRow(`${num(sg.streams)} streams: load-generator event-loop delay p99 / max`, (s) => `${s.benchLoopDelayP99Ms.toFixed(1)} / ${s.benchLoopDelayMaxMs.toFixed(1)} ms`);
  L.push("");
  L.push("## Control plane, records, memory", "");
  L.push("| Measurement | Value |", "|---|---:|");
  L.push(`| Control-plane RPCs per LLM request | ${m.controlPlane.rpcsPerLlmRequest.toFixed(3)} (${num(m.controlPlane.rpcs)} ÷ ${num(m.controlPlane.llmRequests)}; gateway counted ${num(m.controlPlane.gatewayInterceptions)} interceptions) |`);
  L.push(`| Records persisted per second (throughput phase) | ${num(m.records.persistedRowsPerSec)} rows/s (${num(m.records.throughputPhaseRows)} rows in ${m.records.throughputPhaseSeconds.toFixed(1)} s) |`);
  L.push(`| … including the time to settle after the phase | ${num(m.records.persistedRowsPerSecInclDrain)} rows/s (settled ${m.records.drainSeconds.toFixed(1)} s after the phase) |`);
  L.push(`| Peak record queue depth (gateway, sampled 1/s) | ${num(m.records.peakQueueDepth)} |`);
  const a = m.records.audit;
  L.push(`| Records lost | ${num(m.records.lost)} (missing interception ${a.missingInterception}, not ended ${a.notEnded}, token usage ${a.missingTokenUsage}, prompt ${a.missingPrompt}) |`);
  L.push(`| Duplicated / ended with error / rows without a client 200 | ${a.duplicated} / ${a.endedWithError} / ${a.unexpectedInterceptions} |`);
  const dr = m.records.droppedByReason;
  L.push(`| Records dropped by the gateway (metric) | ${num(m.records.droppedByGateway)} (overflow ${num(dr.overflow)}, permanent ${num(dr.permanent)}, shutdown ${num(dr.shutdown)}) |`);
  L.push(`| Peak RSS (VmHWM): gateway / control plane / emulator | ${m.memory.gatewayPeakRssMiB.toFixed(1)} / ${m.memory.controlPlanePeakRssMiB.toFixed(1)} / ${m.memory.emulatorPeakRssMiB.toFixed(1)} MiB |`);
  L.push("");
  L.push(`## Throughput rounds at c=${m.throughput.connections} (${c.throughputSeconds} s per target and round)`, "");
  L.push(...roundsTable(m));
  L.push("");
  L.push(`## CPU per request at c=${m.throughput.connections} (µs per answered request, from /proc)`, "");
  L.push(...cpuPerRequestTable(m.throughput.cpuPerRequest));
  L.push("");
  L.push(`## CPU by phase (cores used, from /proc; ${r.machine.cores} cores in total)`, "");
  L.push(...cpuTable(m.cpu));
  L.push("");
  const waits = Object.entries(m.quietWaitSeconds);
  if (c.quietWaitSeconds > 0 && waits.length > 0) {
    L.push(`Waited for other processes to quieten (< 0.25 cores, at most ${c.quietWaitSeconds} s) before: ${waits.map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(", ")}.`, "");
  }
  if (r.profiles && r.profiles.length > 0) {
    L.push("## CPU profiles (whole run, self time, idle excluded)", "");
    for (const p of r.profiles) {
      L.push(`### ${p.process} (${num(p.busyMs)} ms busy)`, "");
      L.push("| Module | ms | % |", "|---|---:|---:|");
      for (const x of p.modules) L.push(`| ${x.name} | ${num(x.ms)} | ${x.percent.toFixed(1)} |`);
      L.push("", "| Function (self) | ms | % |", "|---|---:|---:|");
      for (const x of p.functions) L.push(`| \`${x.name}\` | ${num(x.ms)} | ${x.percent.toFixed(1)} |`);
      if (p.weirInclusive.length > 0) {
        L.push("", "| Weir function (inclusive: itself and what it calls) | ms | % |", "|---|---:|---:|");
        for (const x of p.weirInclusive) L.push(`| \`${x.name}\` | ${num(x.ms)} | ${x.percent.toFixed(1)} |`);
      }
      L.push("");
    }
  }
  if (r.notes.length > 0) {
    L.push("## Notes", "");
    for (const n of r.notes) L.push(`- ${n}`);
    L.push("");
  }
  L.push(
    `Sizes: c=1 ${num(c.latencyRequests)} (+${num(c.latencyWarmup)} warm-up) blocking and ${num(c.ttfbRequests)} (+${num(c.ttfbWarmup)}) streaming requests per target, interleaved; ` +
      `throughput ${c.throughputRounds} × ${c.throughputSeconds} s per target at c=${c.connections} after ${c.throughputWarmupSeconds} s warm-up; ` +
      `${num(c.streams)} streams × ${c.streamEvents} events @ ${c.streamDelayMs} ms (direct, bare proxy and gateway; the first two are skipped with --no-stream-baseline). Added = gateway percentile − direct percentile; bare added = bare proxy percentile − direct percentile.`,
  );
  return `${L.join("\n")}\n`;
}
