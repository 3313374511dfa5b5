// The one load generator: undici for sequential latency / time-to-first-byte samples and for
// the concurrent SSE streams, autocannon's programmatic API for throughput. Every loop is
// bounded by a count and by the phase deadline / the run's abort signal.
import { setMaxListeners } from "node:events";
import { monitorEventLoopDelay } from "node:perf_hooks";
import autocannon from "autocannon";
import { Pool } from "undici";
import { median, summarize, type Summary } from "./stats.js";

/**
 * Where requests go: the emulator directly, the gateway in front of it, or the bare proxy in
 * front of it (a Node.js proxy that only forwards: the floor any Node.js proxy pays).
 */
export type TargetName = "direct" | "gateway" | "bare";

export interface Target {
  readonly name: TargetName;
  /** http://127.0.0.1:<port> */
  readonly origin: string;
  /** e.g. /openai/v1/chat/completions */
  readonly path: string;
  /** Authorization and content type. */
  readonly headers: Readonly<Record<string, string>>;
}

export const INTERCEPTION_ID_HEADER = "x-weir-interception-id";

const MESSAGES = [
  { role: "system", content: "You are a concise assistant." },
  { role: "user", content: "Write one sentence about rivers and weirs." },
];
export const BLOCKING_BODY = JSON.stringify({ model: "gpt-4o-mini", messages: MESSAGES });
// include_usage is what the gateway would add anyway; sending it keeps both targets' upstream
// requests identical.
export const STREAMING_BODY = JSON.stringify({ model: "gpt-4o-mini", messages: MESSAGES, stream: true, stream_options: { include_usage: true } });

/**
 * What was sent through one target and what came back. For the gateway the interception id of
 * every 200 is kept: those are the interceptions that must be found, complete, in Postgres.
 */
export class Ledger {
  sent = 0;
  ok = 0;
  non200 = 0;
  errors = 0;
  okWithoutId = 0;
  readonly ids: Set<string> | undefined;

  constructor(readonly target: Target) {
    this.ids = target.name === "gateway" ? new Set() : undefined;
  }

  answered(status: number, id: string | string[] | undefined): void {
    if (status !== 200) {
      this.non200 += 1;
      return;
    }
    this.ok += 1;
    if (this.ids === undefined) return;
    const value = Array.isArray(id) ? id[0] : id;
    if (value === undefined || value === "") this.okWithoutId += 1;
    else this.ids.add(value);
  }
}

function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | string[] | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

function newPool(target: Target, connections: number): Pool {
  return new Pool(target.origin, {
    connections,
    pipelining: 1,
    keepAliveTimeout: 60_000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
    connectTimeout: 10_000,
  });
}

export class PhaseAbortedError extends Error {
  override readonly name = "PhaseAbortedError";
}

function checkAbort(signal: AbortSignal): void {
  if (signal.aborted) throw new PhaseAbortedError(`aborted: ${String(signal.reason)}`);
}

/** Fails the run early with the body of an unexpected answer (misconfiguration, not load). */
async function expect200(target: Target, status: number, body: () => Promise<string>): Promise<void> {
  if (status === 200) return;
  throw new Error(`${target.name} answered ${status} during warm-up: ${(await body()).slice(0, 500)}`);
}

// ---- sequential samples (concurrency 1) ----

export interface InterleavedSamples {
  /** Milliseconds, one per successful measured request. */
  readonly direct: number[];
  readonly gateway: number[];
  readonly bare: number[];
  /** The phase deadline passed before every sample was taken. */
  truncated: boolean;
}

export type Ledgers = Readonly<Record<TargetName, Ledger>>;

type Sampler = (pool: Pool, target: Target, ledger: Ledger, signal: AbortSignal) => Promise<number | undefined>;

/** One blocking chat completion; total time until the whole body is read. */
const blockingSample: Sampler = async (pool, target, ledger, signal) => {
  ledger.sent += 1;
  const t0 = process.hrtime.bigint();
  const res = await pool.request({ method: "POST", path: target.path, headers: target.headers, body: BLOCKING_BODY, signal });
  await res.body.arrayBuffer();
  const t1 = process.hrtime.bigint();
  ledger.answered(res.statusCode, res.headers[INTERCEPTION_ID_HEADER]);
  return res.statusCode === 200 ? Number(t1 - t0) / 1e6 : undefined;
};

/** One streaming chat completion; time until the first body byte (the rest is read, untimed). */
const firstByteSample: Sampler = async (pool, target, ledger, signal) => {
  ledger.sent += 1;
  const t0 = process.hrtime.bigint();
  const res = await pool.request({ method: "POST", path: target.path, headers: target.headers, body: STREAMING_BODY, signal });
  let t1: bigint | undefined;
  await new Promise<void>((resolve, reject) => {
    res.body.on("data", () => {
      t1 ??= process.hrtime.bigint();
    });
    res.body.once("end", resolve);
    res.body.once("error", reject);
  });
  ledger.answered(res.statusCode, res.headers[INTERCEPTION_ID_HEADER]);
  return res.statusCode === 200 && t1 !== undefined ? Number(t1 - t0) / 1e6 : undefined;
};

