// The end-to-end stack, started as an operator would: a control plane on real Postgres, gateway
// replicas as SEPARATE processes (`weir gateway`) sharing one gateway key, and the LLM emulator
// as their upstream. Tests talk to it with the official SDK clients and read back what was
// recorded through the admin API.
import { spawn, type ChildProcess } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import pino from "pino";
import { bootstrapOwner, createControlPlane, freeLoopbackPort, type ControlPlane } from "@weir/controlplane";
import { createTestDatabase, type TestDatabase } from "@weir/controlplane/testing";
import { createLlmEmulator, type LlmEmulator } from "@weir/llm-emulator";

export const REPO = join(import.meta.dirname, "..", "..");
export const WEIR = join(REPO, "packages", "cli", "bin", "weir.js");

export const freePort = freeLoopbackPort;

/** Polls `check` until it returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A `weir` process with its output captured. */
export interface WeirProcess {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function runWeir(args: string[], env: NodeJS.ProcessEnv = {}, options: { ownProcessGroup?: boolean } = {}): WeirProcess {
  // ownProcessGroup: as a shell starts a foreground job, so that a "Ctrl-C" can signal the whole
  // group (process.kill(-pid)), children included.
  const child = spawn(process.execPath, [WEIR, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: options.ownProcessGroup ?? false });
  let out = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString("utf8")));
  child.stderr!.on("data", (c: Buffer) => (out += c.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return { child, output: () => out, exited };
}

/** The parsed JSON log lines of `proc` with this message. */
export function logLines(proc: WeirProcess, msg: string): any[] {
  return proc
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l));
}

/** Sends `proc` SIGHUP and waits for its `n`th log line with `msg`. */
export async function reloadAndWait(proc: WeirProcess, msg: string, n: number): Promise<any> {
  proc.child.kill("SIGHUP");
  return eventually(`log line ${n} "${msg}"`, async () => logLines(proc, msg)[n - 1], 10_000);
}

/** The `url` of `proc`'s first log line with `msg` ("gateway listening"); fails if it exits first. */
export async function listeningUrl(proc: WeirProcess, msg: string): Promise<string> {
  return eventually(`"${msg}"`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`exited with ${proc.child.exitCode}: ${proc.output()}`);
    return logLines(proc, msg)[0]?.url as string | undefined;
  }, 30_000);
}

export interface Replica {
  readonly url: string;
  readonly process: WeirProcess;
}

export interface AdminApi {
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

export interface Stack {
  readonly database: TestDatabase;
  readonly controlPlane: ControlPlane;
  readonly emulator: LlmEmulator;
  readonly replicas: Replica[];
  readonly admin: AdminApi;
  /** The bootstrapped owner's API key. SECURITY: test-only. */
  readonly ownerToken: string;
  readonly user: { id: string; apiKey: string };
  readonly gatewayKey: { id: string; key: string };
  /** Another replica, with more flags and variables than the stack's. */
  startReplica(extraArgs?: string[], extraEnv?: NodeJS.ProcessEnv): Promise<Replica>;
  stop(): Promise<void>;
}

export interface StackOptions {
  readonly replicas?: number;
  readonly gatewayArgs?: string[];
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const database = await createTestDatabase();
  const logger = pino({ level: "silent" });
  const controlPlane = createControlPlane({ listen: { host: "127.0.0.1", port: 0 }, databaseUrl: database.url, logger });
  await controlPlane.start();
  const emulator = createLlmEmulator();
  await emulator.start();

