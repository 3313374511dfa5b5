// `npm run bench` — Weir's gateway benchmark (peers.md §2 methodology: a mock upstream on the
// same machine; added latency = through the gateway minus direct to the upstream).
//
// Starts, as separate processes, the LLM emulator (zero latency, recording off), a control plane
// on a fresh Postgres database (DATABASE_URL's server, or an embedded one), one gateway and a
// bare proxy (bare-proxy.mjs: forwards only, the floor of any Node.js proxy), then measures
// direct-to-emulator vs through-the-gateway with ONE load generator in this process: added
// latency at concurrency 1, requests/s at concurrency 64, added time-to-first-byte (the bare
// proxy in those three too), inter-event gaps of many concurrent SSE streams, control-plane RPCs
// per LLM request, records persisted per second and lost, and peak RSS. Writes latest.json and
// latest.md (see --help).
//
// Everything binds to 127.0.0.1. Every loop is bounded in count and time, a watchdog bounds the
// whole run, and every child process is stopped on every exit path (including SIGINT).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { bootstrapOwner } from "@weir/controlplane";
import { TEST_SERVER_URL_ENV, TEST_TEMPLATE_ENV, createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { USAGE, UsageError, parseConfig, type BenchConfig } from "./config.js";
import { summarizeProfileDir, type ProfileSummary } from "./cpu-profile.js";
import { measureHopFloor } from "./hop-floor.js";
import { Ledger, combineRuns, concurrentStreams, firstByteSamples, latencySamples, throughput, type StreamsResult, type Target, type TargetName, type ThroughputResult } from "./load.js";
import { ProcessSet, backgroundLoadCores, cpuSnapshot, cpuUse, memoryMiB, sleep, startOnFreePort, waitForOutput, type CpuUse } from "./procs.js";
import { auditRecords, scrape, sumMetric, waitForRecords } from "./records.js";
import { TARGET_LABELS, cpuPerRequest, evaluate, machineInfo, markdown, roundTargets, type BenchReport, type MachineInfo, type Metrics, type PostgresDurability, type StreamFigures, type ThroughputFigures } from "./report.js";
import { median, round, roundSummary, summarize } from "./stats.js";

const REPO = join(import.meta.dirname, "..", "..");
const WEIR = join(REPO, "packages", "cli", "bin", "weir.js");
const WEIR_DIST = join(REPO, "packages", "cli", "dist", "main.js");
const EMULATOR = join(REPO, "packages", "llm-emulator", "dist", "main.js");
const BARE_PROXY = join(import.meta.dirname, "bare-proxy.mjs");
const TCP_ECHO_RELAY = join(import.meta.dirname, "tcp-echo-relay.mjs");
const CHAT_PATH = "/openai/v1/chat/completions";

const t0 = performance.now();
function log(message: string): void {
  process.stderr.write(`[bench +${((performance.now() - t0) / 1000).toFixed(1)}s] ${message}\n`);
}

/** Which code was measured: WEIR_BENCH_REVISION, else the git commit (+ "dirty" with local changes under packages/). */
function revision(): string {
  if (process.env.WEIR_BENCH_REVISION) return process.env.WEIR_BENCH_REVISION;
  try {
    const git = (...args: string[]): string => execFileSync("git", ["-C", REPO, ...args], { encoding: "utf8", timeout: 5_000, stdio: ["ignore", "pipe", "ignore"] }).trim();
    const commit = git("rev-parse", "--short", "HEAD");
    return git("status", "--porcelain", "--", "packages", "proto") === "" ? commit : `${commit} + uncommitted changes under packages/ or proto/`;
  } catch {
    return "unknown (not a git checkout; set WEIR_BENCH_REVISION)";
  }
}

/** The children's environment: ours minus any WEIR_* setting and test-runner/tsx hooks. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith("WEIR_") || k === "NODE_TEST_CONTEXT") continue;
    if (k === "NODE_OPTIONS" && v.includes("tsx")) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

const streamFigures = (s: StreamsResult, events: number, delayMs: number): StreamFigures => ({
  streams: s.streams,
  events,
  delayMs,
  complete: s.complete,
  failed: s.failed,
  maxConcurrent: s.maxConcurrent,
  maxGapMs: round(s.gaps.max),
  p99GapMs: round(s.gaps.p99),
  p50GapMs: round(s.gaps.p50),
  steadyGaps: s.steadyGaps.count,
  steadyMaxGapMs: round(s.steadyGaps.max),
  steadyP99GapMs: round(s.steadyGaps.p99),
  firstEventP50Ms: round(s.firstEvent.p50),
  firstEventP99Ms: round(s.firstEvent.p99),
  wallSeconds: round(s.wallSeconds, 2),
  benchLoopDelayP99Ms: round(s.benchLoopDelayP99Ms),
  benchLoopDelayMaxMs: round(s.benchLoopDelayMaxMs),
});

const throughputFigures = (t: ThroughputResult): ThroughputFigures => ({
  rps: round(t.rps, 1),
  seconds: t.seconds,
  ok: t.ok,
  sent: t.sent,
  non2xx: t.non2xx,
  errors: t.errors,
  timeouts: t.timeouts,
  latencyP50Ms: t.latencyP50Ms,
  latencyP99Ms: t.latencyP99Ms,
  benchLoopDelayP99Ms: round(t.benchLoopDelayP99Ms),
  benchLoopDelayMaxMs: round(t.benchLoopDelayMaxMs),
});

/** Everything a run started, so any exit path can stop it. */
class Run {
  readonly procs = new ProcessSet();
  readonly abort = new AbortController();
  database: TestDatabase | undefined;
  private cleaning: Promise<void> | undefined;

  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      await this.procs.stopAll(15_000).catch((err: unknown) => log(`stopping processes: ${String(err)}`));
      await this.database?.drop().catch((err: unknown) => log(`dropping the database: ${String(err)}`));
    })();
    return this.cleaning;
  }
}

