// Child processes of the benchmark (emulator, control plane, gateway), started as operators
// start them, and the /proc readings taken from them: CPU time per phase and peak RSS.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { freeLoopbackPort } from "@weir/controlplane";

const OUTPUT_LIMIT = 64 * 1024;

export interface Daemon {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** The last 64 KiB of stdout + stderr. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
}

/** Every child the benchmark started, so they can all be stopped on any exit path. */
export class ProcessSet {
  private readonly daemons: Daemon[] = [];

  spawnNode(name: string, nodeArgs: readonly string[], env: NodeJS.ProcessEnv): Daemon {
    const child = spawn(process.execPath, [...nodeArgs], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const append = (c: Buffer): void => {
      out += c.toString("utf8");
      if (out.length > 2 * OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
    };
    child.stdout!.on("data", append);
    child.stderr!.on("data", append);
    let exitedFlag = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => {
        exitedFlag = true;
        resolve({ code, signal });
      }),
    );
    // A spawn failure (ENOENT, EMFILE) is reported as an exit.
    child.once("error", (err) => append(Buffer.from(`\n[spawn error] ${err.message}\n`)));
    if (child.pid === undefined) throw new Error(`${name}: could not spawn ${process.execPath}`);
    const daemon: Daemon = {
      name,
      child,
      pid: child.pid,
      output: () => out.slice(-OUTPUT_LIMIT),
      exited,
      running: () => !exitedFlag && child.exitCode === null && child.signalCode === null,
    };
    this.daemons.push(daemon);
    return daemon;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone (bounded). */
  async stop(daemon: Daemon, graceMs: number): Promise<void> {
    if (!daemon.running()) return;
    daemon.child.kill("SIGTERM");
    if (await settlesWithin(daemon.exited, graceMs)) return;
    daemon.child.kill("SIGKILL");
    await settlesWithin(daemon.exited, 5_000);
  }

  /** Stops every running child, newest first (gateway before its control plane). */
  async stopAll(graceMs: number): Promise<void> {
    for (const d of [...this.daemons].reverse()) await this.stop(d, graceMs);
  }

  /** Last resort on process exit: synchronous SIGKILL of anything still running. */
  killAllSync(): void {
    for (const d of this.daemons) if (d.running()) d.child.kill("SIGKILL");
  }
}

async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for `pattern` in the daemon's output; fails early when it exits. */
export async function waitForOutput(daemon: Daemon, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = daemon.output().match(pattern);
    if (m) return m;
    if (!daemon.running()) throw new Error(`${daemon.name} exited before it was ready:\n${daemon.output()}`);
    if (Date.now() > deadline) throw new Error(`${daemon.name} not ready after ${timeoutMs} ms:\n${daemon.output()}`);
    await sleep(25);
  }
}

/** Polls `url` until it answers 200; fails early when the daemon exits. */
export async function waitForHttpOk(daemon: Daemon, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!daemon.running()) throw new DaemonExitedError(daemon);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${daemon.name} not ready at ${url} after ${timeoutMs} ms:\n${daemon.output()}`);
    await sleep(50);
  }
}

export class DaemonExitedError extends Error {
  override readonly name = "DaemonExitedError";
  constructor(readonly daemon: Daemon) {
    super(`${daemon.name} exited before it was ready:\n${daemon.output()}`);
  }
}

/**
 * Starts a daemon on a free loopback port and waits for its readiness URL. The port is probed
 * then released, so another process can take it in between: that attempt (EADDRINUSE) is
 * retried on a new port, at most three times.
 */
export async function startOnFreePort(
  set: ProcessSet,
  name: string,
  start: (port: number) => { nodeArgs: string[]; env: NodeJS.ProcessEnv; readyPath: string },
  timeoutMs: number,
): Promise<{ daemon: Daemon; url: string }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freeLoopbackPort();
    const { nodeArgs, env, readyPath } = start(port);
    const daemon = set.spawnNode(name, nodeArgs, env);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitForHttpOk(daemon, `${url}${readyPath}`, timeoutMs);
      return { daemon, url };
    } catch (err) {
      await set.stop(daemon, 2_000);
      if (attempt < 3 && /EADDRINUSE/.test(daemon.output())) continue;
      throw err;
    }
  }
}

// ---- /proc readings ----

/** Linux USER_HZ: clock ticks per second in /proc/<pid>/stat (100 on every mainstream build). */
const CLOCK_TICKS = 100;

/** User + system CPU seconds of one process, or undefined when it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after the command name (which may contain spaces and parentheses).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / CLOCK_TICKS : undefined;
}

/** PIDs of every local process named `postgres` (the server and its backends). */
export function postgresPids(): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return pids;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/comm`, "utf8").trim() === "postgres") pids.push(Number(e));
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * Jiffies of the whole machine (/proc/stat "cpu" line): busy, stolen and in all. Steal is time a
 * virtual machine's vCPUs were ready to run while the host ran something else; it is neither
 * busy nor idle. Guest time is already counted in user time, so it is not added again.
 */
