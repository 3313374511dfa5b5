// Benchmark sizes: defaults (the full run, a few minutes on 2 cores), the `--tiny` preset (CI,
// seconds), then WEIR_BENCH_* variables, then flags — later wins.
import { isAbsolute, join, resolve } from "node:path";
import { parseArgs } from "node:util";

export interface BenchConfig {
  readonly tiny: boolean;
  /** Sequential blocking chat completions per target after warm-up (concurrency 1). */
  readonly latencyRequests: number;
  readonly latencyWarmup: number;
  /** Sequential streaming chat completions per target (time to first body byte). */
  readonly ttfbRequests: number;
  readonly ttfbWarmup: number;
  /** Process-hop floor: 64-byte TCP round trips per path (direct to an echo process, and through a relay). */
  readonly hopRoundTrips: number;
  /** Throughput phase: autocannon connections, and seconds per target in each round. */
  readonly connections: number;
  readonly throughputSeconds: number;
  /**
   * Throughput rounds; each runs every target once, in a rotated order, so drift of a shared
   * machine during the run weighs on all targets alike. Ratios are the median over rounds.
   */
  readonly throughputRounds: number;
  /** Untimed autocannon run per target before the measured one; 0 skips it. */
  readonly throughputWarmupSeconds: number;
  /** Concurrent SSE streams through the gateway, events per stream, delay between events. */
  readonly streams: number;
  readonly streamEvents: number;
  readonly streamDelayMs: number;
  /** Also run the same streams directly against the emulator (the harness's own gap floor). */
  readonly streamBaseline: boolean;
  /** Upper bound for waiting on records to reach Postgres after a phase. */
  readonly drainTimeoutSeconds: number;
  /** Directory for latest.json / latest.md (and CPU profiles). */
  readonly outDir: string;
  /** Run gateway and control plane with --cpu-prof and summarise the profiles. */
  readonly cpuProf: boolean;
  /** Whole-run watchdog; the run is aborted (and everything stopped) after this long. */
  readonly maxRunSeconds: number;
  /**
   * Before each measured phase, wait up to this long for processes outside the benchmark to
   * use under 0.25 cores (a shared machine); 0 disables the wait.
   */
  readonly quietWaitSeconds: number;
  /** Extra arguments for `weir gateway` (e.g. --record-queue-size=N). */
  readonly gatewayArgs: readonly string[];
}

const DEFAULTS = {
  latencyRequests: 3000,
  // Long enough for V8 to have optimised the proxies' hot paths: with 300, the c=1 phase (the
  // first after start-up) still measured compilation — added p50 0.65–0.86 ms against 0.43–0.49
  // with 3,000, the bare proxy's 0.50–0.53 against 0.24 (2-core VM, three runs of each).
  latencyWarmup: 3000,
  ttfbRequests: 2000,
  ttfbWarmup: 2000,
  hopRoundTrips: 20000,
  connections: 64,
  throughputSeconds: 5,
  throughputRounds: 3,
  throughputWarmupSeconds: 3,
  streams: 1000,
  streamEvents: 20,
  streamDelayMs: 50,
  streamBaseline: true,
  drainTimeoutSeconds: 120,
  maxRunSeconds: 900,
  quietWaitSeconds: 10,
} as const;

const TINY: Partial<Record<keyof typeof DEFAULTS, number | boolean>> = {
  latencyRequests: 50,
  latencyWarmup: 10,
  ttfbRequests: 20,
  ttfbWarmup: 5,
  hopRoundTrips: 200,
  connections: 8,
  throughputSeconds: 1,
  throughputRounds: 1,
  throughputWarmupSeconds: 0,
  streams: 20,
  streamEvents: 5,
  streamDelayMs: 50,
  drainTimeoutSeconds: 60,
  maxRunSeconds: 300,
  quietWaitSeconds: 0,
};