/** One throughput round: each target's run. */
interface ThroughputRound {
  readonly direct: ThroughputResult;
  readonly bare: ThroughputResult;
  readonly gateway: ThroughputResult;
}

async function measure(config: BenchConfig, run: Run): Promise<BenchReport> {
  const signal = run.abort.signal;
  const profileDir = join(config.outDir, "profiles");
  if (config.cpuProf) rmSync(profileDir, { recursive: true, force: true });
  const prof = (name: string): string[] => (config.cpuProf ? ["--cpu-prof", `--cpu-prof-dir=${join(profileDir, name)}`] : []);

  // Other work on the machine skews every figure: measure it before starting anything.
  const background = await backgroundLoadCores(2_000);
  log(`background load: ${background.toFixed(2)} cores busy before the run`);

  // ---- Postgres: a fresh, migrated database on the test server ----
  log("preparing a fresh Postgres database");
  run.database = await createTestDatabase();
  const db = run.database.db;
  const pgVersion = (await sql<{ server_version: string }>`SHOW server_version`.execute(db)).rows[0]?.server_version ?? "unknown";
  const durability = (
    await sql<PostgresDurability>`SELECT current_setting('fsync') AS "fsync", current_setting('synchronous_commit') AS "synchronousCommit", current_setting('full_page_writes') AS "fullPageWrites"`.execute(db)
  ).rows[0] ?? { fsync: "unknown", synchronousCommit: "unknown", fullPageWrites: "unknown" };
  const postgresSource: MachineInfo["postgresSource"] =
    process.env[TEST_SERVER_URL_ENV] && process.env[TEST_TEMPLATE_ENV] ? "test runner server" : process.env.DATABASE_URL ? "DATABASE_URL" : "embedded";

  // ---- the emulator: zero latency (no controls), recording off ----
  const emulator = run.procs.spawnNode("emulator", [...prof("emulator"), EMULATOR, "--host", "127.0.0.1", "--port", "0", "--max-recorded", "0"], childEnv({}));
  const emulatorUrl = (await waitForOutput(emulator, /listening on (http:\/\/127\.0\.0\.1:\d+)/, 15_000))[1]!;
  log(`emulator ${emulatorUrl} (pid ${emulator.pid})`);

  // ---- the control plane, as an operator runs it ----
  const cp = await startOnFreePort(
    run.procs,
    "control-plane",
    (port) => ({
      nodeArgs: [...prof("control-plane"), WEIR, "control-plane", "--listen", `127.0.0.1:${port}`, "--log-level", "warn"],
      env: childEnv({ WEIR_DATABASE_URL: run.database!.url }),
      readyPath: "/readyz",
    }),
    60_000,
  );
  log(`control plane ${cp.url} (pid ${cp.daemon.pid})`);

  // ---- a user key and a gateway key through the admin API ----
  const owner = await bootstrapOwner(db, { username: "bench-owner" });
  const admin = async (method: string, path: string, body: unknown): Promise<any> => {
    const res = await fetch(`${cp.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${owner.key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const user = await admin("POST", "/api/v2/users", { username: "bench-user", role: "member" });
  const apiKey = await admin("POST", `/api/v2/users/${user.id}/keys`, { name: "bench" });
  const gatewayKey = await admin("POST", "/api/v2/ai-gateway/keys", { name: "bench-gateway" });

  // ---- one gateway. Its record queue keeps the default bound unless --gateway-arg sets one. ----
  const gw = await startOnFreePort(
    run.procs,
    "gateway",
    (port) => ({
      nodeArgs: [...prof("gateway"), WEIR, "gateway", "--listen", `127.0.0.1:${port}`, "--log-level", "warn", ...config.gatewayArgs],
      env: childEnv({
        WEIR_CONTROL_PLANE_URL: cp.url,
        WEIR_GATEWAY_KEY: gatewayKey.key,
        WEIR_OPENAI_BASE_URL: `${emulatorUrl}/openai/v1`,
        WEIR_OPENAI_API_KEY: "sk-bench-central-openai",
        WEIR_ANTHROPIC_BASE_URL: `${emulatorUrl}/anthropic`,
        WEIR_ANTHROPIC_API_KEY: "sk-ant-bench-central",
      }),
      readyPath: "/readyz",
    }),
    60_000,
  );
  log(`gateway ${gw.url} (pid ${gw.daemon.pid})`);

  // ---- the bare proxy: the same emulator behind a Node.js proxy that only forwards ----
  const bareProxy = run.procs.spawnNode("bare-proxy", [...prof("bare-proxy"), BARE_PROXY, emulatorUrl], childEnv({}));
  const bareUrl = (await waitForOutput(bareProxy, /listening on (http:\/\/127\.0\.0\.1:\d+)/, 15_000))[1]!;
  log(`bare proxy ${bareUrl} (pid ${bareProxy.pid})`);

  const direct: Target = { name: "direct", origin: emulatorUrl, path: CHAT_PATH, headers: { "content-type": "application/json", authorization: "Bearer sk-bench-direct" } };
  const gateway: Target = { name: "gateway", origin: gw.url, path: CHAT_PATH, headers: { "content-type": "application/json", authorization: `Bearer ${apiKey.key}` } };
  const bare: Target = { name: "bare", origin: bareUrl, path: CHAT_PATH, headers: direct.headers };
  const ledgers = { direct: new Ledger(direct), gateway: new Ledger(gateway), bare: new Ledger(bare) };
  const errorCount = (name: keyof typeof ledgers): number => ledgers[name].errors + ledgers[name].non200;

  const rpcCount = async (): Promise<number> => {
    const v = sumMetric(await scrape(cp.url), "weir_controlplane_rpc_requests_total");
    if (v === undefined) throw new Error("the control plane's /metrics has no weir_controlplane_rpc_requests_total");
    return v;
  };
  const gatewayMetric = async (name: string): Promise<number> => sumMetric(await scrape(gw.url), name) ?? 0;
  const rpcBefore = await rpcCount();
  const interceptionsBefore = await gatewayMetric("weir_gateway_interceptions_total");

  const participants = { gateway: gw.daemon.pid, controlPlane: cp.daemon.pid, emulator: emulator.pid, bareProxy: bareProxy.pid };
  const cpu: Record<string, CpuUse> = {};
  // On a shared machine other work skews the figures: before a measured phase, wait (bounded)
  // for processes outside the benchmark to quieten down.
  const quietWaits: Record<string, number> = {};
  const waitQuiet = async (name: string): Promise<void> => {
    if (config.quietWaitSeconds <= 0) {
      quietWaits[name] = 0;
      return;
    }
    const started = performance.now();
    for (;;) {
      const a = cpuSnapshot(participants);
      await sleep(1_000);
      const other = cpuUse(a, cpuSnapshot(participants)).cores.other ?? 0;
      const waited = (performance.now() - started) / 1000;
      if (other < 0.25) {
        quietWaits[name] = round(waited, 1);
        return;
      }
      if (signal.aborted || waited >= config.quietWaitSeconds) {
        quietWaits[name] = round(waited, 1);
        log(`${name}: other processes still use ${other.toFixed(2)} cores after ${waited.toFixed(0)} s; measuring anyway`);
        return;
      }
    }
  };
  const phase = async <T>(name: string, work: () => Promise<T>, measured = true): Promise<T> => {
    if (measured) await waitQuiet(name);
    log(`${name} …`);
    const before = cpuSnapshot(participants);
    const result = await work();
    cpu[name] = cpuUse(before, cpuSnapshot(participants));
    log(`${name}: ${cpu[name]!.wallSeconds.toFixed(1)} s`);
    return result;
  };
  let stopping = false;
  for (const d of [emulator, cp.daemon, gw.daemon, bareProxy]) {
    void d.exited.then(({ code, signal: sig }) => {
      if (!run.abort.signal.aborted && !stopping) run.abort.abort(new Error(`${d.name} exited unexpectedly (code ${code}, signal ${sig}):\n${d.output()}`));
    });
  }

  // ---- (0) the machine's floor for one more process in the path, before any HTTP ----
  const hop = await phase("process-hop floor c=1", () => measureHopFloor(run.procs, TCP_ECHO_RELAY, config.hopRoundTrips, childEnv({}), signal));

  // ---- (1) added latency, concurrency 1 ----
  const targets = [direct, gateway, bare];
  const latencyDeadline = 60_000 + (config.latencyWarmup + config.latencyRequests) * targets.length * 50;
  const lat = await phase("latency c=1", () => latencySamples(targets, ledgers, config.latencyWarmup, config.latencyRequests, latencyDeadline, signal));
  const latDirect = summarize(lat.direct);
  const latGateway = summarize(lat.gateway);
  const latBare = summarize(lat.bare);
  const latErrors = { direct: errorCount("direct"), gateway: errorCount("gateway"), bareProxy: errorCount("bare") };

  // ---- (2) added time to first byte, streaming, concurrency 1 ----
  const ttfbDeadline = 60_000 + (config.ttfbWarmup + config.ttfbRequests) * targets.length * 50;
  const tt = await phase("ttfb c=1", () => firstByteSamples(targets, ledgers, config.ttfbWarmup, config.ttfbRequests, ttfbDeadline, signal));
  const ttDirect = summarize(tt.direct);
  const ttGateway = summarize(tt.gateway);
  const ttBare = summarize(tt.bare);
  const ttErrors = {
    direct: errorCount("direct") - latErrors.direct,
    gateway: errorCount("gateway") - latErrors.gateway,
    bareProxy: errorCount("bare") - latErrors.bareProxy,
  };

  // ---- (3) throughput at concurrency C: rounds of direct, bare proxy and gateway ----
  // Each round runs every target once, the order rotated from round to round, so a shared
  // machine's drift during the run weighs on all three alike; ratios are the median of the
  // rounds'. Each gateway run starts with its records settled and is followed by their drain, so
  // its backlog never slows another target's run; that drain's CPU counts against the gateway.
  const c = config.connections;
  const drainMs = config.drainTimeoutSeconds * 1000;
  const tpTargets: Record<TargetName, Target> = { direct, bare, gateway };
  if (config.throughputWarmupSeconds > 0) {
    for (const name of roundTargets(1)) {
      await phase(`throughput warm-up ${TARGET_LABELS[name]}`, () => throughput(tpTargets[name], ledgers[name], c, config.throughputWarmupSeconds, signal), false);
    }
  }
  const tpRounds: ThroughputRound[] = [];
  const tpCpu: Record<TargetName, CpuUse[]> = { direct: [], bare: [], gateway: [] };
  const rec = { rows: 0, gatewaySeconds: 0, drainSeconds: 0, peakQueueDepth: 0, settled: true };
  for (let i = 1; i <= config.throughputRounds; i++) {
    const runs: Partial<Record<TargetName, ThroughputResult>> = {};
    for (const target of roundTargets(i)) {
      const t = tpTargets[target];
      const name = `throughput ${TARGET_LABELS[target]} #${i}`;
      if (t.name !== "gateway") {
        runs[t.name] = await phase(name, () => throughput(t, ledgers[t.name], c, config.throughputSeconds, signal));
        tpCpu[t.name].push(cpu[name]!);
        continue;
      }
      const before = await phase(`records settle #${i}`, () => waitForRecords(db, gw.url, performance.now(), drainMs, signal), false);
      const sampler = setInterval(() => {
        gatewayMetric("weir_gateway_record_queue_depth").then(
          (d) => (rec.peakQueueDepth = Math.max(rec.peakQueueDepth, d)),
          () => {},
        );
      }, 1_000);
      let result: ThroughputResult;
      try {
        result = await phase(name, () => throughput(t, ledgers.gateway, c, config.throughputSeconds, signal));
      } finally {
        clearInterval(sampler);
      }
      const ended = performance.now();
      const drained = await phase(`records drain #${i}`, () => waitForRecords(db, gw.url, ended, drainMs, signal), false);
      runs.gateway = result;
      tpCpu.gateway.push(cpu[name]!, cpu[`records drain #${i}`]!);
      rec.rows += drained.counts.rows - before.counts.rows;
      rec.gatewaySeconds += result.seconds;
      rec.drainSeconds += drained.seconds;
      rec.settled &&= before.settled && drained.settled;
    }
    tpRounds.push({ direct: runs.direct!, bare: runs.bare!, gateway: runs.gateway! });
  }
  const tpDirect = combineRuns(tpRounds.map((r) => r.direct));
  const tpBare = combineRuns(tpRounds.map((r) => r.bare));
  const tpGateway = combineRuns(tpRounds.map((r) => r.gateway));
  const roundRatio = (r: ThroughputRound, t: ThroughputResult): number => (r.direct.rps > 0 ? t.rps / r.direct.rps : 0);

  // ---- (4) concurrent SSE streams (baselines first: direct, then the bare proxy's floor; then through the gateway) ----
  const streamDeadline = 60_000 + (config.streamEvents + 4) * config.streamDelayMs * 2;
  const streamsThrough = (name: string, ledger: Ledger): Promise<StreamsResult> =>
    phase(name, () => concurrentStreams(ledger.target, ledger, config.streams, config.streamEvents, config.streamDelayMs, streamDeadline, signal));
  const streamsDirect = config.streamBaseline ? await streamsThrough("streams direct", ledgers.direct) : undefined;
  const streamsBare = config.streamBaseline ? await streamsThrough("streams bare proxy", ledgers.bare) : undefined;
  const streamsGateway = await streamsThrough("streams gateway", ledgers.gateway);
  const figures = (r: StreamsResult): StreamFigures => streamFigures(r, config.streamEvents, config.streamDelayMs);

  // ---- (5) after the gateway drained: audit, RPCs, memory ----
  const final = await phase("records drain (final)", () => waitForRecords(db, gw.url, performance.now(), drainMs, signal), false);
  const audit = await auditRecords(db, ledgers.gateway.ids ?? new Set());
  const rpcs = (await rpcCount()) - rpcBefore;
  const interceptions = (await gatewayMetric("weir_gateway_interceptions_total")) - interceptionsBefore;
  const gatewayText = await scrape(gw.url);
  const dropped = sumMetric(gatewayText, "weir_gateway_records_dropped_total") ?? 0;
  const droppedByReason = {
    overflow: sumMetric(gatewayText, "weir_gateway_records_dropped_total", { reason: "overflow" }) ?? 0,
    permanent: sumMetric(gatewayText, "weir_gateway_records_dropped_total", { reason: "permanent" }) ?? 0,
    shutdown: sumMetric(gatewayText, "weir_gateway_records_dropped_total", { reason: "shutdown" }) ?? 0,
  };
  const mem = (pid: number): number => round(memoryMiB(pid)?.peakRss ?? 0, 1);
  const memory = { gatewayPeakRssMiB: mem(gw.daemon.pid), controlPlanePeakRssMiB: mem(cp.daemon.pid), emulatorPeakRssMiB: mem(emulator.pid) };

  // ---- stop (gateway first, so it flushes) and read the profiles ----
  stopping = true;
  log("stopping processes");
  await run.procs.stopAll(15_000);
  const profiles: ProfileSummary[] = [];
  if (config.cpuProf) {
    for (const name of ["gateway", "control-plane", "emulator", "bare-proxy"]) {
      const p = summarizeProfileDir(name, join(profileDir, name));
      if (p) profiles.push(p);
    }
  }

  const metrics: Metrics = {
    hopFloor: {
      roundTrips: hop.roundTrips,
      direct: roundSummary(hop.direct),
      relay: roundSummary(hop.relay),
      addedP50Ms: round(hop.addedP50Ms),
      addedP99Ms: round(hop.addedP99Ms),
    },
    latency: {
      requestsPerTarget: config.latencyRequests,
      direct: roundSummary(latDirect),
      gateway: roundSummary(latGateway),
      addedP50Ms: round(latGateway.p50 - latDirect.p50),
      addedP99Ms: round(latGateway.p99 - latDirect.p99),
      bareProxy: roundSummary(latBare),
      bareAddedP50Ms: round(latBare.p50 - latDirect.p50),
      bareAddedP99Ms: round(latBare.p99 - latDirect.p99),
      errors: latErrors,
    },
    ttfb: {
      requestsPerTarget: config.ttfbRequests,
      direct: roundSummary(ttDirect),
      gateway: roundSummary(ttGateway),
      addedP50Ms: round(ttGateway.p50 - ttDirect.p50),
      addedP99Ms: round(ttGateway.p99 - ttDirect.p99),
      bareProxy: roundSummary(ttBare),
      bareAddedP50Ms: round(ttBare.p50 - ttDirect.p50),
      bareAddedP99Ms: round(ttBare.p99 - ttDirect.p99),
      errors: ttErrors,
    },
    throughput: {
      connections: c,
      direct: throughputFigures(tpDirect),
      gateway: throughputFigures(tpGateway),
      ratio: round(median(tpRounds.map((r) => roundRatio(r, r.gateway)))),
      bareProxy: throughputFigures(tpBare),
      bareRatio: round(median(tpRounds.map((r) => roundRatio(r, r.bare)))),
      rounds: Object.fromEntries(
        tpRounds.map((r, i) => [
          String(i + 1),
          { directRps: round(r.direct.rps, 1), bareProxyRps: round(r.bare.rps, 1), gatewayRps: round(r.gateway.rps, 1), ratio: round(roundRatio(r, r.gateway)), bareRatio: round(roundRatio(r, r.bare)) },
        ]),
      ),
      cpuPerRequest: {
        // The gateway's row adds the records drain: the recording work its requests caused.
        direct: cpuPerRequest(tpCpu.direct, tpDirect.ok, availableParallelism()),
        bareProxy: cpuPerRequest(tpCpu.bare, tpBare.ok, availableParallelism()),
        gateway: cpuPerRequest(tpCpu.gateway, tpGateway.ok, availableParallelism()),
      },
    },
    streams: {
      gateway: figures(streamsGateway),
      ...(streamsDirect ? { direct: figures(streamsDirect) } : {}),
      ...(streamsBare ? { bareProxy: figures(streamsBare) } : {}),
    },
    controlPlane: {
      rpcs,
      llmRequests: ledgers.gateway.sent,
      rpcsPerLlmRequest: round(ledgers.gateway.sent > 0 ? rpcs / ledgers.gateway.sent : 0),
      gatewayInterceptions: interceptions,
    },
    records: {
      persistedRowsPerSec: round(rec.gatewaySeconds > 0 ? rec.rows / rec.gatewaySeconds : 0, 1),
      persistedRowsPerSecInclDrain: round(rec.rows / Math.max(1e-3, rec.gatewaySeconds + rec.drainSeconds), 1),
      throughputPhaseRows: rec.rows,
      throughputPhaseSeconds: tpGateway.seconds,
      drainSeconds: round(rec.drainSeconds, 2),
      lost: audit.lost,
      audit,
      droppedByGateway: dropped,
      droppedByReason,
      peakQueueDepth: rec.peakQueueDepth,
      okWithoutInterceptionId: ledgers.gateway.okWithoutId,
    },
    memory,
    cpu,
    quietWaitSeconds: quietWaits,
  };

  const notes: string[] = [];
  const info = machineInfo(pgVersion, postgresSource, durability, background);
  notes.push(
    `Everything (emulator, control plane, gateway, bare proxy, Postgres and the load generator) shares the same ${info.cores} cores, so the gateway's figures include contention with its own upstream, control plane, database and client; see the CPU table.`,
  );
  if (config.gatewayArgs.length === 0) {
    notes.push("The gateway's follow-up record queue has its default bound (10,000 records, --record-queue-size).");
  } else {
    notes.push(`Extra gateway arguments: ${config.gatewayArgs.join(" ")}.`);
  }
  notes.push(
    `The bare proxy is the floor: a Node.js proxy that does nothing but forward (undici Pool, no auth, no recording, no parsing) adds ` +
      `${metrics.latency.bareAddedP50Ms.toFixed(3)} ms p50 (${metrics.latency.bareAddedP99Ms.toFixed(3)} ms p99) at c=1 and reaches ` +
      `${metrics.throughput.bareRatio.toFixed(3)} × direct at c=${c} on this machine; the gateway's targets are judged against direct, ` +
      `the bare-proxy columns show how much of the gap any Node.js proxy pays.`,
  );
  if (background > 0.2) notes.push(`The machine was already busy with other work before the run (${background.toFixed(2)} cores); see "Other processes" in the CPU table.`);
  const stolen = Object.entries(cpu).reduce<[string, number]>((most, [phase, use]) => (use.stolenCores > most[1] ? [phase, use.stolenCores] : most), ["", 0]);
  if (stolen[1] >= 0.01) {
    notes.push(
      `The host took CPU time from this virtual machine (steal), up to ${stolen[1].toFixed(2)} cores in "${stolen[0]}": a request whose vCPU the host has descheduled waits for it, ` +
        `so steal lengthens tails and lowers throughput for direct, bare-proxy and gateway requests alike; see "Stolen by the host" in the CPU table.`,
    );
  }
  if (dropped > 0) {
    notes.push(
      `The gateway dropped ${dropped} follow-up records (overflow ${droppedByReason.overflow}): records lost include them. ` +
        `Dropped records are RPCs never sent, so RPCs per LLM request would be about ${((rpcs + dropped) / Math.max(1, ledgers.gateway.sent)).toFixed(2)} without the drops.`,
    );
  }
  if (lat.truncated || tt.truncated) notes.push("A sequential phase hit its time bound before taking every sample (see the n= counts).");
  if (!rec.settled || !final.settled) notes.push(`Records did not settle within ${config.drainTimeoutSeconds} s at least once; counts are as read at the bound.`);
  if (ledgers.gateway.okWithoutId > 0) notes.push(`${ledgers.gateway.okWithoutId} gateway 200 answers had no x-weir-interception-id header and could not be audited.`);
  const maxLoop = Math.max(streamsGateway.benchLoopDelayMaxMs, streamsDirect?.benchLoopDelayMaxMs ?? 0, streamsBare?.benchLoopDelayMaxMs ?? 0);
  if (maxLoop > config.streamDelayMs) {
    notes.push(`The load generator's own event loop stalled for up to ${maxLoop.toFixed(0)} ms during the stream phases; stream gaps include that.`);
  }
  if (config.cpuProf) notes.push("Profiled run (--cpu-prof): profiling slows the gateway and control plane; do not compare these numbers with unprofiled runs.");
  if (config.tiny) notes.push("Tiny (CI) configuration: the sizes are too small for the figures to mean anything; it only proves the benchmark runs.");

  const { outDir: _outDir, ...configOut } = config;
  const checks = evaluate(metrics);
  return {
    schema: "weir-bench/1",
    revision: revision(),
    machine: info,
    config: configOut,
    metrics,
    checks,
    pass: checks.every((k) => k.pass),
    notes,
    ...(profiles.length > 0 ? { profiles } : {}),
  };
}