  const owner = await bootstrapOwner(database.db, { username: "owner" });
  const admin: AdminApi = {
    async request(method, path, body) {
      const res = await fetch(`${controlPlane.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${owner.key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  };
  const must = async (method: string, path: string, body?: unknown) => {
    const res = await admin.request(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const user = await must("POST", "/api/v2/users", { username: "alice", role: "member" });
  const apiKey = await must("POST", `/api/v2/users/${user.id}/keys`, { name: "e2e" });
  const gatewayKey = await must("POST", "/api/v2/ai-gateway/keys", { name: "e2e-replicas" });

  const replicas: Replica[] = [];
  const startReplica = async (extraArgs: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<Replica> => {
    const port = await freePort();
    const proc = runWeir(
      ["gateway", "--listen", `127.0.0.1:${port}`, "--log-level", "warn", ...(options.gatewayArgs ?? []), ...extraArgs],
      {
        WEIR_CONTROL_PLANE_URL: extraEnv.WEIR_CONTROL_PLANE_URL ?? controlPlane.url,
        WEIR_GATEWAY_KEY: gatewayKey.key,
        WEIR_OPENAI_BASE_URL: emulator.openaiBaseUrl,
        WEIR_OPENAI_API_KEY: "sk-central-openai",
        WEIR_ANTHROPIC_BASE_URL: emulator.anthropicBaseUrl,
        WEIR_ANTHROPIC_API_KEY: "sk-ant-central",
        ...extraEnv,
      },
    );
    const replica = { url: `http://127.0.0.1:${port}`, process: proc };
    replicas.push(replica);
    await eventually(`gateway replica on port ${port} to be ready (output: ${proc.output()})`, async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited with ${proc.child.exitCode}: ${proc.output()}`);
      const res = await fetch(`${replica.url}/readyz`);
      return res.ok ? true : undefined;
    }, 30_000);
    return replica;
  };
  for (let i = 0; i < (options.replicas ?? 2); i++) await startReplica();

  return {
    database,
    controlPlane,
    emulator,
    replicas,
    admin,
    ownerToken: owner.key,
    user: { id: user.id, apiKey: apiKey.key },
    gatewayKey: { id: gatewayKey.id, key: gatewayKey.key },
    startReplica,
    async stop() {
      for (const r of replicas) if (r.process.child.exitCode === null) r.process.child.kill("SIGTERM");
      await Promise.all(replicas.map((r) => r.process.exited));
      await emulator.shutdown();
      await controlPlane.shutdown();
      await database.drop();
    },
  };
}

/** The interception(s) recorded for this user, newest first, once `ready` accepts them. */
export async function recorded(stack: Stack, ready: (interceptions: any[]) => boolean, query = ""): Promise<any[]> {
  return eventually("recorded interceptions", async () => {
    const res = await stack.admin.request("GET", `/api/v2/ai-gateway/interceptions?initiator=${stack.user.id}${query}`);
    if (res.status !== 200) throw new Error(`read API: ${res.status} ${JSON.stringify(res.body)}`);
    const list = res.body.interceptions as any[];
    return ready(list) ? list : undefined;
  });
}

/** The status of a small chat completion through the gateway at `gatewayUrl`, with `key`. */
export async function chatStatus(gatewayUrl: string, key: string): Promise<number> {
  const res = await fetch(`${gatewayUrl}/openai/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
  });
  await res.body?.cancel();
  return res.status;
}

/** IsAuthorized calls the control planes have served so far. */
export async function isAuthorizedCalls(controlPlanes: readonly ControlPlane[]): Promise<number> {
  let n = 0;
  for (const cp of controlPlanes) for (const v of (await cp.metrics.rpcRequests.get()).values) if (v.labels.method === "IsAuthorized") n += v.value;
  return n;
}

/** Runs a `weir` admin command against the stack as its owner (no state directory to fall back on). */
export async function weirAdmin(stack: Stack, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const proc = runWeir(args, { WEIR_CONTROL_PLANE_URL: stack.controlPlane.url, WEIR_ADMIN_TOKEN: stack.ownerToken, WEIR_DIR: "/nonexistent", ...env });
  const { code } = await proc.exited;
  return { code, out: proc.output() };
}

/** Processes whose command line names `path` (an embedded PostgreSQL's data directory), as `-D path` or `--pgdata=path`. */
export async function processesNaming(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\0").some((arg) => arg === path || arg.endsWith(`=${path}`))) found.push(`${pid}: ${cmdline.replaceAll("\0", " ")}`);
  }
  return found;
}