/** Flag name, environment variable and config key of each numeric size. */
const NUMERIC: readonly (readonly [flag: string, env: string, key: Exclude<keyof typeof DEFAULTS, "streamBaseline">])[] = [
  ["latency-requests", "WEIR_BENCH_LATENCY_REQUESTS", "latencyRequests"],
  ["latency-warmup", "WEIR_BENCH_LATENCY_WARMUP", "latencyWarmup"],
  ["ttfb-requests", "WEIR_BENCH_TTFB_REQUESTS", "ttfbRequests"],
  ["ttfb-warmup", "WEIR_BENCH_TTFB_WARMUP", "ttfbWarmup"],
  ["hop-round-trips", "WEIR_BENCH_HOP_ROUND_TRIPS", "hopRoundTrips"],
  ["connections", "WEIR_BENCH_CONNECTIONS", "connections"],
  ["throughput-seconds", "WEIR_BENCH_THROUGHPUT_SECONDS", "throughputSeconds"],
  ["throughput-rounds", "WEIR_BENCH_THROUGHPUT_ROUNDS", "throughputRounds"],
  ["throughput-warmup-seconds", "WEIR_BENCH_THROUGHPUT_WARMUP_SECONDS", "throughputWarmupSeconds"],
  ["streams", "WEIR_BENCH_STREAMS", "streams"],
  ["stream-events", "WEIR_BENCH_STREAM_EVENTS", "streamEvents"],
  ["stream-delay-ms", "WEIR_BENCH_STREAM_DELAY_MS", "streamDelayMs"],
  ["drain-timeout-seconds", "WEIR_BENCH_DRAIN_TIMEOUT_SECONDS", "drainTimeoutSeconds"],
  ["max-run-seconds", "WEIR_BENCH_MAX_RUN_SECONDS", "maxRunSeconds"],
  ["quiet-wait-seconds", "WEIR_BENCH_QUIET_WAIT_SECONDS", "quietWaitSeconds"],
];

/** Lower and upper bounds, so a typo cannot start an unbounded run. */
const LIMITS: Record<(typeof NUMERIC)[number][2], readonly [number, number]> = {
  latencyRequests: [1, 1_000_000],
  latencyWarmup: [0, 100_000],
  ttfbRequests: [1, 1_000_000],
  ttfbWarmup: [0, 100_000],
  hopRoundTrips: [1, 1_000_000],
  connections: [1, 10_000],
  throughputSeconds: [1, 3600],
  throughputRounds: [1, 100],
  throughputWarmupSeconds: [0, 600],
  streams: [1, 10_000],
  streamEvents: [1, 10_000],
  streamDelayMs: [1, 60_000],
  drainTimeoutSeconds: [1, 3600],
  maxRunSeconds: [10, 24 * 3600],
  quietWaitSeconds: [0, 600],
};

export const USAGE = `Usage: npm run bench -- [options]   (or: tsx test/bench/bench.ts [options])

Starts the LLM emulator, a control plane on a fresh Postgres database, one gateway and a bare
proxy (a Node.js proxy that only forwards: the floor) as separate processes, measures
direct-to-emulator vs through-the-gateway (and through the bare proxy in every phase), and writes latest.json/latest.md.

Options (numeric ones also as WEIR_BENCH_<NAME>, e.g. WEIR_BENCH_STREAMS=200; and WEIR_BENCH_TINY=1,
WEIR_BENCH_OUT_DIR, WEIR_BENCH_CPU_PROF=1, WEIR_BENCH_STREAM_BASELINE=0; flags win over variables):
  --tiny                          CI preset: a few seconds in total
  --latency-requests N            sequential blocking requests per target  (default ${DEFAULTS.latencyRequests})
  --latency-warmup N              unrecorded warm-up requests per target   (default ${DEFAULTS.latencyWarmup})
  --ttfb-requests N               sequential streaming requests per target (default ${DEFAULTS.ttfbRequests})
  --ttfb-warmup N                                                           (default ${DEFAULTS.ttfbWarmup})
  --hop-round-trips N             process-hop floor: 64-byte TCP round trips per path, direct to an
                                  echo process and through a byte-copying relay (default ${DEFAULTS.hopRoundTrips})
  --connections N                 autocannon connections                   (default ${DEFAULTS.connections})
  --throughput-seconds S          measured autocannon run per target and round (default ${DEFAULTS.throughputSeconds})
  --throughput-rounds N           rounds of direct / bare proxy / gateway, order rotated each round;
                                  ratios are the median over rounds      (default ${DEFAULTS.throughputRounds})
  --throughput-warmup-seconds S   untimed autocannon run per target first  (default ${DEFAULTS.throughputWarmupSeconds})
  --streams N                     concurrent SSE streams                   (default ${DEFAULTS.streams})
  --stream-events N               text deltas per stream                   (default ${DEFAULTS.streamEvents})
  --stream-delay-ms MS            delay between events                     (default ${DEFAULTS.streamDelayMs})
  --no-stream-baseline            skip the direct and bare-proxy stream runs
  --drain-timeout-seconds S       bound on waiting for records to settle   (default ${DEFAULTS.drainTimeoutSeconds})
  --max-run-seconds S             watchdog for the whole run               (default ${DEFAULTS.maxRunSeconds})
  --quiet-wait-seconds S          before each measured phase, wait up to S for other processes
                                  on the machine to use < 0.25 cores; 0 = no wait (default ${DEFAULTS.quietWaitSeconds})
  --out-dir DIR                   where latest.json / latest.md go         (default test/bench/results)
  --cpu-prof                      profile gateway, control plane, emulator and bare proxy (node --cpu-prof) and summarise
  --gateway-arg ARG               extra argument for \`weir gateway\` (repeatable; use --gateway-arg=--flag=value)
  -h, --help

Postgres: DATABASE_URL's server if set, else an embedded one; the run uses a fresh database on it.
The report names the code measured: the git commit, or WEIR_BENCH_REVISION when set.`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

