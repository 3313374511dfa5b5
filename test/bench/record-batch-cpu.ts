// The control plane's CPU per recorded interception, alone: a control plane in this process (the
// real server, its interceptors and its binary RecordBatch path, on a fresh PostgreSQL database)
// and a sender in a child process that sends it RecordBatch calls as a gateway does — the
// gateway's own ControlPlaneClient and record encoders, 4 records per interception (start, prompt,
// token usage with the emulator's 6 usage extras, end). This process's CPU (process.cpuUsage) and
// its PostgreSQL backends' (/proc) are read around each round of batches.
//
// Builds compare in ONE run: each --root (a worktree, built: its packages' dist/ is imported)
// gets its own control plane, database and sender in this process, and the rounds alternate
// between them. This machine's speed drifts by up to 2 x within minutes, so separate runs of
// each build compare the moments they ran at more than the code.
//   DATABASE_URL=postgres://... npx tsx test/bench/record-batch-cpu.ts --root /tmp/a --root /tmp/b
// Flags (defaults): --rounds 5 --batches 40 --per-batch 125 --warmup 40 --in-flight 2; without
// --root, this worktree alone.
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

type ControlPlaneModule = typeof import("@weir/controlplane");
type TestingModule = typeof import("@weir/controlplane/testing");
type GatewayModule = typeof import("@weir/gateway");

const { values: args } = parseArgs({
  options: {
    root: { type: "string", multiple: true },
    rounds: { type: "string", default: "5" },
    batches: { type: "string", default: "40" },
    "per-batch": { type: "string", default: "125" },
    warmup: { type: "string", default: "40" },
    "in-flight": { type: "string", default: "2" },
    sender: { type: "boolean", default: false },
  },
});
/** The worktrees whose builds are compared; this one's by default. */
const roots = (args.root ?? [join(import.meta.dirname, "..", "..")]).map((r) => resolve(r));
const load = <T>(root: string, pkg: string, file: string): Promise<T> => import(pathToFileURL(join(root, "packages", pkg, "dist", file)).href) as Promise<T>;
const positive = (value: string | undefined): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${value}: every count must be a positive integer`);
  return n;
};

// ---- the sender (child process) ----

interface SendOrder {
  readonly batches: number;
  readonly perBatch: number;
  readonly inFlight: number;
}

interface SenderSetup {
  readonly url: string;
  readonly gatewayKey: string;
  readonly userId: string;
  readonly apiKeyId: string;
}

async function sender(): Promise<void> {
  const root = roots[0]!;
  const gateway = await load<GatewayModule>(root, "gateway", "index.js");
  const { uuidv7 } = await load<{ uuidv7: (ms: number) => string }>(root, "gateway", "uuid7.js");
  const pino = (await import("pino")).default;
  let setup: SenderSetup | undefined;
  let client: InstanceType<GatewayModule["ControlPlaneClient"]> | undefined;
  const signal = new AbortController().signal;

  /** The records of one blocking chat completion, as the gateway makes them. */
  const interception = (s: SenderSetup): ReturnType<GatewayModule["endedRecord"]>[] => {
    const at = Date.now();
    const id = uuidv7(at);
    return [
      gateway.interceptionRecord({
        id,
        initiatorId: s.userId,
        apiKeyId: s.apiKeyId,
        username: "bench-user",
        provider: "openai",
        model: "gpt-4o-mini",
        client: "Unknown",
        clientSessionId: undefined,
        userAgent: "undici",
        credentialKind: "centralized",
        credentialHint: "sk-...cdef",
        correlatingToolCallId: undefined,
        startedAtMs: at,
      }),
      gateway.promptRecord(id, "", "Write one sentence about rivers and weirs.", at),
      gateway.tokenUsageRecord(
        id,
        "chatcmpl-emulator-0123456789",
        {
          input: 20,
          output: 12,
          cacheRead: 0,
          cacheWrite: 0,
          extras: { prompt_audio: 0, prompt_cached: 0, completion_accepted_prediction: 0, completion_rejected_prediction: 0, completion_audio: 0, completion_reasoning: 0 },
        },
        at,
      ),
      gateway.endedRecord(id, "sk-...cdef", at, undefined),
    ];
  };

  const send = async (order: SendOrder): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < order.batches) {
        next++;
        const records = [];
        for (let i = 0; i < order.perBatch; i++) records.push(...interception(setup!));
        const rejected = await client!.sendRecords(records, signal);
        if (rejected.size > 0) throw new Error(`records rejected: ${[...rejected.values()][0]}`);
      }
    };
    await Promise.all(Array.from({ length: order.inFlight }, worker));
  };

  process.on("message", (message: { setup?: SenderSetup; order?: SendOrder }) => {
    void (async () => {
      if (message.setup) {
        setup = message.setup;
        client = new gateway.ControlPlaneClient({ baseUrl: setup.url, gatewayKey: setup.gatewayKey, apiVersion: "1.1", rpcTimeoutMs: 30_000, logger: pino({ level: "silent" }), authCache: false });
        // The capability check (an empty RecordBatch) that a gateway makes at start-up.
        await client.start();
        process.send!({ ready: true });
      } else if (message.order) {
        await send(message.order);
        process.send!({ done: true });
      }
    })().catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
  });
}

// ---- the control plane and the measurement (this process) ----

/** utime + stime of `pid` in clock ticks (10 ms), 0 when it is gone. */
function processTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat; here counted from field 3 (state).
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

const TICK_US = 10_000;

/** One build under test: its control plane, database and sender. */
interface Subject {
  readonly root: string;
  readonly db: Awaited<ReturnType<TestingModule["createTestDatabase"]>>;
  readonly cp: ReturnType<ControlPlaneModule["createControlPlane"]>;
  readonly sender: ChildProcess;
  ask(message: { setup?: SenderSetup; order?: SendOrder }): Promise<unknown>;
  readonly cpUs: number[];
  readonly pgUs: number[];
}

async function startSubject(root: string): Promise<Subject> {
  const cpModule = await load<ControlPlaneModule>(root, "controlplane", "index.js");
  const testing = await load<TestingModule>(root, "controlplane", "testing/index.js");
  const pino = (await import("pino")).default;
  const db = await testing.createTestDatabase();
  const cp = cpModule.createControlPlane({ databaseUrl: db.url, listen: { host: "127.0.0.1", port: 0 }, logger: pino({ level: "warn" }), recordRetentionMs: 0 });
  await cp.start();
  const user = await testing.insertUser(db.db);
  const apiKey = await testing.insertApiKey(db.db, user.id);
  const gatewayKey = await testing.insertGatewayKey(db.db);
  const sender = fork(import.meta.filename, ["--sender", "--root", root], { execArgv: process.execArgv, stdio: "inherit" });
  const replies: ((m: unknown) => void)[] = [];
  sender.on("message", (m) => replies.shift()?.(m));
  sender.once("exit", (code) => {
    console.error(`sender of ${root} exited with ${code}`);
    process.exit(1);
  });
  const ask = (message: object): Promise<unknown> =>
    new Promise((resolve) => {
      replies.push(resolve);
      sender.send(message);
    });
  await ask({ setup: { url: cp.url, gatewayKey: gatewayKey.key, userId: user.id, apiKeyId: apiKey.id } satisfies SenderSetup });
  return { root, db, cp, sender, ask, cpUs: [], pgUs: [] };
}

async function stopSubject(s: Subject): Promise<void> {
  s.sender.removeAllListeners("exit");
  s.sender.kill();
  await s.cp.shutdown();
  await s.db.drop();
}

/** The PostgreSQL backends serving the subject's database. */
async function backends(s: Subject): Promise<number[]> {
  const { sql } = await import("kysely");
  const result = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = ${s.db.name} AND pid <> pg_backend_pid()`.execute(s.db.db);
  return result.rows.map((r) => r.pid);
}