async function main(): Promise<number> {
  let config: BenchConfig | "help";
  try {
    config = parseConfig(process.argv.slice(2), process.env, REPO);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (config === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  for (const f of [WEIR_DIST, EMULATOR]) {
    if (!existsSync(f)) {
      process.stderr.write(`missing ${f}: build first (npx tsc -b)\n`);
      return 2;
    }
  }

  const run = new Run();
  const emergency = (reason: string, code: number): void => {
    if (run.abort.signal.aborted) {
      run.procs.killAllSync();
      process.exit(code);
    }
    log(`${reason}: stopping everything`);
    run.abort.abort(new Error(reason));
    setTimeout(() => {
      run.procs.killAllSync();
      process.exit(code);
    }, 30_000).unref();
    void run.cleanup().finally(() => process.exit(code));
  };
  process.on("SIGINT", () => emergency("SIGINT", 130));
  process.on("SIGTERM", () => emergency("SIGTERM", 143));
  process.on("exit", () => run.procs.killAllSync());
  setTimeout(() => emergency(`the run exceeded --max-run-seconds ${config.maxRunSeconds}`, 3), config.maxRunSeconds * 1000).unref();

  let report: BenchReport;
  try {
    report = await measure(config, run);
  } catch (err) {
    if (run.abort.signal.aborted) {
      const reason: unknown = run.abort.signal.reason;
      log(`aborted: ${reason instanceof Error ? reason.message : String(reason)}`);
    } else {
      log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
    await run.cleanup();
    return 1;
  }
  await run.cleanup();

  mkdirSync(config.outDir, { recursive: true });
  const md = markdown(report);
  writeFileSync(join(config.outDir, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(config.outDir, "latest.md"), md);
  process.stdout.write(md);
  log(`wrote ${join(config.outDir, "latest.json")} and latest.md; targets ${report.pass ? "all met" : "NOT all met"}`);
  return 0;
}

const code = await main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
});
// Pools, timers or sockets left by a library must not keep a finished run alive.
process.exit(code);