function parseNumber(source: string, raw: string, [min, max]: readonly [number, number]): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < min || n > max) throw new UsageError(`${source}: expected a number in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return n;
}

function envFlag(raw: string | undefined): boolean | undefined {
  if (raw === undefined || raw === "") return undefined;
  return !/^(0|false|no|off)$/i.test(raw);
}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv, repoRoot: string): BenchConfig | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        tiny: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        "no-stream-baseline": { type: "boolean" },
        "out-dir": { type: "string" },
        "cpu-prof": { type: "boolean" },
        "gateway-arg": { type: "string", multiple: true },
        ...Object.fromEntries(NUMERIC.map(([flag]) => [flag, { type: "string" as const }])),
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (v.help) return "help";
  const tiny = Boolean(v.tiny) || envFlag(env.WEIR_BENCH_TINY) === true;
  const sizes: Record<string, number | boolean> = { ...DEFAULTS, ...(tiny ? TINY : {}) };
  for (const [flag, envName, key] of NUMERIC) {
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== "") sizes[key] = parseNumber(envName, fromEnv, LIMITS[key]);
    const fromFlag = v[flag];
    if (typeof fromFlag === "string") sizes[key] = parseNumber(`--${flag}`, fromFlag, LIMITS[key]);
  }
  for (const key of ["latencyRequests", "latencyWarmup", "ttfbRequests", "ttfbWarmup", "hopRoundTrips", "connections", "throughputRounds", "streams", "streamEvents"] as const) {
    sizes[key] = Math.round(sizes[key] as number);
  }
  const baselineEnv = envFlag(env.WEIR_BENCH_STREAM_BASELINE);
  const streamBaseline = v["no-stream-baseline"] ? false : (baselineEnv ?? DEFAULTS.streamBaseline);
  const outRaw = (v["out-dir"] as string | undefined) ?? env.WEIR_BENCH_OUT_DIR ?? join(repoRoot, "test", "bench", "results");
  const cpuProf = Boolean(v["cpu-prof"]) || envFlag(env.WEIR_BENCH_CPU_PROF) === true;
  return Object.freeze({
    tiny,
    latencyRequests: sizes.latencyRequests as number,
    latencyWarmup: sizes.latencyWarmup as number,
    ttfbRequests: sizes.ttfbRequests as number,
    ttfbWarmup: sizes.ttfbWarmup as number,
    hopRoundTrips: sizes.hopRoundTrips as number,
    connections: sizes.connections as number,
    throughputSeconds: sizes.throughputSeconds as number,
    throughputRounds: sizes.throughputRounds as number,
    throughputWarmupSeconds: sizes.throughputWarmupSeconds as number,
    streams: sizes.streams as number,
    streamEvents: sizes.streamEvents as number,
    streamDelayMs: sizes.streamDelayMs as number,
    streamBaseline,
    drainTimeoutSeconds: sizes.drainTimeoutSeconds as number,
    outDir: isAbsolute(outRaw) ? outRaw : resolve(process.cwd(), outRaw),
    cpuProf,
    maxRunSeconds: sizes.maxRunSeconds as number,
    quietWaitSeconds: sizes.quietWaitSeconds as number,
    gatewayArgs: Object.freeze([...((v["gateway-arg"] as string[] | undefined) ?? [])]),
  });
}