export function machineCpuTicks(line?: string): MachineTicks {
  try {
    const text = line ?? readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    const n = text.trim().split(/\s+/).slice(1, 9).map((v) => (Number.isFinite(Number(v)) ? Number(v) : 0));
    const total = n.reduce((a, b) => a + b, 0);
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    const steal = n[7] ?? 0;
    return { busy: total - idle - steal, steal, total };
  } catch {
    return { busy: 0, steal: 0, total: 0 };
  }
}

export interface MachineTicks {
  readonly busy: number;
  readonly steal: number;
  readonly total: number;
}

/** VmHWM (peak resident set) and VmRSS of a process in MiB, from /proc/<pid>/status. */
export function memoryMiB(pid: number): { peakRss: number; rss: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1] ?? NaN) / 1024;
  const peakRss = kb("VmHWM");
  const rss = kb("VmRSS");
  return Number.isFinite(peakRss) && Number.isFinite(rss) ? { peakRss, rss } : undefined;
}

/** CPU seconds of each participant at one instant. */
export interface CpuSnapshot {
  readonly atMs: number;
  readonly seconds: Record<string, number>;
  readonly machine: MachineTicks;
}

export type CpuParticipants = Record<string, number>;

export function cpuSnapshot(daemons: CpuParticipants): CpuSnapshot {
  const seconds: Record<string, number> = {};
  for (const [name, pid] of Object.entries(daemons)) seconds[name] = processCpuSeconds(pid) ?? 0;
  let pg = 0;
  for (const pid of postgresPids()) pg += processCpuSeconds(pid) ?? 0;
  seconds.postgres = pg;
  const own = process.cpuUsage();
  seconds.bench = (own.user + own.system) / 1e6;
  return { atMs: performance.now(), seconds, machine: machineCpuTicks() };
}

/** Cores used by each participant between two snapshots (CPU seconds / wall seconds); `other` is the rest of the machine. */
export interface CpuUse {
  readonly wallSeconds: number;
  readonly cores: Record<string, number>;
  /** Fraction of all of the machine's cores that were busy (anything, including other processes). */
  readonly machineBusy: number;
  /** Cores' worth of time the host took from this virtual machine (steal): no process here ran then. */
  readonly stolenCores: number;
}

export function cpuUse(a: CpuSnapshot, b: CpuSnapshot): CpuUse {
  const wall = Math.max(1e-6, (b.atMs - a.atMs) / 1000);
  const cores: Record<string, number> = {};
  for (const name of Object.keys(b.seconds)) {
    cores[name] = Math.round((Math.max(0, (b.seconds[name] ?? 0) - (a.seconds[name] ?? 0)) / wall) * 100) / 100;
  }
  const dt = b.machine.total - a.machine.total;
  const machineBusy = dt > 0 ? Math.round(((b.machine.busy - a.machine.busy) / dt) * 1000) / 1000 : 0;
  // Whatever else kept the machine busy: processes outside the benchmark, and the kernel.
  const ours = Object.values(cores).reduce((x, y) => x + y, 0);
  cores.other = Math.round(Math.max(0, machineBusy * availableParallelism() - ours) * 100) / 100;
  const stolenCores = dt > 0 ? Math.round(((b.machine.steal - a.machine.steal) / dt) * availableParallelism() * 100) / 100 : 0;
  return { wallSeconds: Math.round(wall * 100) / 100, cores, machineBusy, stolenCores };
}

/** Cores the machine spends on anything at all over `ms` (sampled before the run starts). */
export async function backgroundLoadCores(ms: number): Promise<number> {
  const a = machineCpuTicks();
  await sleep(ms);
  const b = machineCpuTicks();
  const dt = b.total - a.total;
  return dt > 0 ? Math.round(((b.busy - a.busy) / dt) * availableParallelism() * 100) / 100 : 0;
}