/** One measured round of `order` on `s`: CPU µs per interception of this process and of PostgreSQL. */
async function measure(s: Subject, order: SendOrder): Promise<string> {
  const pids = await backends(s);
  const pgBefore = new Map(pids.map((pid) => [pid, processTicks(pid)]));
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  await s.ask({ order });
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = performance.now() - wallBefore;
  let pgTicks = 0;
  for (const pid of new Set([...pids, ...(await backends(s))])) pgTicks += processTicks(pid) - (pgBefore.get(pid) ?? 0);
  const interceptions = order.batches * order.perBatch;
  const cpUs = (cpu.user + cpu.system) / interceptions;
  const pgUs = (pgTicks * TICK_US) / interceptions;
  s.cpUs.push(cpUs);
  s.pgUs.push(pgUs);
  return `control plane ${cpUs.toFixed(1)} (user ${(cpu.user / interceptions).toFixed(1)}, system ${(cpu.system / interceptions).toFixed(1)}), PostgreSQL ${pgUs.toFixed(0)}, ${((interceptions / wallMs) * 1000).toFixed(0)}/s`;
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const rounds = positive(args.rounds);
  const order: SendOrder = { batches: positive(args.batches), perBatch: positive(args["per-batch"]), inFlight: positive(args["in-flight"]) };
  const warmup = positive(args.warmup);
  const subjects: Subject[] = [];
  try {
    for (const root of roots) subjects.push(await startSubject(root));
    for (const s of subjects) await s.ask({ order: { ...order, batches: warmup } });
    console.log(`${rounds} rounds of ${order.batches} batches of ${order.perBatch} interceptions (${4 * order.perBatch} records), ${order.inFlight} in flight; CPU µs per interception`);
    for (let round = 1; round <= rounds; round++) {
      // The builds take turns, the first one rotating, so the machine's drift weighs on each alike.
      for (let i = 0; i < subjects.length; i++) {
        const s = subjects[(i + round - 1) % subjects.length]!;
        console.log(`round ${round} ${s.root}: ${await measure(s, order)}`);
      }
    }
    for (const s of subjects) {
      console.log(`median ${s.root}: control plane ${median(s.cpUs).toFixed(1)} µs, PostgreSQL ${median(s.pgUs).toFixed(1)} µs per interception (control plane, every round: ${s.cpUs.map((x) => x.toFixed(1)).join(" ")})`);
    }
  } finally {
    for (const s of subjects) await stopSubject(s);
  }
}

if (args.sender) await sender();
else await main();