/** Every order of `items` (6 for three targets). */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((x, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [x, ...rest]));
}

/**
 * Warm-up, then `n` measured requests per target, interleaved request by request and cycling
 * through every order of the targets, so drift (CPU frequency, GC, noisy neighbours) and the
 * gateway's after-answer work (recording) hit every target alike, in every position. Non-200
 * answers are counted in the ledgers and not sampled.
 */
async function interleavedSamples(
  sampler: Sampler,
  targets: readonly Target[],
  ledgers: Ledgers,
  warmup: number,
  n: number,
  deadlineMs: number,
  signal: AbortSignal,
): Promise<InterleavedSamples> {
  const pools = new Map(targets.map((t) => [t.name, newPool(t, 1)] as const));
  const pool = (t: Target): Pool => pools.get(t.name)!;
  const orders = permutations(targets);
  const out: InterleavedSamples = { direct: [], gateway: [], bare: [], truncated: false };
  const deadline = Date.now() + deadlineMs;
  try {
    // The first request of each target must succeed: anything else is a setup error.
    for (const t of targets) {
      const res = await pool(t).request({ method: "POST", path: t.path, headers: t.headers, body: BLOCKING_BODY, signal });
      ledgers[t.name].sent += 1;
      const text = await res.body.text();
      ledgers[t.name].answered(res.statusCode, res.headers[INTERCEPTION_ID_HEADER]);
      await expect200(t, res.statusCode, async () => text);
    }
    for (let i = 0; i < warmup + n; i++) {
      checkAbort(signal);
      if (Date.now() > deadline) {
        out.truncated = true;
        break;
      }
      for (const t of orders[i % orders.length]!) {
        let ms: number | undefined;
        try {
          ms = await sampler(pool(t), t, ledgers[t.name], signal);
        } catch {
          checkAbort(signal);
          ledgers[t.name].errors += 1;
          continue;
        }
        if (i >= warmup && ms !== undefined) out[t.name].push(ms);
      }
    }
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
  }
  return out;
}

export const latencySamples = (targets: readonly Target[], ledgers: Ledgers, warmup: number, n: number, deadlineMs: number, signal: AbortSignal) =>
  interleavedSamples(blockingSample, targets, ledgers, warmup, n, deadlineMs, signal);

export const firstByteSamples = (targets: readonly Target[], ledgers: Ledgers, warmup: number, n: number, deadlineMs: number, signal: AbortSignal) =>
  interleavedSamples(firstByteSample, targets, ledgers, warmup, n, deadlineMs, signal);

// ---- throughput (autocannon, fixed duration) ----

export interface ThroughputResult {
  /** 2xx answers per second over the run's actual duration. */
  readonly rps: number;
  readonly seconds: number;
  readonly ok: number;
  readonly sent: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly benchLoopDelayP99Ms: number;
  readonly benchLoopDelayMaxMs: number;
}

/**
 * Several runs against one target as one figure: counts and seconds add up (so rps is over all
 * of them); latency and load-generator percentiles are the median of the runs', the max the max.
 */
export function combineRuns(runs: readonly ThroughputResult[]): ThroughputResult {
  const sum = (f: (r: ThroughputResult) => number): number => runs.reduce((a, r) => a + f(r), 0);
  const mid = (f: (r: ThroughputResult) => number): number => median(runs.map(f));
  const seconds = sum((r) => r.seconds);
  const ok = sum((r) => r.ok);
  return {
    rps: seconds > 0 ? ok / seconds : 0,
    seconds,
    ok,
    sent: sum((r) => r.sent),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    latencyP50Ms: mid((r) => r.latencyP50Ms),
    latencyP99Ms: mid((r) => r.latencyP99Ms),
    benchLoopDelayP99Ms: mid((r) => r.benchLoopDelayP99Ms),
    benchLoopDelayMaxMs: Math.max(0, ...runs.map((r) => r.benchLoopDelayMaxMs)),
  };
}

/** One autocannon run of `seconds` at `connections` against `target`; every answer goes to the ledger. */
export async function throughput(target: Target, ledger: Ledger, connections: number, seconds: number, signal: AbortSignal): Promise<ThroughputResult> {
  checkAbort(signal);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const instance = autocannon({
    url: target.origin,
    connections,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: "POST",
        path: target.path,
        headers: { ...target.headers },
        body: BLOCKING_BODY,
        onResponse: (status, _body, _context, headers) => ledger.answered(status, headerValue(headers, INTERCEPTION_ID_HEADER)),
      },
    ],
  });
  const onAbort = (): void => instance.stop();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const r = await instance;
    checkAbort(signal);
    ledger.sent += r.requests.sent;
    ledger.errors += r.errors;
    const ok = r["2xx"];
    return {
      rps: r.duration > 0 ? ok / r.duration : 0,
      seconds: r.duration,
      ok,
      sent: r.requests.sent,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      latencyP50Ms: r.latency.p50,
      latencyP99Ms: r.latency.p99,
      benchLoopDelayP99Ms: loop.percentile(99) / 1e6,
      benchLoopDelayMaxMs: loop.max / 1e6,
    };
  } finally {
    signal.removeEventListener("abort", onAbort);
    loop.disable();
  }
}

// ---- concurrent SSE streams ----

export interface StreamsResult {
  readonly streams: number;
  /** Streams that answered 200 and delivered every expected event. */
  readonly complete: number;
  readonly failed: number;
  /** Most streams open (headers received, body not ended) at one moment. */
  readonly maxConcurrent: number;
  /** Gaps between consecutive events of one stream, over all streams (ms). */
  readonly gaps: Summary;
  /**
   * The gaps that ended after every stream had received its first event: streaming alone,
   * without the start-up burst (authorizing and recording every new request at once).
   */
  readonly steadyGaps: Summary;
  /** Time from sending a request to its first event (ms). */
  readonly firstEvent: Summary;
  readonly wallSeconds: number;
  readonly benchLoopDelayP99Ms: number;
  readonly benchLoopDelayMaxMs: number;
}

/**
 * `n` streams of `events` text deltas `delayMs` apart, all started at once over `n`
 * connections. Each event's arrival is stamped when the chunk completing it arrives; the gaps
 * between consecutive events of a stream are what a user sees as stalls.
 */
export async function concurrentStreams(
  target: Target,
  ledger: Ledger,
  n: number,
  events: number,
  delayMs: number,
  deadlineMs: number,
  signal: AbortSignal,
): Promise<StreamsResult> {
  checkAbort(signal);
  // Frames of an OpenAI chat stream: role, the deltas, finish, usage, [DONE].
  const expectedFrames = events + 4;
  const pool = newPool(target, n);
  const abort = new AbortController();
  // Every stream listens on this one signal.
  setMaxListeners(n + 16, abort.signal);
  const onAbort = (): void => abort.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => abort.abort(new Error(`streams phase exceeded ${deadlineMs} ms`)), deadlineMs);
  const headers = { ...target.headers, "x-emulator-events": String(events), "x-emulator-event-delay-ms": String(delayMs) };
  const gaps: number[] = [];
  const gapEnds: number[] = [];
  const firstEvent: number[] = [];
  let lastFirstEventAt = 0;
  let open = 0;
  let maxConcurrent = 0;
  let complete = 0;
  let failed = 0;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const started = performance.now();

  const one = async (): Promise<void> => {
    ledger.sent += 1;
    const t0 = performance.now();
    let frames = 0;
    let counted = false;
    try {
      const res = await pool.request({ method: "POST", path: target.path, headers, body: STREAMING_BODY, signal: abort.signal });
      open += 1;
      counted = true;
      if (open > maxConcurrent) maxConcurrent = open;
      let last: number | undefined;
      let pendingNewline = false;
      await new Promise<void>((resolve, reject) => {
        res.body.on("data", (chunk: Buffer) => {
          const now = performance.now();
          // Count "\n\n" frame ends, including one split across two chunks.
          let ends = 0;
          if (pendingNewline && chunk[0] === 0x0a) ends += 1;
          for (let i = chunk.indexOf("\n\n"); i >= 0; i = chunk.indexOf("\n\n", i + 2)) ends += 1;
          pendingNewline = chunk[chunk.length - 1] === 0x0a && (chunk.length < 2 || chunk[chunk.length - 2] !== 0x0a);
          for (let e = 0; e < ends; e++) {
            if (last === undefined) {
              firstEvent.push(now - t0);
              if (now > lastFirstEventAt) lastFirstEventAt = now;
            } else {
              gaps.push(now - last);
              gapEnds.push(now);
            }
            last = now;
          }
          frames += ends;
        });
        res.body.once("end", resolve);
        res.body.once("error", reject);
      });
      ledger.answered(res.statusCode, res.headers[INTERCEPTION_ID_HEADER]);
      if (res.statusCode === 200 && frames >= expectedFrames) complete += 1;
      else failed += 1;
    } catch {
      ledger.errors += 1;
      failed += 1;
    } finally {
      if (counted) open -= 1;
    }
  };

  try {
    await Promise.all(Array.from({ length: n }, one));
    checkAbort(signal);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    loop.disable();
    await pool.destroy().catch(() => {});
  }
  return {
    streams: n,
    complete,
    failed,
    maxConcurrent,
    gaps: summarize(gaps),
    steadyGaps: summarize(gaps.filter((_, i) => (gapEnds[i] ?? 0) > lastFirstEventAt)),
    firstEvent: summarize(firstEvent),
    wallSeconds: (performance.now() - started) / 1000,
    benchLoopDelayP99Ms: loop.percentile(99) / 1e6,
    benchLoopDelayMaxMs: loop.max / 1e6,
  };
}
